import { setMaxListeners } from 'node:events'
import { nanoid } from 'nanoid'
import type { Batches } from './batches.js'
import type { Connection } from './connection.js'
import { AbortError, ClientClosedError, hasCode, isSessionLost, RemoteError, RpcTimeoutError } from './errors.js'
import { receive } from './deliveries.js'
import { createQueue, createTemporaryQueue, subscribe, type RequestOptions } from './operations.js'
import { messageBody } from './payload.js'
import type { Message } from '../protocol/wire.js'
import { linkSignals, raceAbort } from './signals.js'

export interface RpcOptions extends RequestOptions {
  /** Seconds to wait for the reply (default 30), counted from the call, connection retries included. */
  timeout?: number
}

export const DEFAULT_RPC_TIMEOUT = 30
/**
 * Replies the switch may push ahead of their acks: well above ACKS_PER_REQUEST, so that held acks never stall
 * the replies of calls still waiting.
 */
const REPLY_CREDIT = 1024
/** How long the reply loop keeps polling after the last call settled: back-to-back calls share one poll. */
const LINGER_MS = 1000
/** Node's timers overflow beyond this (about 24.8 days) and would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** Re-logins tolerated while setting one thing up, before giving up. */
const SESSION_ATTEMPTS = 3
/**
 * Reply acks held back to go in one request. The reply queue is this client's own and read by cursor, so an
 * ack only frees room: up to this many replies wait for theirs while calls keep coming.
 */
const ACKS_PER_REQUEST = 32

interface Call {
  readonly queue: string
  readonly body: string | Uint8Array
  /** The session epoch whose reply queue the request was last sent with; undefined until then. */
  sentIn: number | undefined
  readonly settle: (error: Error | undefined, reply?: Buffer) => void
}

interface ReplyQueue {
  name: string
  epoch: number
}

const aborted = (): Error => new AbortError()

/**
 * RPC over one temporary reply queue per client: each call gets a correlation id, and ONE delivery stream (or,
 * from an older switch, one long-poll loop) on the reply queue serves every call in flight.
 *
 * At-least-once: a new session (expired lease, or a switch restarted in memory) has lost the temporary reply
 * queue, so every call still waiting is sent again, with the same correlation id, to a new reply queue. A
 * service may then see a request twice; the first reply settles the call and later ones are acked and dropped.
 */
export class RpcEngine {
  private readonly calls = new Map<string, Call>()
  private reply: ReplyQueue | undefined
  private replySetup: Promise<ReplyQueue> | undefined
  /** Service queues created in which session: createQueue once per name and session, shared by concurrent calls. */
  private readonly serviceQueues = new Map<string, { epoch: number, ready: Promise<unknown> }>()
  private loop: { stop: AbortController, done: Promise<void> } | undefined
  private linger: NodeJS.Timeout | undefined
  private readonly acks = new Set<Promise<void>>()
  /** Replies delivered and not acked yet (see ACKS_PER_REQUEST). */
  private heldAcks: Array<{ id: number, epoch: number }> = []
  private idleCheck = false
  private lingerWhenIdle = false
  private readonly closing = new AbortController()

  constructor (private readonly connection: Connection, private readonly batches: Batches) {
    // Every call waiting for the reply queue's setup listens for the close.
    setMaxListeners(0, this.closing.signal)
  }

  async call (queue: string, body: string | Uint8Array, options: RpcOptions = {}): Promise<Buffer> {
    const { signal, timeout = DEFAULT_RPC_TIMEOUT } = options
    if (this.closing.signal.aborted) throw new ClientClosedError()
    if (signal?.aborted === true) throw new AbortError()
    const correlationId = nanoid()
    return await new Promise<Buffer>((resolve, reject) => {
      const onAbort = (): void => { call.settle(new AbortError('the rpc was aborted')) }
      const timer = setTimeout(() => { call.settle(new RpcTimeoutError(queue, timeout)) }, Math.min(timeout * 1000, MAX_TIMER_MS))
      const call: Call = {
        queue,
        body,
        sentIn: undefined,
        settle: (error, reply) => {
          if (this.calls.get(correlationId) !== call) return
          this.calls.delete(correlationId)
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          if (this.calls.size === 0) this.whenIdle(true)
          if (error !== undefined) reject(error)
          else resolve(reply ?? Buffer.alloc(0))
        }
      }
      this.calls.set(correlationId, call)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.startLoop()
      this.dispatch(correlationId, call)
    })
  }

  /** Rejects the calls still waiting, stops the reply loop and waits for it and for the reply acks. */
  async close (): Promise<void> {
    this.closing.abort()
    for (const call of [...this.calls.values()]) call.settle(new ClientClosedError())
    clearTimeout(this.linger)
    await this.loop?.done
    this.releaseAcks()
    await Promise.all(this.acks)
  }

  private dispatch (correlationId: string, call: Call): void {
    this.send(correlationId, call).catch((error: Error) => { call.settle(error) })
  }

  /**
   * Sends the request to the current reply queue, unless it was already sent there. The setup it waits for is
   * shared and ends by itself (or with the client), so a call settled meanwhile just sends nothing afterwards;
   * a request already on its way is left to its fate (a late reply is acked and dropped).
   */
  private async send (correlationId: string, call: Call): Promise<void> {
    const pending = (): boolean => this.calls.get(correlationId) === call
    for (let attempt = 1; pending(); attempt++) {
      const reply = await this.replyQueue()
      if (call.sentIn === reply.epoch) return
      call.sentIn = reply.epoch
      try {
        // Creating the service queue lets a call made before its server starts wait for it.
        await this.serviceQueue(call.queue, reply.epoch)
        if (!pending()) return
        // Batched with the other calls' requests (see Batches).
        await this.batches.send({
          queue: call.queue, body: call.body, replyTo: reply.name, correlationId, pin: reply.epoch, idempotencyKey: nanoid()
        })
        return
      } catch (error) {
        if (call.sentIn === reply.epoch) call.sentIn = undefined
        const queueGone = hasCode(error, 'queue_not_found')
        if (queueGone) this.serviceQueues.delete(call.queue)
        if ((!queueGone && !isSessionLost(error)) || attempt >= SESSION_ATTEMPTS) throw error
      }
    }
  }

  private async replyQueue (): Promise<ReplyQueue> {
    const { epoch } = await this.connection.ensureSession(this.closing.signal)
    if (this.reply?.epoch === epoch) return this.reply
    this.replySetup ??= this.createReplyQueue().finally(() => { this.replySetup = undefined })
    return await this.replySetup
  }

  private async createReplyQueue (): Promise<ReplyQueue> {
    const signal = this.closing.signal
    for (let attempt = 1; ; attempt++) {
      const { epoch } = await this.connection.ensureSession(signal)
      try {
        const { name } = await createTemporaryQueue(this.connection, { pin: epoch, signal })
        await subscribe(this.connection, name, { pin: epoch, signal })
        this.reply = { name, epoch }
        return this.reply
      } catch (error) {
        if (!isSessionLost(error) || attempt >= SESSION_ATTEMPTS) throw error
      }
    }
  }

  private async serviceQueue (queue: string, epoch: number): Promise<unknown> {
    const known = this.serviceQueues.get(queue)
    if (known?.epoch === epoch) return await known.ready
    const ready = createQueue(this.connection, queue, { pin: epoch, signal: this.closing.signal })
    this.serviceQueues.set(queue, { epoch, ready })
    ready.catch(() => {
      if (this.serviceQueues.get(queue)?.ready === ready) this.serviceQueues.delete(queue)
    })
    return await ready
  }

  private startLoop (): void {
    clearTimeout(this.linger)
    this.linger = undefined
    if (this.loop !== undefined && !this.loop.stop.signal.aborted) return
    // A loop that is winding down is let finish first: never two polls on the reply queue.
    const previous = this.loop?.done ?? Promise.resolve()
    const stop = new AbortController()
    const done = previous
      .then(async () => { await this.poll(stop.signal) })
      .catch((error: Error) => { for (const call of [...this.calls.values()]) call.settle(error) })
      .finally(() => { stop.abort() })
    this.loop = { stop, done }
  }

  private armLinger (): void {
    clearTimeout(this.linger)
    const loop = this.loop
    this.linger = setTimeout(() => { loop?.stop.abort() }, LINGER_MS)
    this.linger.unref()
  }

  private async poll (stopSignal: AbortSignal): Promise<void> {
    const { signal, dispose } = linkSignals(stopSignal, this.closing.signal)
    try {
      let epoch: number | undefined
      let cursor = 0
      while (!signal.aborted) {
        let reply: ReplyQueue
        try {
          reply = await raceAbort(this.replyQueue(), signal, aborted)
          if (reply.epoch !== epoch) {
            // A new session: a new reply queue, ids counted afresh (the switch may have restarted), requests resent.
            epoch = reply.epoch
            cursor = 0
            for (const [correlationId, call] of this.calls) {
              if (call.sentIn !== epoch) this.dispatch(correlationId, call)
            }
          }
          // Replies pushed as they arrive, until the answer ends (the switch went away): then opened again.
          for await (const messages of receive(this.connection, { queue: reply.name, after: cursor, credit: REPLY_CREDIT, pin: reply.epoch, signal })) {
            if (messages.length === 0) continue
            for (const message of messages) {
              if (message.queue === reply.name) this.deliver(message, reply.epoch)
            }
            cursor = messages[messages.length - 1].id
          }
        } catch (error) {
          if (signal.aborted) return
          if (isSessionLost(error)) continue
          throw error
        }
      }
    } finally {
      dispose()
    }
  }

  private deliver (message: Message, epoch: number): void {
    this.heldAcks.push({ id: message.id, epoch })
    if (this.heldAcks.length >= ACKS_PER_REQUEST) this.releaseAcks()
    // Unknown correlation ids are late replies (the call timed out or was aborted) or duplicates.
    const call = this.calls.get(message.correlationId ?? '')
    if (call === undefined) {
      if (this.calls.size === 0) this.whenIdle(false)
      return
    }
    const body = messageBody(message)
    call.settle(message.error === true ? new RemoteError(call.queue, body.toString('utf8')) : undefined, body)
  }

  /**
   * Once this turn of the event loop is over, if no call is waiting then: acks the held replies (a caller that
   * stopped calling has no later acks to share a request with) and, after the last call settled, lets the reply
   * loop linger. One that calls again at once keeps holding, and costs no timer per call.
   */
  private whenIdle (linger: boolean): void {
    if (linger) this.lingerWhenIdle = true
    if (this.idleCheck) return
    this.idleCheck = true
    setImmediate(() => {
      this.idleCheck = false
      const lingering = this.lingerWhenIdle
      this.lingerWhenIdle = false
      if (this.calls.size > 0) return
      if (lingering) this.armLinger()
      this.releaseAcks()
    })
  }

  private releaseAcks (): void {
    const held = this.heldAcks
    this.heldAcks = []
    for (const { id, epoch } of held) this.ackReply(id, epoch)
  }

  /** Fire and forget: the caller does not wait for the ack. */
  private ackReply (id: number, epoch: number): void {
    const pending: Promise<void> = this.batches.ack(id, epoch)
      .catch(() => {
        // The reply queue is this client's own: an unacked reply only takes room until the session ends.
      })
      .finally(() => { this.acks.delete(pending) })
    this.acks.add(pending)
  }
}
