import type { Histogram, Registry } from 'prom-client'
import type { Distribution } from '../core/observe.js'

type Labels = Record<string, string>

interface Value {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

/**
 * A Prometheus histogram whose counts are kept in Distributions (one per label set) and read only when scraped.
 * prom-client's registry takes any metric that answers `get()` with its values; its own Histogram is not used
 * because observing into it costs far more than the requests it would time (see Distribution).
 */
class DistributionMetric {
  readonly type = 'histogram'
  readonly aggregator = 'sum'

  constructor (
    readonly name: string,
    readonly help: string,
    private readonly series: () => Iterable<{ labels: Labels, distribution: Distribution }>
  ) {}

  async get (): Promise<{ name: string, help: string, type: string, aggregator: string, values: Value[] }> {
    const values: Value[] = []
    for (const { labels, distribution } of this.series()) {
      let cumulative = 0
      distribution.bounds.forEach((bound, i) => {
        cumulative += distribution.counts[i]
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: bound }, value: cumulative })
      })
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: distribution.count })
      values.push({ metricName: `${this.name}_sum`, labels, value: distribution.sum })
      values.push({ metricName: `${this.name}_count`, labels, value: distribution.count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Counts are the source's, never reset by the registry. */
  reset (): void {}
}

/** Registers a histogram read from `series` at each scrape. */
export function registerDistributions (
  registry: Registry, name: string, help: string, series: () => Iterable<{ labels: Labels, distribution: Distribution }>
): void {
  // The registry's type names its own four metric classes; at run time it asks only for name, help, type and get().
  registry.registerMetric(new DistributionMetric(name, help, series) as unknown as Histogram)
}
