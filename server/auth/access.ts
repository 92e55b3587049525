import { LEVEL_SEPARATOR, MULTI_LEVEL, SINGLE_LEVEL } from '../../protocol/topics.js'
import { ForbiddenError, UnauthorizedError } from '../core/errors.js'
import type { Principals } from './principals.js'

/** What a principal may be allowed to do; see the README's security section. */
export const ACTIONS = ['send', 'receive', 'manage', 'publish', 'observe', 'admin'] as const
export type Action = typeof ACTIONS[number]

/** Actions that apply to the whole switch: their grants name no queue or topic. */
export const GLOBAL_ACTIONS: ReadonlySet<Action> = new Set(['observe', 'admin'])

/** One entry of a principal's `permissions`: these actions on queues matching a glob, topics covered by a filter. */
export interface Grant {
  actions: Action[]
  /** Queue-name globs: `*` matches any run of characters (`/` too). */
  queues?: string[]
  /** MQTT topic filters (`+` one level, `#` the rest). */
  topics?: string[]
}

/** What an action is about: a queue, a topic (or a filter, for a binding), or the switch itself (neither). */
export type Resource = { queue: string } | { topic: string } | Record<string, never>

const globCache = new Map<string, RegExp>()

/** Whether `name` matches `glob`, where `*` matches any run of characters and everything else itself. */
export function globMatches (glob: string, name: string): boolean {
  let pattern = globCache.get(glob)
  if (pattern === undefined) {
    pattern = new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('.*')}$`)
    // Globs come from one file; the cache is bounded by it, plus what a reload adds.
    if (globCache.size > 10_000) globCache.clear()
    globCache.set(glob, pattern)
  }
  return pattern.test(name)
}

/**
 * Whether every topic `filter` matches is matched by `grant` (both MQTT filters; a topic name is a filter
 * without wildcards, so this also answers whether a grant matches a topic).
 */
export function filterCovers (grant: string, filter: string): boolean {
  const granted = grant.split(LEVEL_SEPARATOR)
  const asked = filter.split(LEVEL_SEPARATOR)
  for (let i = 0; i < granted.length; i++) {
    const level = granted[i]
    if (level === MULTI_LEVEL) return true
    if (i >= asked.length) return false
    if (asked[i] === MULTI_LEVEL) return false
    if (level === SINGLE_LEVEL) continue
    if (asked[i] === SINGLE_LEVEL || asked[i] !== level) return false
  }
  return granted.length === asked.length
}

/** Whether the grants allow `action` on `resource`. */
export function granted (grants: readonly Grant[], action: Action, resource: Resource): boolean {
  return grants.some((grant) => {
    if (!grant.actions.includes(action)) return false
    if (GLOBAL_ACTIONS.has(action)) return true
    if ('queue' in resource) return grant.queues?.some((glob) => globMatches(glob, resource.queue)) ?? false
    if ('topic' in resource) return grant.topics?.some((filter) => filterCovers(filter, resource.topic)) ?? false
    return false
  })
}

/** The words of a refusal: `send to queue "x"`, `observe the switch`. */
function describeAccess (action: Action, resource: Resource): string {
  if ('queue' in resource) return `${action} on queue ${JSON.stringify(resource.queue)}`
  if ('topic' in resource) return `${action} on topic ${JSON.stringify(resource.topic)}`
  return action
}

/**
 * Who may do what: with an auth file, what its principals' permissions allow (looked up by name at every
 * check, so a reload applies at once); without one, everything, as the principal `anonymous`.
 */
export class AccessPolicy {
  /**
   * `isTemporary` names the queues the file does not govern: a session's temporary queues, which the core guards
   * (its owner may do anything with one, anyone may send to it).
   */
  constructor (readonly principals?: Principals, private readonly isTemporary: (queue: string) => boolean = () => false) {}

  /** Whether there is an auth file: logins need credentials and every request is checked. */
  get enabled (): boolean {
    return this.principals !== undefined
  }

  may (principal: string, action: Action, resource: Resource): boolean {
    if (this.principals === undefined) return true
    const found = this.principals.get(principal)
    return found !== undefined && granted(found.permissions, action, resource)
  }

  /** Throws UnauthorizedError if the auth file no longer has the principal (a reload removed it). */
  checkKnown (principal: string): void {
    if (this.principals !== undefined && this.principals.get(principal) === undefined) {
      throw new UnauthorizedError(`principal ${principal} is no longer in the auth file`)
    }
  }

  /** Throws UnauthorizedError or ForbiddenError unless `principal` may do `action` on `resource`. */
  check (principal: string, action: Action, resource: Resource): void {
    if ('queue' in resource && this.isTemporary(resource.queue)) return
    if (this.may(principal, action, resource)) return
    this.checkKnown(principal)
    throw new ForbiddenError(`principal ${principal} may not ${describeAccess(action, resource)}`)
  }
}
