import { nanoid } from 'nanoid'
import type { Batches } from './batches.js'
import type { Connection } from './connection.js'
import { hasCode, isSessionLost, SwitchRequestError } from './errors.js'
import { receive } from './deliveries.js'
import { createQueue, extendLease, send, subscribe, unsubscribe } from './operations.js'
import { messageBody } from './payload.js'
import type { Message, QueueInfo } from '../protocol/wire.js'
import { encodeName } from './connection.js'

/** Answers one request: the reply's payload. A throw becomes an error reply carrying the error's message. */
export type Handler = (request: Buffer, message: Message) => Promise<string | Uint8Array> | string | Uint8Array

/**
 * Processes one job of a work queue. Returning acks it; a throw gives its lease back, for another delivery
 * (counted towards the queue's maxDeliveries, after which it goes to the dead-letter queue).
 */
export type WorkHandler = (payload: Buffer, message: Message) => Promise<unknown> | unknown

export interface ServeOptions {
  /** Handlers running at once (default 1); no more requests are taken while all are busy. */
  concurrency?: number
  /** Aborting it stops the service like `stop()`. */
  signal?: AbortSignal
}

export interface ServeHandle {
  /** Stops taking requests, waits for the handlers running to reply, then resolves (as does `done`). */
  stop: () => Promise<void>
  /** Resolves once stopped; rejects if serving failed for good (e.g. the switch stayed unreachable). */
  done: Promise<void>
}

/** Re-logins tolerated while setting the queue up, before giving up. */
const SESSION_ATTEMPTS = 3

interface Job {
  readonly message: Message
  /** The session in which the message's id is known to name it: the one whose transfer delivered it last. */
  epoch: number
}

/** `serve` answers requests (creating the queue); `work` processes jobs of a work queue that exists. */
export type ServiceKind = 'serve' | 'work'

/**
 * Serves a queue: creates it, subscribes, receives its requests as the switch pushes them (or long-polls an
 * older switch) and runs the handler on each request, replying and
 * acking in one request. Processing is at-least-once: a request is acked only with its reply.
 */
export class Service implements ServeHandle {
  readonly done: Promise<void>
  private readonly concurrency: number
  private readonly stopping = new AbortController()
  /** Requests being handled, by id and time: a request delivered again after a re-login is not run twice. */
  private readonly jobs = new Map<string, Job>()
  private readonly running = new Set<Promise<void>>()
  private failure: unknown
  private wakeLoop: (() => void) | undefined
  /** Seconds of a delivery's lease, for a work queue: a handler running past half of it has its lease extended. */
  private lease: number | undefined

  constructor (
    private readonly connection: Connection,
    private readonly batches: Batches,
    private readonly queue: string,
    private readonly handler: Handler | WorkHandler,
    options: ServeOptions = {},
    private readonly kind: ServiceKind = 'serve'
  ) {
    const { concurrency = 1, signal } = options
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, not ${concurrency}`)
    this.concurrency = concurrency
    const onAbort = (): void => { this.halt() }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted === true) this.halt()
    this.done = this.run().finally(() => { signal?.removeEventListener('abort', onAbort) })
  }

  async stop (): Promise<void> {
    this.halt()
    await this.done.catch(() => {
      // stop() reports the end, `done` reports how it ended.
    })
  }

  private halt (): void {
    this.stopping.abort()
    this.wake()
  }

  private wake (): void {
    const wake = this.wakeLoop
    this.wakeLoop = undefined
    wake?.()
  }

  private async run (): Promise<void> {
    const signal = this.stopping.signal
    let epoch: number | undefined
    try {
      let cursor = 0
      while (!signal.aborted) {
        const session = await this.connection.ensureSession(signal)
        if (session.epoch !== epoch) {
          // A new session: ids are counted afresh (the switch may have restarted), and the queue may be gone.
          epoch = await this.setup()
          cursor = 0
        }
        if (this.jobs.size >= this.concurrency) {
          await new Promise<void>((resolve) => { this.wakeLoop = resolve })
          continue
        }
        try {
          // Pushed as they arrive, never more unacked than `concurrency` (acks ride on the replies), until the
          // answer ends (the switch went away): then opened again after the last one seen.
          const options = { queue: this.queue, after: cursor, credit: this.concurrency, max: this.concurrency - this.jobs.size, pin: epoch, signal }
          for await (const messages of receive(this.connection, options)) {
            if (messages.length === 0) continue
            for (const message of messages) {
              if (message.queue === this.queue) this.accept(message, epoch)
            }
            cursor = messages[messages.length - 1].id
          }
        } catch (error) {
          if (isSessionLost(error)) continue
          throw error
        }
      }
    } catch (error) {
      if (!signal.aborted) this.failure ??= error
    }
    await Promise.all(this.running)
    if (epoch !== undefined) {
      await unsubscribe(this.connection, this.queue, { pin: epoch, retry: false }).catch(() => {
        // Best effort: the subscription ends with the session anyway.
      })
    }
    if (this.failure !== undefined) throw this.failure
  }

  private async setup (): Promise<number> {
    const signal = this.stopping.signal
    for (let attempt = 1; ; attempt++) {
      const { epoch } = await this.connection.ensureSession(signal)
      try {
        if (this.kind === 'serve') await createQueue(this.connection, this.queue, { pin: epoch, signal })
        this.lease = await this.leaseSeconds(epoch)
        await subscribe(this.connection, this.queue, { pin: epoch, signal })
        return epoch
      } catch (error) {
        if (!isSessionLost(error) || attempt >= SESSION_ATTEMPTS) throw error
      }
    }
  }

  /** The queue's visibility timeout if it is a work queue; unknown (no extensions) to a principal that may not observe it. */
  private async leaseSeconds (epoch: number): Promise<number | undefined> {
    try {
      const info = await this.connection.request<QueueInfo>({ method: 'GET', path: `/queues/${encodeName(this.queue)}`, pin: epoch, signal: this.stopping.signal })
      return info.options?.mode === 'work' ? info.options.visibilityTimeout : undefined
    } catch (error) {
      if (hasCode(error, 'forbidden')) return undefined
      throw error
    }
  }

  private accept (message: Message, epoch: number): void {
    const key = `${message.id}@${message.time}`
    const known = this.jobs.get(key)
    if (known !== undefined) {
      // Delivered again in this session: its id is valid here, so its reply may ack it.
      known.epoch = epoch
      return
    }
    const job: Job = { message, epoch }
    this.jobs.set(key, job)
    const running: Promise<void> = this.handle(job)
      .then(async (giveBack) => {
        // Forgotten first: given back, it may be delivered again at once, and must then run again.
        this.jobs.delete(key)
        if (giveBack) await this.giveBack(job)
      })
      .catch((error: unknown) => {
        this.failure ??= error
        this.halt()
      })
      .finally(() => {
        this.jobs.delete(key)
        this.running.delete(running)
        this.wake()
      })
    this.running.add(running)
  }

  /** Runs the handler and replies (serve) or acks (work); true when a failed work job is to be given back. */
  private async handle (job: Job): Promise<boolean> {
    let reply: unknown
    let error = false
    const stopExtending = this.keepLeased(job)
    try {
      reply = await this.handler(messageBody(job.message), job.message)
    } catch (failure) {
      reply = failure instanceof Error ? failure.message : String(failure)
      error = true
    } finally {
      stopExtending()
    }
    if (this.kind === 'serve') await this.respond(job, reply as string | Uint8Array, error)
    else if (!error) await this.settle(async () => { await this.batches.ack(job.message.id, job.epoch) })
    return this.kind === 'work' && error
  }

  /**
   * On a work queue, extends the job's lease by the queue's visibility timeout each time half of it has gone,
   * while its handler runs: a slow job is not handed to another worker meanwhile. Returns what stops it.
   */
  private keepLeased (job: Job): () => void {
    const lease = this.lease
    if (lease === undefined) return () => {}
    const timer = setInterval(() => {
      extendLease(this.connection, job.message.id, lease, { pin: job.epoch, retry: false }).catch(() => {
        // Lost (it ran out, or the session went): the job finishes all the same, and its ack says if it still counts.
      })
    }, lease * 500)
    timer.unref()
    return () => { clearInterval(timer) }
  }

  /** A failed work job's lease given back, for another delivery. */
  private async giveBack (job: Job): Promise<void> {
    await this.settle(async () => { await extendLease(this.connection, job.message.id, 0, { pin: job.epoch, retry: false }) })
  }

  /** An ack or a give-back of a work job, where a job that is no longer ours is no failure. */
  private async settle (step: () => Promise<void>): Promise<void> {
    try {
      await step()
    } catch (failure) {
      // Gone (acked by a worker it was redelivered to, or moved aside), or not ours any more: its lease ran out.
      if (isSessionLost(failure) || hasCode(failure, 'message_not_found') || hasCode(failure, 'not_leased')) return
      throw failure
    }
  }

  /** Replies and acks in one request, falling back to what is still possible when the request or caller is gone. */
  private async respond (job: Job, reply: string | Uint8Array, error: boolean): Promise<void> {
    const { message } = job
    const { replyTo, correlationId, id } = message
    const idempotencyKey = nanoid()
    for (;;) {
      const epoch = job.epoch
      try {
        // Batched with the other handlers' replies and acks (see Batches). A reply whose caller is gone is
        // answered ReplyDropped: the switch acked the request, so it is done all the same.
        if (replyTo === undefined) await this.batches.ack(id, epoch)
        else await this.batches.send({ queue: replyTo, body: reply, ack: id, correlationId, error, idempotencyKey, pin: epoch })
        return
      } catch (failure) {
        if (isSessionLost(failure)) {
          if (job.epoch !== epoch) continue
          // The session that delivered the request is gone, and with it the proof that its id still names it:
          // a switch restarted in memory numbers messages from 1 again. Reply without the ack; if the request
          // survived, it is delivered again and answered again, and the caller drops the second reply.
          if (replyTo !== undefined) await this.replyOnly(replyTo, reply, { correlationId, error, idempotencyKey })
          return
        }
        // Already acked: another server on this queue answered it.
        if (hasCode(failure, 'message_not_found')) return
        if (hasCode(failure, 'queue_not_found')) {
          // The caller's reply queue is gone and the switch did not ack the request (one that predates
          // ReplyDropped, or the request is gone too): it is done all the same.
          await this.batches.ack(id, epoch).catch(() => {})
          return
        }
        if (failure instanceof SwitchRequestError && !error) {
          // The switch refused the reply (too large, say): tell the caller rather than leave it waiting.
          reply = `the reply could not be sent: ${failure.message}`
          error = true
          continue
        }
        throw failure
      }
    }
  }

  private async replyOnly (replyTo: string, reply: string | Uint8Array, options: { correlationId?: string, error: boolean, idempotencyKey: string }): Promise<void> {
    try {
      await send(this.connection, replyTo, reply, options)
    } catch (failure) {
      if (!hasCode(failure, 'queue_not_found')) throw failure
    }
  }
}
