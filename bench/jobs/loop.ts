import { setTimeout as delay } from 'node:timers/promises'
import { microsSince, Samples, type Throughput } from '../stats.js'

export interface LoopOptions {
  /** Calls in flight at once, each issued as soon as the one before it returned. */
  concurrency: number
  seconds: number
  /** Run unmeasured first, so connections, JIT and caches are warm. */
  warmupSeconds: number
}

/**
 * Drives `call` in a closed loop and measures a window of it. The first failure stops the loop and fails the
 * figure: a benchmark that quietly counts errors measures the wrong thing.
 */
export async function closedLoop (options: LoopOptions, call: () => Promise<void>): Promise<Throughput> {
  const samples = new Samples()
  let measuring = false
  let stopping = false
  let failure: unknown
  const stopped = new AbortController()
  const worker = async (): Promise<void> => {
    while (!stopping) {
      const start = process.hrtime.bigint()
      try {
        await call()
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
  const measureWindow = async (): Promise<number> => {
    await delay(options.warmupSeconds * 1000, undefined, { signal: stopped.signal })
    measuring = true
    const start = process.hrtime.bigint()
    await delay(options.seconds * 1000, undefined, { signal: stopped.signal })
    measuring = false
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
  return { rps: samples.count / seconds, completed: samples.count, failed: 0, seconds, latency: samples.summary() }
}

