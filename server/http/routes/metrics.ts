import type { FastifyInstance } from 'fastify'
import type { Switch } from '../../core/switch.js'
import type { HttpFigures } from '../../metrics/http-figures.js'
import { MAX_QUEUE_SERIES, SwitchMetrics } from '../../metrics/registry.js'
import { allLimits, type ConnectionFigures } from './observe.js'

/**
 * `GET /metrics`: Prometheus text, at the root where scrapers look. It needs `observe` under an auth file, shown
 * by a session's token or, as scrapers cannot log in, an API key: `Authorization: Bearer <key>`.
 */
export function metricsRoutes (app: FastifyInstance, core: Switch, http: HttpFigures, connections: ConnectionFigures): void {
  // Made at the first scrape: a switch nobody scrapes pays nothing for the registry and the process metrics.
  let metrics: SwitchMetrics | undefined
  app.get('/metrics', { config: { access: { action: 'observe' }, apiKey: true } }, async (_request, reply) => {
    metrics ??= new SwitchMetrics({
      observe: () => core.observation(MAX_QUEUE_SERIES),
      http,
      limits: async (limits) => await allLimits(limits, app.server, connections)
    })
    const text = await metrics.scrape()
    return await reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text)
  })
}
