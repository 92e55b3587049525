import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { API_PREFIX, QUEUE_NAME_MAX_LENGTH } from '../../protocol/wire.js'
import type { Switch } from '../core/switch.js'
import { installBrowserGuard, type BrowserGuardOptions } from './browser-guard.js'
import { AccessPolicy } from '../auth/access.js'
import { installAccessHook, requireAccessDeclared } from '../auth/hook.js'
import type { Principals } from '../auth/principals.js'
import { LoginThrottle } from '../auth/throttle.js'
import { answerFrameworkError, installErrorHandling, type ErrorCounter } from './errors.js'
import { shareConnections } from './fair-connections.js'
import { refuseInfiniteNumbers } from './finite.js'
import { closeIdleGently } from './gentle-close.js'
import { hardenServer, httpLimits, serverOptions, type HttpLimits } from './hardening.js'
import { installSessionAuth } from './session-auth.js'
import { limitSlowReaders } from './slow-readers.js'
import { routeUpgrades } from './upgrades.js'
import { StreamTickets } from './stream-tickets.js'
import { batchRoutes } from './routes/batch.js'
import { messageRoutes } from './routes/messages.js'
import { deliveryRoutes } from './routes/deliveries.js'
import { metricsRoutes } from './routes/metrics.js'
import { observeRoutes, type ObserveHooks } from './routes/observe.js'
import { queueRoutes } from './routes/queues.js'
import { sessionRoutes } from './routes/sessions.js'
import { socketRoutes } from './routes/socket.js'
import { streamHeartbeat, streamRoutes } from './routes/stream.js'
import { topicRoutes } from './routes/topics.js'
import { HttpFigures } from '../metrics/http-figures.js'
import { uiRoutes } from '../ui/routes.js'

export interface AppOptions {
  logger?: FastifyServerOptions['logger']
  /** Extra routes on the same listener (e.g. compatibility protocols at the root). */
  plugins?: Array<(app: FastifyInstance) => void | Promise<void>>
  /** Timeouts and the connection caps; DEFAULT_HTTP_LIMITS for those not given. */
  limits?: Partial<HttpLimits>
  /** Milliseconds between heartbeat comments on an idle event stream (GET /v1/stream); 15 s by default. */
  streamHeartbeat?: number
  /** The Host names, and the origins of web pages, the switch answers (DNS rebinding, cross-site requests, CORS). */
  browser?: BrowserGuardOptions
  /** The auth file's principals: logins need credentials and each route its permission. Without: anyone, anything. */
  principals?: Principals
  /** Failed logins per address; a default one (10 a minute) unless given. */
  loginThrottle?: LoginThrottle
}

/** The HTTP face of a switch: thin routes over the core, all under /v1, one error shape. */
export function buildApp (core: Switch, hooks: ObserveHooks, options: AppOptions = {}): FastifyInstance {
  const limits = httpLimits(options.limits)
  const figures = new HttpFigures()
  const countError: ErrorCounter = (request, code) => { figures.errorOf(request, code) }
  const app = Fastify({
    ...serverOptions(limits),
    logger: options.logger ?? false,
    // One log line per request would cost more than the request itself.
    logController: new LogController({ disableRequestLogging: true }),
    // Room for the payload plus the JSON around it; the core enforces the exact payload limit.
    bodyLimit: core.options.maxPayload + 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // The router's default (100) would refuse the longer half of the valid queue names.
    routerOptions: { maxParamLength: QUEUE_NAME_MAX_LENGTH },
    frameworkErrors: (error, request, reply) => { answerFrameworkError(error, request, reply, countError) },
    // Fastify's own 503 body is not our error shape; while draining, the core refuses new work itself.
    return503OnClosing: false,
    forceCloseConnections: 'idle'
  })
  // First: every route registered after it is timed.
  figures.install(app)
  hardenServer(app.server, limits)
  closeIdleGently(app.server)
  routeUpgrades(app)
  const connections = { ...shareConnections(app.server, limits, app.log), ...limitSlowReaders(app.server, limits.maxUnreadBytes, app.log) }
  // A stop would otherwise wait for a connection that never sends a request (a client's spare keep-alive socket).
  app.addHook('preClose', (done) => {
    connections.closeUnused()
    done()
  })
  installErrorHandling(app, countError)
  // First of all: a request from a foreign page or name gets no further, on every route.
  installBrowserGuard(app, options.browser)
  // Before the session check, as validation comes before it.
  refuseInfiniteNumbers(app)
  const tickets = new StreamTickets({ now: core.options.now })
  const policy = new AccessPolicy(options.principals, (queue) => core.isTemporary(queue))
  installSessionAuth(app, core, policy, tickets)
  installAccessHook(app, policy)
  // A connection kept alive past the shutdown would hold the close for the whole keep-alive timeout.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (core.shuttingDown) reply.header('connection', 'close')
    done(null, payload)
  })
  app.register(async (api) => {
    // JSON bodies only (login): a text/plain body is a 415, not a string that fails validation.
    api.removeContentTypeParser('text/plain')
    requireAccessDeclared(api)
    sessionRoutes(api, core, { principals: options.principals, throttle: options.loginThrottle ?? new LoginThrottle() })
    queueRoutes(api, core)
    messageRoutes(api, core)
    batchRoutes(api, core, policy)
    observeRoutes(api, core, hooks, { ...connections, limits })
    topicRoutes(api, core)
    const heartbeat = streamHeartbeat(options.streamHeartbeat)
    streamRoutes(api, core, { heartbeat, tickets })
    deliveryRoutes(api, core, { heartbeat })
    socketRoutes(api, core, policy, { heartbeat })
  }, { prefix: API_PREFIX })
  // At the root, where scrapers and people look for them.
  app.register(async (root) => {
    metricsRoutes(root, core, figures, { ...connections, limits })
    uiRoutes(root)
  })
  for (const plugin of options.plugins ?? []) app.register(plugin)
  return app
}
