import type { Waiter } from './waiter.js'

/** The principal of every session of a switch without an auth file, and of the original protocols' sessions. */
export const ANONYMOUS = 'anonymous'

/**
 * A client's session: a lease. It lives while it holds a request in flight (a long-poll counts, and so does an
 * open connection of a protocol that binds sessions to connections) or made one within the TTL.
 */
export class Session {
  readonly token: string
  readonly client: string
  /** The principal it logged in as; its permissions are looked up by this name at every check. */
  readonly principal: string
  readonly subscriptions = new Set<string>()
  /** Names of the temporary queues it owns. */
  readonly queues = new Set<string>()
  /** Its long-polls waiting now. */
  readonly waiters = new Set<Waiter>()
  lastActivity: number
  holds = 0

  constructor (token: string, client: string, principal: string, now: number) {
    this.token = token
    this.client = client
    this.principal = principal
    this.lastActivity = now
  }

  expired (now: number, ttl: number): boolean {
    return this.holds === 0 && now - this.lastActivity > ttl
  }
}
