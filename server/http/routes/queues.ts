import type { FastifyInstance } from 'fastify'
import type { Switch } from '../../core/switch.js'
import { createQueueSchema, createTemporarySchema, destroySchema, listSchema, queueSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'
import { param, type AccessRule } from '../../auth/hook.js'

interface NameParams { name: string }

// Listing and looking at queues shows who owns them and how busy they are: that is observing the switch.
const observe: AccessRule = { action: 'observe' }
const manage: AccessRule = { action: 'manage', queue: param('name') }

export function queueRoutes (app: FastifyInstance, core: Switch): void {
  app.get<{ Querystring: { prefix?: string, alive?: boolean } }>('/queues', { schema: listSchema, config: { access: observe } }, async (request) => {
    return { queues: core.list(request.query.prefix ?? '', request.query.alive === true) }
  })

  app.post('/queues', { schema: createTemporarySchema, config: { session: true, access: 'session' } }, async (request, reply) => {
    return reply.code(201).send(await core.createTemporaryQueue(sessionOf(request)))
  })

  app.put<{ Params: NameParams }>('/queues/:name', { schema: createQueueSchema, config: { session: true, access: manage } }, async (request, reply) => {
    const result = await core.createQueue(sessionOf(request), request.params.name)
    return reply.code(result.created ? 201 : 200).send(result)
  })

  app.get<{ Params: NameParams }>('/queues/:name', { schema: queueSchema, config: { access: observe } }, async (request) => core.queueInfo(request.params.name))

  app.delete<{ Params: NameParams }>('/queues/:name', { schema: destroySchema, config: { session: true, access: manage } }, async (request, reply) => {
    await core.destroy(sessionOf(request), request.params.name)
    return reply.code(204).send()
  })
}
