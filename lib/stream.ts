import { Backoff, sleep } from './backoff.js'
import type { Connection } from './connection.js'
import { isSessionLost } from './errors.js'
import type { RequestOptions } from './operations.js'
import type { Message } from '../protocol/wire.js'
import { serverSentEvents } from './sse.js'

export interface StreamOptions extends RequestOptions {
  /** Start after this message id; 0 (the default) for every unacked message. */
  after?: number
}

/** A stream that stayed open this long was healthy: the next reconnection starts its backoff afresh. */
const HEALTHY_MS = 10_000

/**
 * The session's subscribed queues as they fill, over the switch's event stream (GET /v1/stream): every unacked
 * message with an id above `after`, then each new one as it arrives. Acking stays the caller's. A stream that
 * drops is opened again after the last message yielded (`Last-Event-ID`), also across a switch restart (for up
 * to `retryFor`); after a re-login, whose switch may have numbered its messages afresh, it starts over from 0
 * (at-least-once). It ends when `signal` aborts, and fails with ClientClosedError when the client closes.
 */
export async function * streamMessages (connection: Connection, options: StreamOptions = {}): AsyncGenerator<Message, void, undefined> {
  const { signal } = options
  let after = options.after ?? 0
  let epoch: number | undefined
  let backoff = new Backoff()
  // A function, not a property read: TypeScript would take `aborted` to stay as first read.
  const aborted = (): boolean => signal?.aborted === true
  for (;;) {
    if (aborted()) return
    const session = await connection.ensureSession(signal)
    if (epoch !== undefined && session.epoch !== epoch) after = 0
    epoch = session.epoch
    let body
    try {
      body = await connection.open({ method: 'GET', path: '/stream', headers: { 'last-event-id': String(after) }, pin: epoch, signal })
    } catch (error) {
      if (aborted()) return
      // The next round logs in again (and starts over).
      if (isSessionLost(error)) continue
      throw error
    }
    const opened = Date.now()
    try {
      for await (const event of serverSentEvents(body)) {
        if (event.event !== 'message') continue
        const message = JSON.parse(event.data) as Message
        after = message.id
        yield message
      }
    } catch {
      // The connection broke (the switch went away, or the caller aborted): see below.
    } finally {
      body.destroy()
    }
    if (aborted()) return
    // The switch ended the stream (shutting down, or the session ended): open it again, not in a tight loop.
    if (Date.now() - opened > HEALTHY_MS) backoff = new Backoff()
    await sleep(backoff.next(), signal).catch(() => {})
  }
}
