import type { Waiter } from './waiter.js'

/**
 * A client's session: a lease. It lives while it holds a request in flight (a long-poll counts, and so does an
 * open connection of a protocol that binds sessions to connections) or made one within the TTL.
 */
export class Session {
  readonly token: string
  readonly client: string
  readonly subscriptions = new Set<string>()
  /** Names of the temporary queues it owns. */
  readonly queues = new Set<string>()
  /** Its long-polls waiting now. */
  readonly waiters = new Set<Waiter>()
  lastActivity: number
  holds = 0

  constructor (token: string, client: string, now: number) {
    this.token = token
    this.client = client
    this.lastActivity = now
  }

  expired (now: number, ttl: number): boolean {
    return this.holds === 0 && now - this.lastActivity > ttl
  }
}
