import { UnauthorizedError } from '../core/errors.js'
import { ANONYMOUS } from '../core/session.js'
import type { Credentials, Principals } from './principals.js'
import type { LoginThrottle } from './throttle.js'

/**
 * Who a login is: with an auth file, the principal its credentials prove (UnauthorizedError if none, and each
 * failure counts against the client's address: past the throttle's limit it is TooManyLoginsError, credentials
 * or not); without one, `anonymous`, whatever it presents.
 */
export async function authenticate (
  principals: Principals | undefined, throttle: LoginThrottle, address: string, credentials: Credentials
): Promise<string> {
  if (principals === undefined) return ANONYMOUS
  throttle.check(address)
  const principal = await principals.authenticate(credentials)
  if (principal === undefined) {
    throttle.failed(address)
    throw new UnauthorizedError(credentials.apiKey === undefined && credentials.secret === undefined
      ? 'this switch needs credentials to log in: principal and secret, or apiKey'
      : 'invalid credentials')
  }
  return principal.name
}
