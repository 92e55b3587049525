import type { Connection } from './connection.js'
import { hasCode } from './errors.js'
import { transfer } from './operations.js'
import type { Message } from '../protocol/wire.js'
import { nextTurn } from './signals.js'

/** Seconds a fallback long-poll may wait; also what the stream's idle timeout allows for between heartbeats. */
const POLL_SECONDS = 30

export interface ReceiveOptions {
  /** The queue to receive from (one of the session's). */
  queue: string
  /** The last message id seen: delivery resumes after it. */
  after: number
  /** Messages the switch may push ahead of their acks. */
  credit: number
  /** The most one fallback transfer takes (default `credit`). */
  max?: number
  /** The session the cursor belongs to. */
  pin: number
  signal: AbortSignal
}

/** Connections whose switch answered 404 for /deliveries (an older switch): they long-poll instead. */
const polling = new WeakSet<Connection>()

/**
 * A queue's messages as they arrive, in batches: pushed by the switch over the session's socket, else over
 * one long-lived answer (GET /v1/deliveries, NDJSON), both flow-controlled by `credit`; or, from a switch with
 * neither, one long-poll transfer. Ends when the answer ends (the switch went away, the session ended): the caller opens
 * it again after the last id it saw, in the session it then has.
 */
export async function * receive (connection: Connection, options: ReceiveOptions): AsyncGenerator<Message[], void, undefined> {
  const { queue, after, credit, pin, signal } = options
  const socket = await connection.socket.open(pin)
  if (socket !== undefined) {
    yield * socket.deliver({ queue, after, credit, signal })
    return
  }
  if (!polling.has(connection)) {
    let body
    try {
      body = await connection.open({ method: 'GET', path: '/deliveries', query: { after, credit, queue }, poll: POLL_SECONDS, pin, signal })
    } catch (error) {
      if (!hasCode(error, 'not_found')) throw error
      polling.add(connection)
    }
    if (body !== undefined) {
      const stream = body
      // Over HTTP only until the socket may be tried again (later, or at once after a failover): the stream then
      // ends, and the caller opens the next one after the last id it saw, on the socket if it can be had.
      const wait = connection.socket.waitBefore(pin)
      const retry = Number.isFinite(wait) ? setTimeout(() => { stream.destroy() }, wait) : undefined
      try {
        yield * lines(stream)
      } finally {
        clearTimeout(retry)
      }
      return
    }
  }
  const { messages } = await transfer(connection, { after, timeout: POLL_SECONDS, max: options.max ?? credit, pin, signal })
  yield messages
  // The requests the caller made on these messages (replies, next calls) go out before the next long-poll does.
  // A pushed batch needs no such wait: reading on costs no request.
  await nextTurn()
}

/** The messages of an NDJSON body, those of each chunk as one batch; blank lines (heartbeats) skipped. */
async function * lines (body: AsyncIterable<Buffer> & { destroy: () => void }): AsyncGenerator<Message[], void, undefined> {
  // A character's bytes may be split between chunks.
  const decoder = new TextDecoder()
  let pending = ''
  try {
    for await (const chunk of body) {
      pending += decoder.decode(chunk, { stream: true })
      const end = pending.lastIndexOf('\n')
      if (end < 0) continue
      const batch: Message[] = []
      for (const line of pending.slice(0, end).split('\n')) {
        if (line !== '') batch.push(JSON.parse(line) as Message)
      }
      pending = pending.slice(end + 1)
      if (batch.length > 0) yield batch
    }
  } catch {
    // The connection broke (the switch went away, or the caller aborted): the caller opens it again.
  } finally {
    body.destroy()
  }
}
