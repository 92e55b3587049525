// The original message-switch protocols, served at their root paths beside our API (under /v1), so that
// existing OCaml and Python clients work unchanged. Both map onto the same core: one queue model, one id counter.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AccessPolicy } from '../auth/access.js'
import type { Principals } from '../auth/principals.js'
import { SwitchError } from '../core/errors.js'
import type { Switch } from '../core/switch.js'
import { statusOf } from '../http/errors.js'
import type { ObserveHooks } from '../http/routes/observe.js'
import { OriginalAccess } from './access.js'
import { ConnectionSessions } from './connection-sessions.js'
import { legacyRoutes } from './legacy.js'
import { sharedRoutes } from './shared.js'
import { xapiRoutes } from './xapi.js'

/** Errors as plain text, the only kind of body these clients print. */
function answerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof SwitchError) return reply.code(statusOf(error.code)).send(error.message)
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return reply.code(error.statusCode).send(error.message)
  }
  request.log.error({ err: error }, 'request failed')
  return reply.code(500).send('internal error')
}

/**
 * A Fastify plugin (for `buildApp`'s `plugins`) serving the 2013 and the xapi-project protocols; with an auth
 * file's `principals`, over TCP they act as its principal for them, or are refused (see OriginalAccess).
 */
export function compatPlugin (core: Switch, hooks: ObserveHooks, principals?: Principals): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const sessions = new ConnectionSessions(core)
    const access = new OriginalAccess(new AccessPolicy(principals, (queue) => core.isTemporary(queue)))
    // Payloads are raw bodies, and these clients send no content type at all.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
    app.setErrorHandler(answerError)
    // Before a body is read: a connection that may not use these protocols gets no further.
    if (principals !== undefined) app.addHook('onRequest', async (request) => { access.admit(request) })

    app.addHook('onSend', async (_request, reply) => {
      // The originals' replies carry only a content length.
      reply.removeHeader('content-type')
      // A connection bound to a session is never idle-closed (below); while stopping, each one ends after its reply.
      if (core.shuttingDown) reply.header('connection', 'close')
    })

    app.addHook('onResponse', async (request) => {
      const socket = request.raw.socket
      if (!sessions.isBound(socket)) return
      // These clients keep their connections open between requests and treat a closed one as the switch gone;
      // the connection is also what holds their session. So no keep-alive timeout once logged in.
      if (core.shuttingDown) socket.end()
      else socket.setTimeout(0)
    })

    const context = { core, sessions, hooks, access }
    sharedRoutes(app, context)
    legacyRoutes(app, context)
    xapiRoutes(app, context)
  }
}
