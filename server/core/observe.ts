import type { DiagnosticsLimits, TraceEventType } from '../../protocol/wire.js'

/**
 * Upper bounds, in seconds, of the buckets latencies are counted in: from 100 µs (an in-memory exchange) to 10 s
 * (a disk that stalls). Prometheus adds +Inf.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
]

/**
 * Observations counted into fixed buckets, for a histogram read at scrape time. Observing allocates nothing and
 * costs a few comparisons: it runs on the hot path (prom-client's own labelled observe costs ~0.8 µs and
 * allocates, more than this whole count by far).
 */
export class Distribution {
  /** counts[i]: observations in bucket i alone (not cumulative); the last is those above every bound. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor (readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (value: number): void {
    const { bounds } = this
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    this.counts[i]++
    this.sum += value
    this.count++
  }
}

/** Counts of what became durable, kept by the trace (each is an event it records), and the core's latencies. */
export class Tally {
  /** Trace events recorded, by type: `send` counts every message put in a queue, by a send or a publish. */
  readonly events: Record<TraceEventType, number> = {
    send: 0, deliver: 0, ack: 0, create: 0, destroy: 0, login: 0, session_end: 0, drop: 0, dead_letter: 0
  }

  /** Of the `send` events, the copies a publish (or a new binding's retained messages) put in queues. */
  published = 0
  /** Seconds from a store write to its being durable; stores that commit synchronously (memory) add none. */
  readonly commits = new Distribution()
  /**
   * Seconds from a request's send to the reply that acks it (a send with `ack`), in the switch's clock
   * (milliseconds): the time a service took to answer, switch included; not the reply's way back to the caller.
   */
  readonly replies = new Distribution()
}

/** One queue's depth (durable unacked messages) and the long-polls and streams waiting on it. */
export interface QueueDepth {
  name: string
  depth: number
  waiting: number
}

/** What the switch holds now, cheaply: counts kept anyway and one pass over the queues, no message read. */
export interface Observation {
  /** The `limit` deepest queues, deepest first (ties by name), and how many queues there are in all. */
  queues: QueueDepth[]
  queueCount: number
  sessions: number
  /** Long-polls (and streams between batches) waiting, over all sessions. */
  waiting: number
  limits: DiagnosticsLimits
  tally: Tally
}
