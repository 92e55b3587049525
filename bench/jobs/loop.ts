import { setTimeout as delay } from 'node:timers/promises'
import { cpuMicros } from '../cpu.js'
import { microsSince, Samples, type Throughput } from '../stats.js'

export interface LoopOptions {
  /** Calls in flight at once, each issued as soon as the one before it returned. */
  concurrency: number
  seconds: number
  /** Run unmeasured first, so connections, JIT and caches are warm. */
  warmupSeconds: number
  /** Processes whose CPU time over the measured window is reported (`cpu`, in this order). */
  cpuPids?: number[]
}

/**
 * Drives `call` in a closed loop and measures a window of it. The first failure stops the loop and fails the
 * figure: a benchmark that quietly counts errors measures the wrong thing.
 */
export async function closedLoop (options: LoopOptions, call: (worker: number) => Promise<void>): Promise<Throughput> {
  const samples = new Samples()
  let measuring = false
  let stopping = false
  let failure: unknown
  const stopped = new AbortController()
  const worker = async (_: unknown, index: number): Promise<void> => {
    while (!stopping) {
      const start = process.hrtime.bigint()
      try {
        await call(index)
      } catch (error) {
        failure ??= error
        stopping = true
        stopped.abort()
        return
      }
      if (measuring) samples.add(microsSince(start))
    }
  }
  const workers = Array.from({ length: options.concurrency }, worker)
  const pids = options.cpuPids ?? []
  let cpu: number[] | undefined
  const measureWindow = async (): Promise<number> => {
    await delay(options.warmupSeconds * 1000, undefined, { signal: stopped.signal })
    measuring = true
    const cpuBefore = pids.map(cpuMicros)
    const start = process.hrtime.bigint()
    await delay(options.seconds * 1000, undefined, { signal: stopped.signal })
    measuring = false
    cpu = pids.map((pid, i) => cpuMicros(pid) - cpuBefore[i])
    return microsSince(start) / 1e6
  }
  let seconds = 0
  try {
    seconds = await measureWindow()
  } catch {
    // Aborted by a failing call: reported below.
  }
  stopping = true
  await Promise.all(workers)
  if (failure !== undefined) throw failure
  return { rps: samples.count / seconds, completed: samples.count, failed: 0, seconds, latency: samples.summary(), ...(cpu === undefined ? {} : { cpu }) }
}

