import type { FastifyInstance } from 'fastify'
import type { Switch } from '../../core/switch.js'
import { abortedWith } from '../aborted.js'
import { deliveriesSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'
import { Delivery } from '../delivery-loop.js'
import { drained } from './stream.js'
import type { AccessRule } from '../../auth/hook.js'

interface DeliveriesQuery { after?: number, credit?: number, queue?: string }

/** The queue named, else the session's subscriptions, each of which must still be allowed. */
const receiveDelivered: AccessRule = {
  action: 'receive',
  queue: (request) => (request.query as DeliveriesQuery).queue ?? sessionOf(request).subscriptions
}

/**
 * `GET /deliveries`: messages pushed as they arrive, one JSON message per line (NDJSON), for clients that would
 * otherwise long-poll transfer after transfer, flow-controlled by credit (see delivery-loop). An idle stream
 * writes an empty line every heartbeat. It holds the session's lease while open, and ends when
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
      const { after = 0, credit = 1, queue } = request.query
      const response = reply.raw
      // Refused before the answer starts, with the usual error (see Delivery).
      const delivery = new Delivery(core, session, { after, credit, queue, heartbeat, signal: abortedWith(response) })
      reply.hijack()
      response.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
        // The connection ends with the stream: kept alive, it would hold a shutdown up for the keep-alive timeout.
        connection: 'close'
      })
      // The headers go now: the client knows the stream is open before the first message.
      response.flushHeaders()
      const write = (text: string): Promise<void> | undefined => response.write(text) ? undefined : drained(response)
      try {
        const ended = await delivery.run({
          // One message per line: JSON escapes line breaks, so it is one line whatever its payload.
          push: (messages) => write(messages.join('\n') + '\n'),
          idle: () => write('\n')
        })
        if (ended instanceof Error) request.log.debug({ err: ended }, 'delivery stream ended')
      } catch (error) {
        request.log.error({ err: error }, 'delivery stream failed')
      } finally {
        response.end()
      }
    }
  )
}
