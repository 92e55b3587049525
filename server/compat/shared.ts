// What both original protocols share: the route context, the "Please log in." rule, number parsing, and the
// requests they make in the same form (login, list, trace, diagnostics, shutdown).
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify'
import type { TraceEvent } from '../../protocol/wire.js'
import { InvalidRequestError } from '../core/errors.js'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'
import type { WaitSignal } from '../core/waiter.js'
import type { ObserveHooks } from '../http/routes/observe.js'
import { abortedWith } from '../http/aborted.js'
import type { OriginalAccess } from './access.js'
import type { ConnectionSessions } from './connection-sessions.js'
import { queueNames, traceEvents, xapiDiagnostics, xapiTraceEvent, xapiTraceEventSize } from './encode.js'

export interface CompatContext {
  core: Switch
  sessions: ConnectionSessions
  hooks: ObserveHooks
  access: OriginalAccess
}

export const NOT_LOGGED_IN = 'Please log in.'

/** A route that acts for the connection's session; a connection that has not logged in gets 404 "Please log in.". */
export function loggedIn<R extends RouteGenericInterface> (
  sessions: ConnectionSessions,
  handler: (request: FastifyRequest<R>, session: Session, reply: FastifyReply) => Promise<string>
): (request: FastifyRequest<R>, reply: FastifyReply) => Promise<string> {
  return async (request, reply) => {
    const session = await sessions.sessionOf(request.raw.socket)
    if (session === undefined) {
      reply.code(404)
      return NOT_LOGGED_IN
    }
    return await handler(request, session, reply)
  }
}

/** An integer path segment or JSON field, as OCaml's Int64.of_string reads it. */
export function integer (text: string, what: string): number {
  const value = /^-?\d{1,16}$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(value)) throw new InvalidRequestError(`${what} must be an integer, not ${JSON.stringify(text)}`)
  return value
}

/** A timeout in seconds (a float) as milliseconds; a negative one answers at once. */
export function seconds (text: string | number, what: string): number {
  const value = typeof text === 'number' ? text : text.trim() === '' ? NaN : Number(text)
  if (!Number.isFinite(value)) throw new InvalidRequestError(`${what} must be a number of seconds, not ${JSON.stringify(text)}`)
  return Math.max(0, Math.round(value * 1000))
}

/**
 * Trace events from `from` on (inclusive, as the originals count), waiting up to `timeout` ms for one. Events
 * the xapi form cannot show are skipped, and skipping them does not end the wait early. Sends and deliveries
 * show whole messages: the answer holds no more than maxAnswerBytes of them, and the client asks on from there.
 */
async function trace (core: Switch, from: number, timeout: number, signal: WaitSignal): Promise<string> {
  const deadline = Date.now() + timeout
  const size = (event: TraceEvent): number => xapiTraceEventSize(event, core.trace.subject(event.id))
  let after = Math.max(0, from - 1)
  for (;;) {
    const { events, next } = await core.waitForTrace(after, Math.max(0, deadline - Date.now()), 1000, signal, size)
    const shown: Array<[number, Record<string, unknown>]> = []
    for (const event of events) {
      const described = xapiTraceEvent(event, core.trace.subject(event.id))
      if (described !== undefined) shown.push([event.id, described])
    }
    if (shown.length > 0 || events.length === 0) return traceEvents(shown)
    after = next
  }
}

export function sharedRoutes (app: FastifyInstance, { core, sessions, hooks, access }: CompatContext): void {
  app.get<{ Params: { token: string } }>('/login/:token', async (request) => {
    await sessions.login(request.raw.socket, request.params.token, access.loginPrincipal(request))
    return ''
  })

  app.get('/', async (request) => {
    access.check(request, 'observe')
    return xapiDiagnostics(core.contents(), core.startTime, core.options.now(), core.options.maxAnswerBytes)
  })

  app.get('/trace', async (request, reply) => {
    access.check(request, 'observe')
    return await trace(core, -1, 5000, abortedWith(reply.raw))
  })

  app.get<{ Params: { from: string, timeout: string } }>('/trace/:from/:timeout', async (request, reply) => {
    access.check(request, 'observe')
    const { from, timeout } = request.params
    return await trace(core, integer(from, 'from'), seconds(timeout, 'timeout'), abortedWith(reply.raw))
  })

  const list = (alive: boolean) => loggedIn<{ Params: { prefix?: string } }>(sessions, async (request) => {
    access.check(request, 'observe')
    return queueNames(core.list(request.params.prefix ?? '', alive).map((queue) => queue.name))
  })
  app.get('/list', list(false))
  app.get('/list/:prefix', list(false))
  app.get('/list/alive/:prefix', list(true))

  app.post('/shutdown', loggedIn(sessions, async (request, _session, reply) => {
    access.check(request, 'admin')
    reply.raw.once('finish', hooks.shutdown)
    return ''
  }))
}
