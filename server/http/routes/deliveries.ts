import type { FastifyInstance } from 'fastify'
import { ShuttingDownError, SwitchError } from '../../core/errors.js'
import type { StoredMessage } from '../../core/queue.js'
import type { Switch } from '../../core/switch.js'
import { abortedWith } from '../aborted.js'
import { deliveriesSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'
import { toWireMessage } from '../wire.js'
import { drained } from './stream.js'
import type { AccessRule } from '../../auth/hook.js'

interface DeliveriesQuery { after?: number, credit?: number, queue?: string }

/** One message as one line of NDJSON: JSON escapes line breaks, so it is one line whatever its payload. */
function line (message: StoredMessage): string {
  return JSON.stringify(toWireMessage(message)) + '\n'
}


/** The queue named, else the session's subscriptions, each of which must still be allowed. */
const receiveDelivered: AccessRule = {
  action: 'receive',
  queue: (request) => (request.query as DeliveriesQuery).queue ?? sessionOf(request).subscriptions
}

/**
 * `GET /deliveries`: messages pushed as they arrive, one JSON message per line (NDJSON), for clients that would
 * otherwise long-poll transfer after transfer. Flow control is by credit: the stream never has more than
 * `credit` of its queues' messages at or below its cursor unacked, so it pushes only as the client acks (by any
 * ack: a reply with `ack`, DELETE /messages/{id}, POST /acks). Counting by cursor rather than by what this
 * connection pushed makes a resumed stream (`after` = the last id seen) honour the credit its predecessor used.
 * An idle stream writes an empty line every heartbeat. It holds the session's lease while open, and ends when
 * the client goes, the session ends or the switch shuts down.
 */
export function deliveryRoutes (app: FastifyInstance, core: Switch, options: { heartbeat: number }): void {
  const { heartbeat } = options
  app.get<{ Querystring: DeliveriesQuery }>(
    '/deliveries',
    // A HEAD would be a stream without a body that never ends: it is answered 405 instead.
    { schema: deliveriesSchema, config: { session: true, access: receiveDelivered, stream: 'deliveries' }, exposeHeadRoute: false },
    async (request, reply) => {
      const session = sessionOf(request)
      const { credit = 1, queue } = request.query
      let after = request.query.after ?? 0
      const queues = queue === undefined ? undefined : [queue]
      // Read live, like transfer: a subscription added while the stream is open counts.
      const watched = (): Iterable<string> => queues ?? session.subscriptions
      // Refused before the answer starts, with the usual error: a client reopens it once the switch is back.
      if (core.shuttingDown) throw new ShuttingDownError()
      // A stream on a queue that is not there would wait for ever on nothing: 404 (or 400 for a bad name), as transfer's
      // neighbours answer.
      if (queue !== undefined) core.queueInfo(queue)
      const held = new Set(core.heldUpTo(session, watched(), after, credit))
      // A message's line, made when the answer budget sizes it and written as made: one encoding per push.
      // Made again if a lease counted a delivery after it was sized (a work queue's message is leased after).
      const lines = new Map<StoredMessage, { text: string, deliveries: number | undefined }>()
      const lineSize = (message: StoredMessage): number => {
        const text = line(message)
        lines.set(message, { text, deliveries: message.deliveries })
        return Buffer.byteLength(text)
      }
      const lineOf = (message: StoredMessage): string => {
        const made = lines.get(message)
        return made !== undefined && made.deliveries === message.deliveries ? made.text : line(message)
      }
      reply.hijack()
      const response = reply.raw
      response.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
        // The connection ends with the stream: kept alive, it would hold a shutdown up for the keep-alive timeout.
        connection: 'close'
      })
      // The headers go now: the client knows the stream is open before the first message.
      response.flushHeaders()
      const signal = abortedWith(response)
      const ended = (): boolean => signal.aborted || core.shuttingDown || !core.isCurrent(session)
      try {
        while (!signal.aborted) {
          for (const id of held) if (!core.holds(id, session)) held.delete(id)
          if (held.size >= credit) {
            await core.untilRemoved(session, [...held], heartbeat, signal)
            if (ended()) break
            if ([...held].every((id) => core.holds(id, session)) && !response.write('\n')) await drained(response)
            continue
          }
          // One batch within the credit left and maxAnswerBytes, written whole before the next is read.
          const { messages, next } = await core.transfer(session, { after, timeout: heartbeat, signal, size: lineSize, max: credit - held.size, queues })
          if (messages.length > 0) {
            after = next
            for (const message of messages) held.add(message.id)
            const text = messages.map(lineOf).join('')
            lines.clear()
            if (!response.write(text)) await drained(response)
          } else if (ended()) {
            break
          } else if (!response.write('\n')) {
            await drained(response)
          }
        }
      } catch (error) {
        // The session ended (a logout elsewhere), or a limit refused the wait: the stream ends. Anything else is a bug.
        if (!(error instanceof SwitchError)) request.log.error({ err: error }, 'delivery stream failed')
      } finally {
        response.end()
      }
    }
  )
}
