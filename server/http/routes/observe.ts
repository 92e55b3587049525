import type { FastifyInstance } from 'fastify'
import type { Server } from 'node:http'
import type { DiagnosticsLimits, HealthResponse, LimitUsage } from '../../../protocol/wire.js'
import type { Switch } from '../../core/switch.js'
import type { FairConnections } from '../fair-connections.js'
import type { HttpLimits } from '../hardening.js'
import type { SlowReaders } from '../slow-readers.js'
import { diagnosticsSchema, healthSchema, shutdownSchema, traceSchema } from '../schemas.js'
import { abortedWith } from '../aborted.js'
import { jsonSize } from '../json-size.js'
import { secondsToMs } from '../seconds.js'

export interface ObserveHooks {
  /** Begins a graceful shutdown of the whole server (called after the response is sent). */
  shutdown: () => void
}

/** What the HTTP server knows of its connections, beside the core's figures. */
export interface ConnectionFigures extends Pick<FairConnections, 'busiestAddress' | 'refused' | 'closedIdle'>, SlowReaders {
  limits: HttpLimits
}

/** The HTTP server's connection cap against its open connections (TCP: the Unix socket's are not counted). */
async function connectionsOf (server: Server): Promise<LimitUsage> {
  const used = await new Promise<number>((resolve) => {
    server.getConnections((error, count) => { resolve(error === null ? count : 0) })
  })
  return { limit: server.maxConnections, used }
}

/** The core's limits and the HTTP server's connection limits, each against its use now. */
export async function allLimits (core: DiagnosticsLimits, server: Server, connections: ConnectionFigures): Promise<DiagnosticsLimits> {
  return {
    ...core,
    connections: await connectionsOf(server),
    connectionsPerAddress: { limit: connections.limits.maxConnectionsPerAddress, used: connections.busiestAddress() },
    unreadBytes: { limit: connections.limits.maxUnreadBytes, used: connections.unread() }
  }
}

export function observeRoutes (app: FastifyInstance, core: Switch, hooks: ObserveHooks, connections: ConnectionFigures): void {
  app.get('/diagnostics', { schema: diagnosticsSchema, config: { access: { action: 'observe' } } }, async () => {
    const diagnostics = core.diagnostics(jsonSize)
    return {
      ...diagnostics,
      // The core always reports its limits; the type allows an older switch's answer without them.
      limits: diagnostics.limits === undefined ? undefined : await allLimits(diagnostics.limits, app.server, connections),
      connections: {
        refusedPerAddress: connections.refused(),
        closedIdle: connections.closedIdle(),
        closedSlowReaders: connections.closed()
      }
    }
  })

  app.get<{ Querystring: { after?: number, timeout?: number, max?: number } }>('/trace', { schema: traceSchema, config: { access: { action: 'observe' } } }, async (request, reply) => {
    const { after = 0, timeout, max = 1000 } = request.query
    return await core.waitForTrace(after, secondsToMs(timeout), max, abortedWith(reply.raw), jsonSize)
  })

  app.get('/health', { schema: healthSchema, config: { access: 'open' } }, async () => {
    const health: HealthResponse = {
      status: core.shuttingDown ? 'shutting_down' : 'ok',
      uptime: Date.now() - core.startTime
    }
    return health
  })

  app.post('/shutdown', { schema: shutdownSchema, config: { access: { action: 'admin' } } }, async (_request, reply) => {
    reply.raw.once('finish', hooks.shutdown)
    return reply.code(202).header('connection', 'close').send({ status: 'shutting_down' })
  })
}
