import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { API_PREFIX } from '../../lib/protocol.js'
import type { Switch } from '../core/switch.js'
import { installErrorHandling } from './errors.js'
import { installSessionAuth } from './session-auth.js'
import { messageRoutes } from './routes/messages.js'
import { observeRoutes, type ObserveHooks } from './routes/observe.js'
import { queueRoutes } from './routes/queues.js'
import { sessionRoutes } from './routes/sessions.js'

export interface AppOptions {
  logger?: FastifyServerOptions['logger']
  /** Extra routes on the same listener (e.g. compatibility protocols at the root). */
  plugins?: Array<(app: FastifyInstance) => void | Promise<void>>
}

/** The HTTP face of a switch: thin routes over the core, all under /v1, one error shape. */
export function buildApp (core: Switch, hooks: ObserveHooks, options: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    // One log line per request would cost more than the request itself.
    logController: new LogController({ disableRequestLogging: true }),
    // Room for the payload plus the JSON around it; the core enforces the exact payload limit.
    bodyLimit: core.options.maxPayload + 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle'
  })
  installErrorHandling(app)
  installSessionAuth(app, core)
  app.register(async (api) => {
    sessionRoutes(api, core)
    queueRoutes(api, core)
    messageRoutes(api, core)
    observeRoutes(api, core, hooks)
  }, { prefix: API_PREFIX })
  for (const plugin of options.plugins ?? []) app.register(plugin)
  return app
}
