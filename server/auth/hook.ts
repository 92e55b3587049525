import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AccessPolicy, Action, Resource } from './access.js'

/** One permission a route needs: an action, on the queue(s) or topic the request names, or on the switch. */
export interface AccessRule {
  action: Action
  /** The queues it acts on; undefined (or none) checks nothing: the core answers for a message that is not there. */
  queue?: (request: FastifyRequest) => string | Iterable<string> | undefined
  /** The topic, or topic filter, it acts on. */
  topic?: (request: FastifyRequest) => string | undefined
}

/**
 * What a route needs: `open` (anyone, no session), `session` (any authenticated session), or rules, all of which
 * must hold. Every /v1 route declares one (the API refuses to register a route that does not).
 */
export type RouteAccess = 'open' | 'session' | AccessRule | AccessRule[]

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess
  }
}

/** A route parameter, for rules: `queue: param('name')`. */
export function param (name: string): (request: FastifyRequest) => string | undefined {
  return (request) => (request.params as Record<string, string | undefined>)[name]
}

/** Whether a route needs a session to be checked: with an auth file, every route but the open ones. */
export function needsSession (access: RouteAccess | undefined, policy: AccessPolicy): boolean {
  return policy.enabled && access !== undefined && access !== 'open'
}

function * resourcesOf (rule: AccessRule, request: FastifyRequest): Generator<Resource> {
  if (rule.queue !== undefined) {
    const queues = rule.queue(request)
    if (typeof queues === 'string') yield { queue: queues }
    else if (queues !== undefined) for (const queue of queues) yield { queue }
  } else if (rule.topic !== undefined) {
    const topic = rule.topic(request)
    if (topic !== undefined) yield { topic }
  } else {
    yield {}
  }
}

/**
 * Checks each route's declared `access` against the session's principal, once, before any route runs (after
 * the session is resolved). Without an auth file it checks nothing: every session may do everything.
 */
export function installAccessHook (app: FastifyInstance, policy: AccessPolicy): void {
  if (!policy.enabled) return
  app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const access = request.routeOptions.config.access
    // A session's principal, or an API key's on a route that takes one (see session-auth).
    const principal = request.switchSession?.principal ?? request.switchPrincipal
    if (access === undefined || access === 'open' || principal === undefined) { done(); return }
    try {
      policy.checkKnown(principal)
      if (access !== 'session') {
        for (const rule of Array.isArray(access) ? access : [access]) {
          for (const resource of resourcesOf(rule, request)) policy.check(principal, rule.action, resource)
        }
      }
    } catch (error) {
      done(error as Error)
      return
    }
    done()
  })
}

/** Refuses to register an API route that does not say what it needs (so that none is left unchecked by mistake). */
export function requireAccessDeclared (api: FastifyInstance): void {
  api.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) throw new Error(`route ${route.method.toString()} ${route.url} declares no config.access`)
  })
}
