import { InvalidRequestError } from '../core/errors.js'

/**
 * A `timeout` query parameter (seconds, fractions allowed) as milliseconds. JSON Schema lets `1e309` through as
 * Infinity, so finiteness is checked here.
 */
export function secondsToMs (seconds: number | undefined, field = 'timeout'): number {
  if (seconds === undefined) return 0
  if (!Number.isFinite(seconds)) throw new InvalidRequestError(`querystring/${field} must be a finite number of seconds`)
  return Math.round(seconds * 1000)
}
