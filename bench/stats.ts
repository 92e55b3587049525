/** Latency figures in microseconds. */
export interface LatencySummary {
  count: number
  p50: number
  p99: number
  mean: number
}

/** Requests (or round trips) per second over a measured window, with their latencies. */
export interface Throughput {
  rps: number
  /** Completed and successful within the window. */
  completed: number
  /** Failed requests (errors, non-2xx) within the window: a figure with failures is suspect. */
  failed: number
  seconds: number
  latency: LatencySummary
  /** CPU microseconds each of the loop's `cpuPids` used over the window. */
  cpu?: number[]
}

/**
 * Raw latency samples, kept whole so percentiles are exact: a run records at most a few million, a few MB.
 * (autocannon's own histogram counts whole milliseconds, too coarse for sub-millisecond exchanges.)
 */
export class Samples {
  private values = new Float64Array(1024)
  private size = 0

  get count (): number {
    return this.size
  }

  add (microseconds: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.size++] = microseconds
  }

  summary (): LatencySummary {
    const sorted = this.values.slice(0, this.size).sort()
    let total = 0
    for (const value of sorted) total += value
    return {
      count: this.size,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      mean: this.size === 0 ? NaN : total / this.size
    }
  }
}

/** Nearest-rank percentile of sorted values; NaN when there are none. */
export function percentile (sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Microseconds elapsed since `start` (from `process.hrtime.bigint()`). */
export function microsSince (start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000
}
