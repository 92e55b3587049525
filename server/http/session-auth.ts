import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'
import { SwitchError } from '../core/errors.js'
import type { AccessPolicy } from '../auth/access.js'
import { needsSession } from '../auth/hook.js'

declare module 'fastify' {
  interface FastifyRequest {
    switchSession: Session | undefined
  }
  interface FastifyContextConfig {
    /** The route acts for a session: it needs `Authorization: Bearer <token>` (with an auth file, every checked route does). */
    session?: boolean
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The session of a route declared with `config: { session: true }`. */
export function sessionOf (request: FastifyRequest): Session {
  const session = request.switchSession
  if (session === undefined) throw new Error(`route ${request.url} did not declare config.session`)
  return session
}

/**
 * Resolves the bearer token of session routes and holds the session's lease for as long as the request is in
 * flight (a long-poll keeps its session alive), releasing it when the response closes, however it ends.
 */
export function installSessionAuth (app: FastifyInstance, core: Switch, policy: AccessPolicy): void {
  app.decorateRequest('switchSession', undefined)
  app.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const { config } = request.routeOptions
    if (config.session !== true && !needsSession(config.access, policy)) { done(); return }
    const header = request.headers.authorization
    const match = header === undefined ? null : BEARER.exec(header)
    if (match === null) {
      done(new SwitchError('session_required', 'this request needs a session: send "Authorization: Bearer <token>" (log in with POST /v1/sessions)'))
      return
    }
    let session: Session
    try {
      session = core.enter(match[1])
    } catch (error) {
      done(error as Error)
      return
    }
    request.switchSession = session
    reply.raw.once('close', () => { core.leave(session) })
    done()
  })
}
