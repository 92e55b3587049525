import type { FastifyBaseLogger } from 'fastify'
import {
  SOCKET_CLOSE_PROTOCOL,
  SOCKET_CLOSE_SESSION_ENDED,
  SOCKET_MAX_BATCH,
  SOCKET_MAX_DELIVERIES,
  SOCKET_MAX_PENDING,
  type SocketAnswer,
  type SocketDeliverRequest,
  type SocketRequest
} from '../../protocol/socket.js'
import type { AccessPolicy } from '../auth/access.js'
import { SwitchError } from '../core/errors.js'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'
import type { WaitSignal } from '../core/waiter.js'
import { applyAcks, applySends } from './batch-items.js'
import { Delivery, type DeliveryEnd } from './delivery-loop.js'
import { errorBody } from './errors.js'
import type { FrameHandlers, FrameLink } from './frame-link.js'
import { QuietSends } from './quiet-sends.js'
import { isRequest, readFrame } from './socket-frames.js'

/** Bytes queued for a slow client beyond which a delivery waits before pushing more. */
const HIGH_WATER = 1024 * 1024

/** A delivery of the socket, stopped by `cancel`, by the socket closing, or by the switch. */
class DeliverySignal implements WaitSignal {
  aborted = false
  private readonly listeners = new Set<() => void>()

  addEventListener (_type: 'abort', listener: () => void): void { this.listeners.add(listener) }
  removeEventListener (_type: 'abort', listener: () => void): void { this.listeners.delete(listener) }

  abort (): void {
    if (this.aborted) return
    this.aborted = true
    for (const listener of [...this.listeners]) listener()
  }
}

export interface ChannelOptions {
  heartbeat: number
  log: FastifyBaseLogger
  /** Told when the channel has closed, to forget it. */
  onClose: (channel: SocketChannel) => void
  /** Told when the channel has a `done` to tell: it is told alone unless a push carries it first. */
  untold: (channel: SocketChannel) => void
}

/**
 * One client's socket, whatever its framing (see FrameLink): each request frame is applied as the HTTP request
 * it stands for would be (same checks, same core calls) in the session that opened the socket, and answered by a
 * frame with its `id`. Deliveries push as `GET /v1/deliveries` does. Beyond SOCKET_MAX_PENDING unanswered
 * requests the switch stops reading the socket until answers go out, so a client that floods it is slowed, not
 * buffered for.
 */
export class SocketChannel {
  /** Answered a ping (or sent anything) since the last heartbeat: a silent peer is cut off at the next one. */
  alive = true
  private pending = 0
  private paused = false
  private draining = false
  /** Closed, or closing: no more requests are read. */
  private closing = false
  /** The switch is stopping: the socket closes (1001) once the requests taken are answered. */
  private stopping = false
  private readonly deliveries = new Map<number, DeliverySignal>()
  private corked = false
  private readonly quiet = new QuietSends()

  private readonly link: FrameLink

  constructor (
    linked: (handlers: FrameHandlers) => FrameLink,
    private readonly core: Switch,
    private readonly policy: AccessPolicy,
    private readonly session: Session,
    private readonly options: ChannelOptions
  ) {
    this.link = linked({
      frame: (text) => { this.receive(text) },
      alive: () => { this.alive = true },
      closed: () => { this.closed() }
    })
  }

  /** Heartbeat: ping, or cut off a peer that did not answer the previous one. */
  beat (): void {
    if (!this.alive) {
      this.link.terminate()
      return
    }
    this.alive = false
    this.link.ping()
  }

  /** The switch is stopping: no new requests are read; the socket closes once those taken are answered. */
  shutdown (): void {
    this.stopping = true
    this.closing = true
    this.pause()
    for (const delivery of this.deliveries.values()) delivery.abort()
    this.closeWhenAnswered()
  }

  /** The shutdown's grace is over: the socket goes now. */
  terminate (): void {
    this.link.terminate()
  }

  private receive (text: string): void {
    if (this.closing) return
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      this.close(SOCKET_CLOSE_PROTOCOL, 'a frame is not valid JSON')
      return
    }
    if (!Array.isArray(value)) {
      this.take(value)
      return
    }
    if (value.length === 0 || value.length > SOCKET_MAX_BATCH) {
      this.close(SOCKET_CLOSE_PROTOCOL, `a frame holds one request, or an array of 1 to ${SOCKET_MAX_BATCH}`)
      return
    }
    for (const request of value) {
      if (this.closing) return
      this.take(request)
    }
  }

  /** One request, as if it had come in a frame of its own. */
  private take (value: unknown): void {
    const frame = readFrame(value)
    if (!isRequest(frame)) {
      // An id to answer to: the request is refused as its HTTP twin would be; without one, nothing can be answered.
      const id = (value as { id?: unknown } | null)?.id
      if (Number.isSafeInteger(id)) this.send({ id: id as number, ...errorBody('invalid_request', frame.message, frame.field) })
      else this.close(SOCKET_CLOSE_PROTOCOL, frame.message)
      return
    }
    if (frame.op === 'cancel') {
      this.deliveries.get(frame.id)?.abort()
      return
    }
    // Each request holds (and refreshes) the session's lease while in hand, as an HTTP request does.
    if (!this.hold()) return
    this.pending++
    if (this.pending >= SOCKET_MAX_PENDING) this.pause()
    const quiet = frame.op === 'send' && frame.quiet === true
    if (quiet) this.quiet.taken(frame.id)
    this.apply(frame).then(
      (answer) => {
        // A quiet send that went through is confirmed by `done`, not answered.
        const silent = quiet && answer !== undefined && 'results' in answer && answer.results.every((result) => !('error' in result))
        this.answered(silent ? undefined : answer, quiet ? frame.id : undefined)
      },
      (error: unknown) => { this.answered(this.failure(frame.id, error), quiet ? frame.id : undefined) }
    )
  }

  /** Its answer (none for a delivery: its frames are its pushes). Not an async function, for the turns it saves. */
  private apply (frame: Exclude<SocketRequest, { op: 'cancel' }>): Promise<SocketAnswer | undefined> {
    const { core, policy, session } = this
    try {
      if (policy.enabled) policy.checkKnown(session.principal)
      switch (frame.op) {
        case 'send':
          return applySends(policy, core, session, frame.messages, frame.quiet !== true).then((results) => ({ id: frame.id, results }))
        case 'ack':
          return applyAcks(policy, core, session, frame.ids).then((acks) => ({ id: frame.id, ...acks }))
        case 'deliver':
          this.startDelivery(frame)
          return Promise.resolve(undefined)
      }
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private startDelivery (frame: SocketDeliverRequest): void {
    const { core, policy, session } = this
    const { id, queue, after = 0, credit = 1 } = frame
    if (this.deliveries.has(id)) throw new SwitchError('invalid_request', `a delivery with id ${id} is running on this socket`, 'id')
    if (this.deliveries.size >= SOCKET_MAX_DELIVERIES) {
      throw new SwitchError('limit_exceeded', `${SOCKET_MAX_DELIVERIES} deliveries are running on this socket: cancel one first`)
    }
    // What GET /v1/deliveries's access hook checks; the rest, Delivery does.
    if (policy.enabled) policy.check(session.principal, 'receive', { queue })
    const signal = new DeliverySignal()
    const delivery = new Delivery(core, session, { after, credit, queue, heartbeat: this.options.heartbeat, signal })
    // A running delivery keeps the session alive, as an open GET /v1/deliveries does.
    core.enter(session.token)
    this.deliveries.set(id, signal)
    const outlet = {
      push: (messages: string[]) => this.sendText(this.pushFrame(id, messages)),
      // The socket's own pings show the peer is there: an idle delivery writes nothing.
      idle: () => undefined
    }
    delivery.run(outlet).then(
      (end) => { this.deliveryEnded(id, end) },
      (error: unknown) => {
        this.options.log.error({ err: error }, 'socket delivery failed')
        this.deliveryEnded(id, new SwitchError('internal', 'internal error'))
      }
    )
  }

  private deliveryEnded (id: number, end: DeliveryEnd): void {
    this.deliveries.delete(id)
    this.core.leave(this.session)
    if (end === 'session_ended') {
      this.close(SOCKET_CLOSE_SESSION_ENDED, 'the session ended: log in again')
    } else if (end === 'aborted' || end === 'shutting_down') {
      this.send({ id, ended: true })
    } else {
      this.send({ id, ...errorBody(end.code, end.message, end.field) })
    }
    if (this.stopping) this.closeWhenAnswered()
  }

  private failure (id: number, error: unknown): SocketAnswer {
    if (error instanceof SwitchError) return { id, ...errorBody(error.code, error.message, error.field) }
    this.options.log.error({ err: error }, 'socket request failed')
    return { id, ...errorBody('internal', 'internal error') }
  }

  /** Takes the session's lease; false (and the socket closed) if the session is gone. */
  private hold (): boolean {
    try {
      this.core.enter(this.session.token)
      return true
    } catch {
      this.close(SOCKET_CLOSE_SESSION_ENDED, 'the session ended: log in again')
      return false
    }
  }

  private answered (answer: SocketAnswer | undefined, quietId: number | undefined): void {
    this.core.leave(this.session)
    this.pending--
    if (answer !== undefined) this.send(answer)
    if (quietId !== undefined) this.finishQuiet(quietId)
    if (this.stopping) this.closeWhenAnswered()
    else if (this.closing) return
    else if (this.link.connection.writableLength > HIGH_WATER) this.pauseUntilDrained()
    else if (this.paused && !this.draining && this.pending < SOCKET_MAX_PENDING / 2) this.resume()
  }

  /** Tells the client its quiet sends are done: on the next push, or alone if none comes first (see `tellDone`). */
  private finishQuiet (id: number): void {
    this.quiet.finish(id)
    if (this.quiet.untold) this.options.untold(this)
  }

  /** Sends the `done` no push carried (called every DONE_DELAY_MS for the channels that have one untold). */
  tellDone (): void {
    const done = this.quiet.take()
    if (done !== undefined) void this.sendText(`{"done":${done}}`)
  }

  /** A push's frame, carrying the `done` not told yet. */
  private pushFrame (id: number, messages: string[]): string {
    const done = this.quiet.take()
    return `{"id":${id},"messages":[${messages.join(',')}]${done === undefined ? '' : `,"done":${done}`}}`
  }

  /** A client that sends requests but does not read the answers is read no further until it has caught up. */
  private pauseUntilDrained (): void {
    if (this.draining) return
    this.draining = true
    this.pause()
    this.link.connection.once('drain', () => {
      this.draining = false
      if (!this.closing && this.pending < SOCKET_MAX_PENDING / 2) this.resume()
    })
  }

  private send (answer: SocketAnswer): void {
    void this.sendText(JSON.stringify(answer))
  }

  /** Sends a frame; a promise when the client reads slower than the switch writes, settled once it caught up. */
  private sendText (text: string): Promise<void> | undefined {
    const { link } = this
    if (!link.open) return undefined
    // Answers and pushes made while the switch works through what it read this turn share one write (a system
    // call each was most of the switch's time); the connection is uncorked once that work is done.
    if (!this.corked) {
      this.corked = true
      link.connection.cork()
      setImmediate(this.uncork)
    }
    if (link.bufferedAmount < HIGH_WATER) {
      link.send(text)
      return undefined
    }
    return new Promise((resolve) => { link.send(text, resolve) })
  }

  private readonly uncork = (): void => {
    this.corked = false
    this.link.connection.uncork()
  }

  private closeWhenAnswered (): void {
    if (this.pending !== 0 || this.deliveries.size !== 0) return
    // What is done is told before the close, or the client would send it again (to be found a duplicate).
    this.tellDone()
    this.close(1001, 'the switch is shutting down')
  }

  private close (code: number, reason: string): void {
    this.closing = true
    this.link.close(code, reason)
  }

  private pause (): void {
    if (this.paused) return
    this.paused = true
    this.link.pause()
  }

  private resume (): void {
    this.paused = false
    this.link.resume()
  }

  private closed (): void {
    this.closing = true
    for (const delivery of this.deliveries.values()) delivery.abort()
    this.options.onClose(this)
  }
}
