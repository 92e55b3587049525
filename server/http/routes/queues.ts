import type { FastifyInstance } from 'fastify'
import type { Switch } from '../../core/switch.js'
import type { QueueOptions } from '../../../protocol/wire.js'
import { InvalidRequestError } from '../../core/errors.js'
import { createQueueSchema, createTemporarySchema, destroySchema, listSchema, queueSchema, redriveSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'
import { param, type AccessRule } from '../../auth/hook.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The JSON body may be left out: openapi.yaml documents it as not required. */
    optionalBody?: boolean
  }
}

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

  app.put<{ Params: NameParams, Body: QueueOptions }>('/queues/:name', {
    schema: createQueueSchema,
    config: { session: true, access: manage, optionalBody: true },
    // The options are optional: a PUT without a body is validated as `{}`, which asks for nothing.
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const options = Object.keys(request.body).length === 0 ? undefined : request.body
    const result = await core.createQueue(sessionOf(request), request.params.name, options)
    return reply.code(result.created ? 201 : 200).send(result)
  })

  // Dead letters go back where they came from once their cause is fixed: managing both queues.
  const redrive: AccessRule[] = [manage, { action: 'manage', queue: (request) => (request.query as { to?: string }).to }]
  app.post<{ Params: NameParams, Querystring: { to?: string } }>('/queues/:name/redrive', { schema: redriveSchema, config: { session: true, access: redrive } }, async (request) => {
    const { to } = request.query
    if (to === undefined) throw new InvalidRequestError('to (the queue to move the messages to) is required', 'to')
    return await core.redrive(sessionOf(request), request.params.name, to)
  })

  app.get<{ Params: NameParams }>('/queues/:name', { schema: queueSchema, config: { access: observe } }, async (request) => core.queueInfo(request.params.name))

  app.delete<{ Params: NameParams }>('/queues/:name', { schema: destroySchema, config: { session: true, access: manage } }, async (request, reply) => {
    await core.destroy(sessionOf(request), request.params.name)
    return reply.code(204).send()
  })
}
