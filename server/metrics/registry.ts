import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { DiagnosticsLimits } from '../../protocol/wire.js'
import type { Observation } from '../core/observe.js'
import { registerDistributions } from './distribution-metric.js'
import type { HttpFigures, StreamKind } from './http-figures.js'

/**
 * Queues shown one by one (depth, waiting), the deepest first: each is a series Prometheus keeps, so a switch with
 * 100,000 queues must not make 100,000 of them. `switch_queues` counts them all.
 */
export const MAX_QUEUE_SERIES = 200

/** What a scrape reads: the core's figures and the HTTP server's, each read when it asks. */
export interface MetricsSources {
  observe: () => Observation
  http: HttpFigures
  /** Every limit against its use, as /v1/diagnostics reports them (the connection limits included). */
  limits: (core: DiagnosticsLimits) => Promise<DiagnosticsLimits>
}

/**
 * The switch's Prometheus metrics, in a registry of its own (never prom-client's global one: one process may run
 * several switches). Nothing here runs between scrapes: every value is read from its source when scraped.
 */
export class SwitchMetrics {
  private readonly registry = new Registry()
  /**
   * What the latest scrape read, once, for every metric that needs it. (Kept afterwards: two scrapes at once may
   * both read the newer one, which is as true.)
   */
  private current: { observation: Observation, limits: DiagnosticsLimits } | undefined

  constructor (private readonly sources: MetricsSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    const read = (): { observation: Observation, limits: DiagnosticsLimits } => {
      if (this.current === undefined) throw new Error('metrics read outside a scrape')
      return this.current
    }
    const seen = (): Observation => read().observation
    const counter = (name: string, help: string, value: (observation: Observation) => number): void => {
      new Counter({
        name, help, registers,
        collect () { this.reset(); this.inc(value(seen())) }
      })
    }
    const gauge = (name: string, help: string, value: (observation: Observation) => number): void => {
      new Gauge({ name, help, registers, collect () { this.set(value(seen())) } })
    }

    counter('switch_messages_sent_total', 'Messages put in a queue by a send, once durable.', (o) => o.tally.events.send - o.tally.published)
    counter('switch_messages_published_total', 'Copies of published messages put in bound queues (retained ones a new binding received included), once durable.', (o) => o.tally.published)
    counter('switch_messages_delivered_total', 'Messages handed to a receiver (a transfer, a stream); a message delivered again counts again.', (o) => o.tally.events.deliver)
    counter('switch_messages_acked_total', 'Messages acked (by an ack, or by a reply that acks its request), once durable.', (o) => o.tally.events.ack)
    counter('switch_messages_dropped_total', 'Messages dropped: sent by an original-protocol client to a queue that does not exist, replies to a caller that is gone, or work expired or failed too often with no dead-letter queue.', (o) => o.tally.events.drop)
    counter('switch_messages_dead_lettered_total', 'Messages moved to their queue\'s dead-letter queue (expired, or delivered maxDeliveries times without an ack).', (o) => o.tally.events.dead_letter)
    counter('switch_logins_total', 'Sessions started.', (o) => o.tally.events.login)
    gauge('switch_sessions', 'Sessions open.', (o) => o.sessions)
    gauge('switch_queues', 'Queues, persistent and temporary (all of them, however many switch_queue_depth lists).', (o) => o.queueCount)
    gauge('switch_long_polls_waiting', 'Long-polls waiting for a message (and streams waiting between batches), over all sessions.', (o) => o.waiting)

    const perQueue = (name: string, help: string, value: (queue: Observation['queues'][number]) => number): void => {
      new Gauge({
        name, help, registers, labelNames: ['queue'],
        collect () {
          this.reset()
          for (const queue of seen().queues) this.set({ queue: queue.name }, value(queue))
        }
      })
    }
    perQueue('switch_queue_depth', `Unacked messages in a queue; the ${MAX_QUEUE_SERIES} deepest queues only.`, (queue) => queue.depth)
    perQueue('switch_queue_waiting', `Long-polls and streams waiting on a queue (its services listening); for the queues switch_queue_depth lists.`, (queue) => queue.waiting)

    const limits = (name: string, help: string, value: (usage: DiagnosticsLimits[keyof DiagnosticsLimits]) => number | undefined): void => {
      new Gauge({
        name, help, registers, labelNames: ['limit'],
        collect () {
          this.reset()
          for (const [limit, usage] of Object.entries(read().limits)) {
            const figure = value(usage)
            if (figure !== undefined) this.set({ limit }, figure)
          }
        }
      })
    }
    limits('switch_limit', 'Each limit of GET /v1/diagnostics (bytes, counts; timeout in seconds).', (usage) => usage?.limit)
    limits('switch_limit_used', 'How much of each limit is in use now, for the limits on what the switch holds (the fullest session or queue for the per-session and per-queue ones).', (usage) => usage?.used)

    const { http } = sources
    new Gauge({
      name: 'switch_streams_open', help: 'Streamed answers open: events (GET /v1/stream, Server-Sent Events), deliveries (GET /v1/deliveries) and sockets (GET /v1/socket).', registers, labelNames: ['kind'],
      collect () {
        for (const kind of Object.keys(http.streams) as StreamKind[]) this.set({ kind }, http.streams[kind])
      }
    })
    new Counter({
      name: 'switch_http_errors_total', help: 'Error answers, by route (its URL pattern; "none" when no route matched), method and error code.', registers, labelNames: ['route', 'method', 'code'],
      collect () {
        this.reset()
        for (const { route, method, code, count } of http.errors.values()) this.inc({ route, method, code }, count)
      }
    })
    registerDistributions(this.registry, 'switch_http_request_duration_seconds',
      'Time from a request\'s arrival to its answer being sent, by route and method (a long-poll\'s wait included; streams are not timed).',
      // Only the routes that have answered: a switch has some 80 routes, most of which a deployment never calls.
      () => http.routes.filter(({ seconds }) => seconds.count > 0).map(({ route, method, seconds }) => ({ labels: { route, method }, distribution: seconds })))
    registerDistributions(this.registry, 'switch_rpc_duration_seconds',
      'Time from a request\'s send to the reply that acks it (a send with ack), in the switch\'s clock (millisecond steps): the service\'s time to answer, the switch included; not the reply\'s way back to the caller.',
      () => [{ labels: {}, distribution: seen().tally.replies }])
    registerDistributions(this.registry, 'switch_commit_duration_seconds',
      'Time from a store write to its being durable (with --data-dir; the memory store commits at once and adds nothing).',
      () => [{ labels: {}, distribution: seen().tally.commits }])
  }

  get contentType (): string {
    return this.registry.contentType
  }

  /** The metrics as Prometheus text. */
  async scrape (): Promise<string> {
    const observation = this.sources.observe()
    this.current = { observation, limits: await this.sources.limits(observation.limits) }
    return await this.registry.metrics()
  }
}
