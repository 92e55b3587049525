import { randomBytes } from 'node:crypto'
import { SwitchError } from '../core/errors.js'

/** Milliseconds a stream ticket stays valid: long enough for a page to open its EventSource, no longer. */
const STREAM_TICKET_TTL = 30_000

/** Tickets outstanding at once: each is a few dozen bytes, but a session could otherwise ask for millions. */
const MAX_STREAM_TICKETS = 10_000

export interface StreamTicketOptions {
  ttl?: number
  max?: number
  /** The clock, injectable for tests. */
  now?: () => number
}

/**
 * Short-lived, single-use tickets that open a session's event stream without its bearer token: a browser's
 * EventSource cannot send an Authorization header, and a URL (which lands in logs and history) must never hold
 * the session token. A ticket is random, stands for one session, is consumed by its first use and expires.
 */
export class StreamTickets {
  private readonly tickets = new Map<string, { token: string, expires: number }>()
  private readonly ttl: number
  private readonly max: number
  private readonly now: () => number

  constructor (options: StreamTicketOptions = {}) {
    this.ttl = options.ttl ?? STREAM_TICKET_TTL
    this.max = options.max ?? MAX_STREAM_TICKETS
    this.now = options.now ?? Date.now
  }

  /** A new ticket for the session of `token`. */
  issue (token: string): { ticket: string, expires: number } {
    this.forgetExpired()
    if (this.tickets.size >= this.max) {
      throw new SwitchError('limit_exceeded', `${this.max} stream tickets are outstanding; retry in ${Math.ceil(this.ttl / 1000)} seconds`)
    }
    const ticket = randomBytes(24).toString('base64url')
    const expires = this.now() + this.ttl
    this.tickets.set(ticket, { token, expires })
    return { ticket, expires }
  }

  /** The session token a ticket stands for; the ticket is used up. Unknown, used and expired tickets are refused alike. */
  redeem (ticket: string): string {
    const entry = this.tickets.get(ticket)
    this.tickets.delete(ticket)
    if (entry === undefined || entry.expires <= this.now()) {
      throw new SwitchError('ticket_not_found', 'the stream ticket is unknown, used or expired: ask for a new one (POST /v1/stream/tickets)', 'ticket')
    }
    return entry.token
  }

  /** Tickets are kept in the order they were issued, all with the same lifetime: the expired ones come first. */
  private forgetExpired (): void {
    const now = this.now()
    for (const [ticket, { expires }] of this.tickets) {
      if (expires > now) break
      this.tickets.delete(ticket)
    }
  }
}
