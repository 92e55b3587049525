import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'
import { SessionNotFoundError, SwitchError, UnauthorizedError } from '../core/errors.js'
import type { StreamTickets } from './stream-tickets.js'
import type { AccessPolicy } from '../auth/access.js'
import { needsSession } from '../auth/hook.js'

declare module 'fastify' {
  interface FastifyRequest {
    switchSession: Session | undefined
    /** The request holds its session's lease (see installSessionAuth). */
    switchHolding: boolean
    /** Who a request of an `apiKey` route acts as when its bearer token was an API key rather than a session's. */
    switchPrincipal: string | undefined
  }
  interface FastifyContextConfig {
    /** The route acts for a session: it needs `Authorization: Bearer <token>` (with an auth file, every checked route does). */
    session?: boolean
    /** The session may instead be given as a stream ticket, `?ticket=` (for EventSource, which sends no header). */
    ticket?: boolean
    /**
     * The bearer token may instead be an API key of the auth file (for a scraper such as Prometheus, which sends
     * a fixed token and cannot log in); the request then acts as the key's principal, without a session.
     */
    apiKey?: boolean
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The session of a route declared with `config: { session: true }`. */
export function sessionOf (request: FastifyRequest): Session {
  const session = request.switchSession
  if (session === undefined) throw new Error(`route ${request.url} did not declare config.session`)
  return session
}

/** The session token of a request: its bearer token, else (where the route takes one) what its ticket stands for. */
function tokenOf (request: FastifyRequest, tickets: StreamTickets): string {
  const header = request.headers.authorization
  const match = header === undefined ? null : BEARER.exec(header)
  if (match !== null) return match[1]
  const ticket = (request.query as { ticket?: unknown }).ticket
  if (request.routeOptions.config.ticket === true && typeof ticket === 'string') return tickets.redeem(ticket)
  throw new SwitchError('session_required', 'this request needs a session: send "Authorization: Bearer <token>" (log in with POST /v1/sessions)')
}

/**
 * Lets go of the session's lease before the response closes: a socket, open for as long as its client likes,
 * holds the lease only while it has work in hand, as a request does (see SocketChannel).
 */
export function releaseSession (core: Switch, request: FastifyRequest): void {
  if (!request.switchHolding) return
  request.switchHolding = false
  core.leave(sessionOf(request))
}

/** The principal whose API key `key` is; UnauthorizedError if it is none (or there is no auth file). */
async function principalOfKey (policy: AccessPolicy, key: string): Promise<string> {
  const principal = await policy.principals?.authenticate({ apiKey: key })
  if (principal === undefined) throw new UnauthorizedError('the bearer token is neither a session nor an API key of the auth file')
  return principal.name
}

/**
 * Resolves the bearer token (or stream ticket) of session routes and holds the session's lease for as long as
 * the request is in flight (a long-poll keeps its session alive), releasing it when the response closes, however it ends.
 */
export function installSessionAuth (app: FastifyInstance, core: Switch, policy: AccessPolicy, tickets: StreamTickets): void {
  app.decorateRequest('switchSession', undefined)
  app.decorateRequest('switchHolding', false)
  app.decorateRequest('switchPrincipal', undefined)
  app.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const { config } = request.routeOptions
    if (config.session !== true && !needsSession(config.access, policy)) { done(); return }
    let session: Session
    let token: string | undefined
    try {
      token = tokenOf(request, tickets)
      session = core.enter(token, 'v1')
    } catch (error) {
      if (config.apiKey === true && token !== undefined && error instanceof SessionNotFoundError) {
        principalOfKey(policy, token).then((principal) => { request.switchPrincipal = principal; done() }, done)
        return
      }
      done(error as Error)
      return
    }
    request.switchSession = session
    request.switchHolding = true
    // Held until the response closes; a client gone before this hook ran closed it already, and would hold the
    // lease for ever (its session never expiring) if this waited for a 'close' that has been.
    // 'on', not 'once': a response closes once, and once's wrapper would add objects to every held long-poll.
    if (reply.raw.closed) releaseSession(core, request)
    else reply.raw.on('close', () => { releaseSession(core, request) })
    done()
  })
}
