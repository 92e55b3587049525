import type { FastifyInstance } from 'fastify'
import type { BindingsResponse } from '../../../protocol/topics.js'
import type { Switch } from '../../core/switch.js'
import { acceptRawBodies } from '../raw-body.js'
import { sessionOf } from '../session-auth.js'
import { param, type AccessRule } from '../../auth/hook.js'
import { bindingsSchema, bindSchema, publishSchema, unbindSchema } from '../topic-schemas.js'

interface BindingParams { name: string, filter: string }

// Binding a queue makes it receive what is published to the filter: it needs both.
const bind: AccessRule[] = [{ action: 'manage', queue: param('name') }, { action: 'receive', topic: param('filter') }]

export function topicRoutes (app: FastifyInstance, core: Switch): void {
  app.register(async (raw) => {
    acceptRawBodies(raw)
    raw.post<{ Params: { topic: string }, Querystring: { retain?: boolean }, Headers: { 'idempotency-key'?: string } }>(
      '/topics/:topic/messages',
      { schema: publishSchema, config: { session: true, access: { action: 'publish', topic: param('topic') } }, bodyLimit: core.options.maxPayload },
      async (request, reply) => {
        const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
        const result = await core.publish(sessionOf(request), request.params.topic, payload, {
          retain: request.query.retain, idempotencyKey: request.headers['idempotency-key']
        })
        return reply.code(201).send(result)
      }
    )
  })

  app.put<{ Params: BindingParams }>('/queues/:name/bindings/:filter', { schema: bindSchema, config: { session: true, access: bind } }, async (request, reply) => {
    const result = await core.bind(sessionOf(request), request.params.name, request.params.filter)
    return reply.code(result.created ? 201 : 200).send(result)
  })

  app.delete<{ Params: BindingParams }>('/queues/:name/bindings/:filter', { schema: unbindSchema, config: { session: true, access: { action: 'manage', queue: param('name') } } }, async (request, reply) => {
    await core.unbind(sessionOf(request), request.params.name, request.params.filter)
    return reply.code(204).send()
  })

  app.get<{ Params: { name: string } }>('/queues/:name/bindings', { schema: bindingsSchema, config: { access: { action: 'observe' } } }, async (request) => {
    const { name } = request.params
    const body: BindingsResponse = { queue: name, filters: core.bindingsOf(name) }
    return body
  })
}
