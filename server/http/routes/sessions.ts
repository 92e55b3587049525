import type { FastifyInstance } from 'fastify'
import type { LoginRequest, LoginResponse, SessionInfo } from '../../../lib/protocol.js'
import type { Switch } from '../../core/switch.js'
import { loginSchema, sessionInfoSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'

export function sessionRoutes (app: FastifyInstance, core: Switch): void {
  app.post<{ Body: LoginRequest }>('/sessions', { schema: loginSchema }, async (request, reply) => {
    const session = await core.login(request.body.client)
    const body: LoginResponse = { token: session.token, client: session.client, ttl: core.options.sessionTtl / 1000 }
    return reply.code(201).send(body)
  })

  app.get('/session', { schema: sessionInfoSchema, config: { session: true } }, async (request) => {
    const session = sessionOf(request)
    const info: SessionInfo = {
      token: session.token,
      client: session.client,
      subscriptions: [...session.subscriptions],
      queues: [...session.queues],
      lastActivity: session.lastActivity,
      inFlight: session.holds
    }
    return info
  })

  app.delete('/session', { config: { session: true } }, async (request, reply) => {
    await core.logout(sessionOf(request))
    return reply.code(204).send()
  })
}
