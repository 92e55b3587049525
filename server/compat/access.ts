// Who the original protocols act as. Their clients present no credentials: over the Unix socket its file
// permissions are the authority (whoever may connect may do anything, as with the original switch); over TCP
// with an auth file they act as the principal the file names for them, through the same policy as /v1, or are
// refused. Without an auth file anything goes, as for /v1.
import type { FastifyRequest } from 'fastify'
import type { AccessPolicy, Action } from '../auth/access.js'
import { UnauthorizedError } from '../core/errors.js'
import { ANONYMOUS } from '../core/session.js'
import { isSocketFileConnection } from '../socket.js'

export class OriginalAccess {
  constructor (private readonly policy: AccessPolicy) {}

  /** The principal a request acts as; undefined when it may do anything. Throws UnauthorizedError if refused. */
  private principalOf (request: FastifyRequest): string | undefined {
    const principals = this.policy.principals
    if (principals === undefined || isSocketFileConnection(request.raw.socket)) return undefined
    const principal = principals.originalPrincipal
    if (principal === undefined) {
      throw new UnauthorizedError('this switch has an auth file and names no principal for the original protocols over TCP ' +
        '(originalProtocols: { principal: NAME }): use its Unix socket, or the /v1 API with credentials')
    }
    return principal
  }

  /** Throws unless the request may use the original protocols at all (every request of theirs is checked so). */
  admit (request: FastifyRequest): void {
    this.principalOf(request)
  }

  /** The principal a login on this request's connection acts as, for its session. */
  loginPrincipal (request: FastifyRequest): string {
    return this.principalOf(request) ?? ANONYMOUS
  }

  /**
   * Throws unless the request may do `action` on each of `queues` (given none, on the switch itself: observe,
   * admin). Temporary queues are the core's to guard, as for /v1.
   */
  check (request: FastifyRequest, action: Action, queues?: string | Iterable<string>): void {
    const principal = this.principalOf(request)
    if (principal === undefined) return
    if (queues === undefined) {
      this.policy.check(principal, action, {})
      return
    }
    for (const queue of typeof queues === 'string' ? [queues] : queues) this.policy.check(principal, action, { queue })
  }
}
