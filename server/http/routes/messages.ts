import type { FastifyInstance } from 'fastify'
import type { Switch } from '../../core/switch.js'
import { abortedWith } from '../aborted.js'
import { acceptRawBodies } from '../raw-body.js'
import { secondsToMs } from '../seconds.js'
import { toWireMessage, wireSize } from '../wire.js'
import { ackSchema, leaseSchema, sendSchema, subscriptionSchema, transferSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'
import { param, type AccessRule } from '../../auth/hook.js'
import { answeredAfterWoken } from '../woken-first.js'

interface SendQuery { correlationId?: string, replyTo?: string, ack?: number, error?: boolean, ttl?: number, delay?: number }
interface TransferQuery { after?: number, timeout?: number, max?: number }

/** Transfers read the session's subscriptions: each must still be allowed (a reload may have taken one away). */
export const receiveSubscribed: AccessRule = { action: 'receive', queue: (request) => sessionOf(request).subscriptions }

export function messageRoutes (app: FastifyInstance, core: Switch): void {
  // A send with `ack` also removes the request it answers: that needs receive on the request's queue.
  const send: AccessRule[] = [
    { action: 'send', queue: (request) => core.sendTarget((request.params as { name: string }).name, (request.query as SendQuery).ack) },
    { action: 'receive', queue: (request) => core.queueOfMessage((request.query as SendQuery).ack) }
  ]
  const ack: AccessRule = { action: 'receive', queue: (request) => core.queueOfMessage((request.params as { id: number }).id) }
  // The payload is the raw body, whatever its content type: the switch never parses it.
  app.register(async (raw) => {
    acceptRawBodies(raw)
    raw.post<{ Params: { name: string }, Querystring: SendQuery, Headers: { 'idempotency-key'?: string } }>(
      '/queues/:name/messages',
      { schema: sendSchema, config: { session: true, access: send }, bodyLimit: core.options.maxPayload },
      async (request, reply) => {
        const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
        const { correlationId, replyTo, ack, error, ttl, delay } = request.query
        const { name } = request.params
        const result = await answeredAfterWoken(core, [name], () => core.send(sessionOf(request), name, payload, {
          correlationId,
          replyTo,
          ack,
          error,
          idempotencyKey: request.headers['idempotency-key'],
          ttl: ttl === undefined ? undefined : secondsToMs(ttl),
          delay: delay === undefined ? undefined : secondsToMs(delay)
        }))
        // 201 for a message made; 200 for a reply dropped because its caller is gone (its request is acked).
        return reply.code('dropped' in result ? 200 : 201).send(result)
      }
    )
  })

  app.delete<{ Params: { id: number } }>('/messages/:id', { schema: ackSchema, config: { session: true, access: ack } }, async (request, reply) => {
    await core.ack(sessionOf(request), request.params.id)
    return reply.code(204).send()
  })

  app.post<{ Params: { id: number }, Querystring: { seconds?: number } }>('/messages/:id/lease', { schema: leaseSchema, config: { session: true, access: ack } }, async (request) => {
    const { seconds } = request.query
    return await core.extendLease(sessionOf(request), request.params.id, seconds === undefined ? undefined : secondsToMs(seconds))
  })

  app.put<{ Params: { name: string } }>('/session/subscriptions/:name', { schema: subscriptionSchema, config: { session: true, access: { action: 'receive', queue: param('name') } } }, async (request, reply) => {
    await core.subscribe(sessionOf(request), request.params.name)
    return reply.code(204).send()
  })

  app.delete<{ Params: { name: string } }>('/session/subscriptions/:name', { schema: subscriptionSchema, config: { session: true, access: 'session' } }, async (request, reply) => {
    await core.unsubscribe(sessionOf(request), request.params.name)
    return reply.code(204).send()
  })

  app.get<{ Querystring: TransferQuery }>('/transfer', { schema: transferSchema, config: { session: true, access: receiveSubscribed } }, async (request, reply) => {
    const { after = 0, timeout, max } = request.query
    // Returned, not awaited: a held long-poll keeps no suspended frame of this handler.
    return core.transfer(sessionOf(request), {
      after, timeout: secondsToMs(timeout), max, signal: abortedWith(reply.raw), size: wireSize
    }).then((result) => ({ messages: result.messages.map(toWireMessage), next: result.next }))
  })
}

