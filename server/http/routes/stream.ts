import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { StreamTicketResponse } from '../../../protocol/wire.js'
import { SwitchError } from '../../core/errors.js'
import type { StoredMessage } from '../../core/queue.js'
import type { Switch } from '../../core/switch.js'
import { abortedWith } from '../aborted.js'
import { sessionOf } from '../session-auth.js'
import type { StreamTickets } from '../stream-tickets.js'
import { receiveSubscribed } from './messages.js'
import { streamSchema, streamTicketSchema } from '../topic-schemas.js'
import { toWireMessage, wireSize } from '../wire.js'

/** Milliseconds of silence after which the stream sends a comment, before a proxy would call it dead. */
export const DEFAULT_STREAM_HEARTBEAT = 15_000

/**
 * The heartbeat of the event and delivery streams: the one given, else the default, and never under 10 ms (a zero
 * would be a loop of empty long-polls writing heartbeats as fast as it can).
 */
export function streamHeartbeat (given: number | undefined): number {
  return Math.max(10, given ?? DEFAULT_STREAM_HEARTBEAT)
}

export interface StreamOptions {
  /** Milliseconds between heartbeat comments on an idle stream. */
  heartbeat: number
  /** What `?ticket=` is checked against. */
  tickets: StreamTickets
}

/** One message as a Server-Sent Event: its id is the message id, so a reconnect resumes after it. */
function event (message: StoredMessage): string {
  // JSON escapes line breaks, so the data is one line, as one `data:` field must be.
  return `id: ${message.id}\nevent: message\ndata: ${JSON.stringify(toWireMessage(message))}\n\n`
}

/** Bytes of `event(message)`: the message's JSON and the lines around it. */
function eventSize (message: StoredMessage): number {
  return wireSize(message) + `id: ${message.id}\nevent: message\ndata: \n\n`.length
}

/** Resolves once the response can take more, or is gone. */
export async function drained (response: ServerResponse): Promise<void> {
  if (response.destroyed) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      response.off('drain', done)
      response.off('close', done)
      resolve()
    }
    response.once('drain', done)
    response.once('close', done)
  })
}

/**
 * `GET /stream`: the session's subscribed queues as a Server-Sent Events stream, for browsers (EventSource) and
 * `curl -N`. It sends every unacked message with an id above the cursor (`Last-Event-ID`, else `after`, else 0)
 * and then each new one as it arrives; acks stay the client's (DELETE /messages/{id}), so a reconnect loses
 * nothing. It is a loop of long-polls on the core, each as long as the heartbeat: a send wakes it only if it is
 * to one of the session's queues, and a quiet one ends in a heartbeat comment. It holds the session's lease
 * while open, and ends when the client goes, the session ends or the switch shuts down.
 */
export function streamRoutes (app: FastifyInstance, core: Switch, options: StreamOptions): void {
  const { heartbeat } = options
  app.get<{ Querystring: { after?: number }, Headers: { 'last-event-id'?: number } }>(
    '/stream',
    // A HEAD would be a stream without a body that never ends: it is answered 405 instead.
    { schema: streamSchema, config: { session: true, ticket: true, access: receiveSubscribed, stream: 'events' }, exposeHeadRoute: false },
    async (request, reply) => {
      const session = sessionOf(request)
      // A browser reconnecting sends the last id it saw, with the URL it first opened (which may hold `after`).
      let after = request.headers['last-event-id'] ?? request.query.after ?? 0
      reply.hijack()
      const response = reply.raw
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        // nginx would otherwise hold events back to fill its buffer.
        'x-accel-buffering': 'no',
        // The connection ends with the stream: kept alive, it would hold a shutdown up for the keep-alive timeout.
        connection: 'close'
      })
      response.write(': connected\n\n')
      const signal = abortedWith(response)
      try {
        while (!signal.aborted) {
          // One batch of at most maxAnswerBytes, written whole before the next is read (a slow reader slows it).
          const { messages, next } = await core.transfer(session, { after, timeout: heartbeat, signal, size: eventSize })
          if (messages.length > 0) {
            after = next
            if (!response.write(messages.map(event).join(''))) await drained(response)
          } else if (signal.aborted || core.shuttingDown || !core.isCurrent(session)) {
            // An empty answer is the heartbeat's timeout, unless the wait ended for one of these.
            break
          } else {
            response.write(': ping\n\n')
          }
        }
      } catch (error) {
        // The session ended (a logout elsewhere), or a limit refused the wait: the stream ends. Anything else is a bug.
        if (!(error instanceof SwitchError)) request.log.error({ err: error }, 'stream failed')
      } finally {
        response.end()
      }
    }
  )

  // A browser's EventSource sends no Authorization header: it opens the stream with one of these instead.
  app.post('/stream/tickets', { schema: streamTicketSchema, config: { session: true, access: 'session' } }, async (request, reply) => {
    const body: StreamTicketResponse = options.tickets.issue(sessionOf(request).token)
    return reply.code(201).send(body)
  })
}
