import type { Duplex } from 'node:stream'
import { upgrade, type Dispatcher } from 'undici'
import { LineReader } from '../protocol/lines.js'
import {
  SOCKET_CLOSE_SESSION_ENDED,
  SOCKET_LINES_UPGRADE,
  SOCKET_MAX_BATCH,
  SOCKET_MAX_FRAME_BYTES,
  type SocketAnswer,
  type SocketFrame,
  type SocketRequest,
  type SocketSendAnswer
} from '../protocol/socket.js'
import { SESSION_HEADER, type BatchSendItem, type Message } from '../protocol/wire.js'
import { fromErrorBody } from './transport.js'

/** Milliseconds the socket's handshake may take before the client goes over HTTP instead. */
const OPEN_TIMEOUT_MS = 5000
/**
 * Characters of requests joined into one frame: JSON text is at most 3 bytes a character in UTF-8, so a joined
 * frame stays within the switch's frame limit. A longer request goes alone.
 */
const JOIN_MAX_CHARS = SOCKET_MAX_FRAME_BYTES / 4
/**
 * Bytes a frame from the switch may hold: a push is as large as the switch's answers may be, which its operator
 * sets; this only keeps a broken peer from growing a line without end.
 */
const PUSH_MAX_BYTES = 256 * 1024 * 1024

/** The socket closed (or never opened) before the switch answered: the request goes over HTTP instead. */
export class SocketClosedError extends Error {
  constructor (readonly sessionEnded = false) {
    super(sessionEnded ? 'the switch closed the socket: the session ended' : 'the socket to the switch closed')
    this.name = 'SocketClosedError'
  }
}

/** A request frame without its id, which the socket gives it. */
type Outgoing = SocketRequest extends infer R ? R extends SocketRequest ? Omit<R, 'id'> : never : never

interface Waiting {
  resolve: (answer: SocketAnswer | undefined) => void
  reject: (error: Error) => void
}

/** A delivery's batches as they come, for the generator that yields them. */
interface DeliveryQueue {
  batches: Message[][]
  /** How it ended: undefined while running, null when it ended cleanly, else the error. */
  end: Error | null | undefined
  wake: (() => void) | undefined
}

export interface SocketTarget {
  /** http:// or https:// URL of GET /v1/socket. */
  url: string
  dispatcher: Dispatcher
}

/**
 * One socket to the switch (GET /v1/socket, framed as lines), for one session: requests answered by id,
 * deliveries pushed by id. Everything on it fails with SocketClosedError once it closes; the caller goes over
 * HTTP instead.
 */
export class SwitchSocket {
  private readonly waiting = new Map<number, Waiting>()
  /** Quiet sends not confirmed yet, oldest (lowest id) first. */
  private readonly unconfirmed = new Map<number, Waiting>()
  private readonly deliveries = new Map<number, DeliveryQueue>()
  private nextId = 1
  /** Whether a request went out this turn: those that follow wait in `outgoing` until it is over (see write). */
  private turnBusy = false
  private outgoing: string[] = []
  private closedWith: SocketClosedError | undefined

  /** The close code the switch gave (SocketClose), if it said why it closed. */
  private closeCode: number | undefined

  private constructor (private readonly connection: Duplex, readonly epoch: number, onClosed: (socket: SwitchSocket, error: SocketClosedError) => void) {
    const reader = new LineReader(PUSH_MAX_BYTES)
    connection.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, this.line)
      } catch {
        // Not the switch's framing, or a line past any answer's size: given up, the requests go over HTTP.
        connection.destroy()
      }
    })
    // The switch ended its side (after saying why, or going away): so does the client.
    connection.on('end', () => { connection.end() })
    // 'close' follows, which is what the requests in hand are told.
    connection.on('error', () => undefined)
    connection.on('close', () => {
      const error = new SocketClosedError(this.closeCode === SOCKET_CLOSE_SESSION_ENDED)
      this.closedWith = error
      for (const waiting of [...this.waiting.values(), ...this.unconfirmed.values()]) waiting.reject(error)
      this.waiting.clear()
      this.unconfirmed.clear()
      for (const delivery of this.deliveries.values()) this.finish(delivery, null)
      this.deliveries.clear()
      onClosed(this, error)
    })
  }

  /** Opens a socket with the session's token; rejects with SocketClosedError if the switch does not take it. */
  static async open (target: SocketTarget, token: string, epoch: number, onClosed: (socket: SwitchSocket, error: SocketClosedError) => void): Promise<SwitchSocket> {
    try {
      const { socket } = await upgrade(target.url, {
        dispatcher: target.dispatcher,
        protocol: SOCKET_LINES_UPGRADE,
        headers: { [SESSION_HEADER]: `Bearer ${token}` },
        // Something between (a proxy that does not pass upgrades on) may leave the handshake hanging.
        signal: AbortSignal.timeout(OPEN_TIMEOUT_MS)
      })
      return new SwitchSocket(socket, epoch, onClosed)
    } catch {
      throw new SocketClosedError()
    }
  }

  get closed (): boolean {
    return this.closedWith !== undefined
  }

  /** Sends a request frame; resolves with its answer, or rejects with the switch's error or SocketClosedError. */
  async request<A extends SocketAnswer> (frame: Outgoing): Promise<A> {
    if (this.closedWith !== undefined) throw this.closedWith
    const id = this.nextId++
    const answer = await new Promise<SocketAnswer | undefined>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.write({ ...frame, id })
    })
    if (answer === undefined || 'error' in answer) throw fromErrorBody(answer) ?? new SocketClosedError()
    return answer as A
  }

  /**
   * A send the switch answers only if it fails (see SocketSendRequest's `quiet`): resolves with that answer, or
   * with undefined once a `done` confirms it; rejects with SocketClosedError if the socket closes before either.
   */
  async sendQuietly (messages: BatchSendItem[]): Promise<SocketSendAnswer | undefined> {
    if (this.closedWith !== undefined) throw this.closedWith
    const id = this.nextId++
    const answer = await new Promise<SocketAnswer | undefined>((resolve, reject) => {
      this.unconfirmed.set(id, { resolve, reject })
      this.write({ op: 'send', id, messages, quiet: true })
    })
    if (answer !== undefined && 'error' in answer) throw fromErrorBody(answer) ?? new SocketClosedError()
    return answer as SocketSendAnswer | undefined
  }

  /**
   * A queue's messages as the switch pushes them (the socket's `deliver`), in batches. Ends when the socket
   * closes or the switch ends the delivery (the caller opens another after the last id it saw), or when
   * `signal` aborts; throws the switch's error if it refuses it.
   */
  async * deliver (options: { queue: string, after: number, credit: number, signal: AbortSignal }): AsyncGenerator<Message[], void, undefined> {
    const { queue, after, credit, signal } = options
    if (this.closedWith !== undefined || signal.aborted) return
    const id = this.nextId++
    const delivery: DeliveryQueue = { batches: [], end: undefined, wake: undefined }
    this.deliveries.set(id, delivery)
    const onAbort = (): void => {
      if (!this.closed) this.write({ op: 'cancel', id })
      this.deliveries.delete(id)
      this.finish(delivery, null)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      this.write({ op: 'deliver', id, queue, after, credit })
      for (;;) {
        const batch = delivery.batches.shift()
        if (batch !== undefined) {
          yield batch
          continue
        }
        if (delivery.end === null) return
        if (delivery.end !== undefined) throw delivery.end
        await new Promise<void>((resolve) => { delivery.wake = resolve })
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      if (this.deliveries.get(id) === delivery) onAbort()
    }
  }

  close (): void {
    this.flush()
    this.connection.end()
  }

  /**
   * The first request of a turn of the event loop goes out at once (a lone caller waits for nothing); those that
   * follow in the same turn go together as one frame once it is over: a service's replies to the messages one
   * read brought cost two system calls on each side, not one each.
   */
  private write (request: SocketRequest): void {
    const text = JSON.stringify(request)
    if (this.turnBusy) {
      this.outgoing.push(text)
      return
    }
    this.turnBusy = true
    setImmediate(this.flush)
    this.writeLines(`${text}\n`)
  }

  private readonly flush = (): void => {
    this.turnBusy = false
    const texts = this.outgoing
    if (texts.length === 0) return
    this.outgoing = []
    let lines = ''
    let frame: string[] = []
    let chars = 0
    const end = (): void => {
      lines += `${frame.length === 1 ? frame[0] : `[${frame.join(',')}]`}\n`
      frame = []
      chars = 0
    }
    for (const text of texts) {
      if (frame.length === SOCKET_MAX_BATCH || (frame.length > 0 && chars + text.length > JOIN_MAX_CHARS)) end()
      frame.push(text)
      chars += text.length
    }
    end()
    this.writeLines(lines)
  }

  /** Frames written after the socket closed are not answered: their requests are rejected as it closes. */
  private writeLines (lines: string): void {
    if (this.connection.writable) this.connection.write(lines)
  }

  /** One line from the switch: a frame, or an empty line (a ping, answered by one). */
  private readonly line = (text: string): void => {
    if (text === '') this.writeLines('\n')
    else this.received(text)
  }

  private received (text: string): void {
    let frame: SocketFrame
    try {
      frame = JSON.parse(text) as SocketFrame
    } catch {
      // Not the switch's protocol (something else answers there): given up, the requests go over HTTP.
      this.close()
      return
    }
    if ('close' in frame) {
      this.closeCode = frame.close
      return
    }
    // First: the push carrying it may be what a confirmed sender waits for next.
    if ('done' in frame && frame.done !== undefined) this.confirm(frame.done)
    if (!('id' in frame)) return
    const waiting = this.waiting.get(frame.id) ?? this.unconfirmed.get(frame.id)
    if (waiting !== undefined) {
      this.waiting.delete(frame.id)
      this.unconfirmed.delete(frame.id)
      waiting.resolve(frame)
      return
    }
    const delivery = this.deliveries.get(frame.id)
    if (delivery === undefined) return
    if ('messages' in frame) {
      delivery.batches.push(frame.messages)
      this.wake(delivery)
    } else if ('error' in frame || 'ended' in frame) {
      this.deliveries.delete(frame.id)
      this.finish(delivery, 'error' in frame ? fromErrorBody(frame) ?? new SocketClosedError() : null)
    }
  }

  /** Every quiet send up to `done` went through. */
  private confirm (done: number): void {
    for (const [id, waiting] of this.unconfirmed) {
      if (id > done) break
      this.unconfirmed.delete(id)
      waiting.resolve(undefined)
    }
  }

  private finish (delivery: DeliveryQueue, end: Error | null): void {
    delivery.end ??= end
    this.wake(delivery)
  }

  private wake (delivery: DeliveryQueue): void {
    const wake = delivery.wake
    delivery.wake = undefined
    wake?.()
  }
}
