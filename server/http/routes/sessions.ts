import type { FastifyInstance } from 'fastify'
import type { LoginRequest, LoginResponse, SessionInfo } from '../../../protocol/wire.js'
import type { Switch } from '../../core/switch.js'
import { authenticate } from '../../auth/login.js'
import type { Principals } from '../../auth/principals.js'
import type { LoginThrottle } from '../../auth/throttle.js'
import { loginSchema, sessionInfoSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'

export interface LoginAuth {
  principals: Principals | undefined
  throttle: LoginThrottle
}

export function sessionRoutes (app: FastifyInstance, core: Switch, auth: LoginAuth): void {
  // Open: the login presents its own credentials.
  app.post<{ Body: LoginRequest }>('/sessions', { schema: loginSchema, config: { access: 'open' } }, async (request, reply) => {
    const { client, ttl, ...credentials } = request.body
    const principal = await authenticate(auth.principals, auth.throttle, request.ip, credentials)
    const session = await core.login(client, principal, ttl === undefined ? undefined : ttl * 1000)
    const body: LoginResponse = { token: session.token, client: session.client, ttl: session.ttl / 1000 }
    return reply.code(201).send(body)
  })

  app.get('/session', { schema: sessionInfoSchema, config: { session: true, access: 'session' } }, async (request) => {
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

  app.delete('/session', { config: { session: true, access: 'session' } }, async (request, reply) => {
    await core.logout(sessionOf(request))
    return reply.code(204).send()
  })
}
