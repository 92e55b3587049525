import { createHmac, randomBytes } from 'node:crypto'
import type { Watcher } from './watcher.js'

/** The principal of every session of a switch without an auth file, and of the original protocols' sessions over the socket. */
export const ANONYMOUS = 'anonymous'

/**
 * Where a session comes from: a /v1 login (a token the switch made), or an original protocol's login (a token
 * the client chose, its program name and PID). Each protocol accepts only its own kind.
 */
export type SessionKind = 'v1' | 'original'

/**
 * What an original session's token is kept under: a prefix no /v1 token has (they are nanoids), so a token an
 * original client chooses can never name a /v1 session.
 */
const ORIGINAL_KEY = 'original:'

/** The key a session of `kind` started with `token` is kept under. */
export function sessionKey (kind: SessionKind, token: string): string {
  return kind === 'original' ? `${ORIGINAL_KEY}${token}` : token
}

// Keyed per process: the ids tell sessions apart in diagnostics, and even an original client's guessable token
// cannot be found from its id.
const ID_KEY = randomBytes(32)

/**
 * A client's session: a lease. It lives while it holds a request in flight (a long-poll counts, and so does an
 * open connection of a protocol that binds sessions to connections) or made one within the TTL.
 */
export class Session {
  /** Its key: the /v1 bearer token, or `original:` and the token an original client chose. */
  readonly token: string
  readonly client: string
  /** The principal it logged in as; its permissions are looked up by this name at every check. */
  readonly principal: string
  readonly subscriptions = new Set<string>()
  /** Names of the temporary queues it owns. */
  readonly queues = new Set<string>()
  /** Its long-polls waiting now, and its running deliveries. */
  readonly waiters = new Set<Watcher>()
  /** Milliseconds of inactivity after which it ends: the switch's TTL, or the lease its login asked for. */
  readonly ttl: number
  lastActivity: number
  holds = 0

  constructor (token: string, client: string, principal: string, now: number, ttl: number) {
    this.token = token
    this.client = client
    this.principal = principal
    this.lastActivity = now
    this.ttl = ttl
  }

  get kind (): SessionKind {
    return this.token.startsWith(ORIGINAL_KEY) ? 'original' : 'v1'
  }

  /** A short id that tells sessions apart in diagnostics and reveals nothing of the token. */
  get id (): string {
    return createHmac('sha256', ID_KEY).update(this.token).digest('hex').slice(0, 8)
  }

  /**
   * Its name in /v1 answers: the client name it logged in with, except for an original session, whose client
   * name is its token (the original protocols use it as both).
   */
  get shownClient (): string {
    return this.kind === 'original' ? `original protocol client ${this.id}` : this.client
  }

  expired (now: number): boolean {
    return this.holds === 0 && now - this.lastActivity > this.ttl
  }
}
