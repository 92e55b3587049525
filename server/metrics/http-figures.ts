import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import type { ErrorCode } from '../../protocol/wire.js'
import { Distribution } from '../core/observe.js'

/** The kinds of long-lived streamed answers, each counted while open. */
export type StreamKind = 'events' | 'deliveries' | 'socket'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers with a stream that stays open: counted in the open streams while it is. */
    stream?: StreamKind
  }
}

/** The label of requests no route matched (a 404, a URL the router refused). */
export const NO_ROUTE = 'none'

/** One route's answers: how long they took, in seconds. */
export interface RouteTimes {
  route: string
  method: string
  seconds: Distribution
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
type SendHook = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload: unknown) => void) => void

function withHook<T> (hooks: T | T[] | undefined, hook: T): T[] {
  return hooks === undefined ? [hook] : Array.isArray(hooks) ? [...hooks, hook] : [hooks, hook]
}

/**
 * What the HTTP server counts as it answers, for metrics: each route's answer times, the errors by route and
 * code, the streams open. Per request it costs one hook function that counts a time into its route's buckets,
 * made when the route is registered: no label is looked up or allocated per request.
 */
export class HttpFigures {
  readonly routes: RouteTimes[] = []
  /** Error answers by route, method and code, keyed `route method code`. */
  readonly errors = new Map<string, { route: string, method: string, code: ErrorCode, count: number }>()
  readonly streams: Record<StreamKind, number> = { events: 0, deliveries: 0, socket: 0 }

  /** Times every route registered from now on (on `app` and the plugins registered on it after this). */
  install (app: FastifyInstance): void {
    app.addHook('onRoute', (route: RouteOptions) => {
      const times: RouteTimes = { route: route.url, method: [route.method].flat().join(','), seconds: new Distribution() }
      this.routes.push(times)
      // Timed as the answer is sent (reply.elapsedTime: ms since the request was routed). An onSend hook, as every
      // route has one already (app.ts): one more function in its list, where an onResponse hook would add a
      // hook runner, and its closures, to every request. A streamed answer is never "sent": it is not timed.
      route.onSend = withHook<SendHook>(route.onSend as SendHook | SendHook[] | undefined, (_request, reply, payload, done) => {
        times.seconds.observe(reply.elapsedTime / 1000)
        done(null, payload)
      }) as RouteOptions['onSend']
      const kind = route.config?.stream
      if (kind !== undefined) {
        // After the session and access checks (the global preHandlers): a refused stream was never open.
        route.preHandler = withHook<Hook>(route.preHandler as Hook | Hook[] | undefined, (_request, reply, done) => {
          this.streams[kind]++
          reply.raw.once('close', () => { this.streams[kind]-- })
          done()
        })
      }
    })
  }

  /** Counts an error answer; `route` is the route's URL pattern, or NO_ROUTE. */
  error (route: string, method: string, code: ErrorCode): void {
    const key = `${route} ${method} ${code}`
    const entry = this.errors.get(key)
    if (entry === undefined) this.errors.set(key, { route, method, code, count: 1 })
    else entry.count++
  }

  /** Counts the error answer to `request`, by the route it matched. */
  errorOf (request: FastifyRequest, code: ErrorCode): void {
    this.error(request.routeOptions.url ?? NO_ROUTE, request.method, code)
  }
}
