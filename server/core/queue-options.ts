import {
  DEFAULT_VISIBILITY_TIMEOUT,
  MAX_MESSAGE_TTL,
  MAX_VISIBILITY_TIMEOUT,
  queueNameProblem,
  type QueueOptions
} from '../../protocol/wire.js'
import { InvalidRequestError } from './errors.js'

function checkSeconds (value: number | undefined, max: number, field: string): void {
  if (value === undefined) return
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new InvalidRequestError(`${field} must be more than 0 and at most ${max} seconds`, field)
}

/**
 * A creation's options as they are kept and compared: checked, with the defaults a work queue implies filled
 * in, and nothing for what is left as it is by default (`{}` is a plain cursor queue). Options are settled here,
 * before they become an operation, so that every switch applying it keeps the same ones.
 */
export function queueOptions (given: QueueOptions): QueueOptions {
  const normal: QueueOptions = {}
  const mode = given.mode ?? 'cursor'
  if (mode !== 'cursor' && mode !== 'work') throw new InvalidRequestError('mode must be "work" or "cursor"', 'mode')
  if (mode === 'work') {
    checkSeconds(given.visibilityTimeout, MAX_VISIBILITY_TIMEOUT, 'visibilityTimeout')
    normal.mode = 'work'
    normal.visibilityTimeout = given.visibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT
  } else {
    // Only a lease counts deliveries durably: a cursor queue has neither.
    if (given.visibilityTimeout !== undefined) throw new InvalidRequestError('visibilityTimeout needs mode "work"', 'visibilityTimeout')
    if (given.maxDeliveries !== undefined) throw new InvalidRequestError('maxDeliveries needs mode "work"', 'maxDeliveries')
  }
  if (given.maxDeliveries !== undefined) {
    if (!Number.isInteger(given.maxDeliveries) || given.maxDeliveries < 1) throw new InvalidRequestError('maxDeliveries must be a positive integer', 'maxDeliveries')
    normal.maxDeliveries = given.maxDeliveries
  }
  if (given.deadLetter !== undefined) {
    const problem = queueNameProblem(given.deadLetter)
    if (problem !== undefined) throw new InvalidRequestError(`deadLetter: ${problem}`, 'deadLetter')
    normal.deadLetter = given.deadLetter
  }
  checkSeconds(given.messageTtl, MAX_MESSAGE_TTL, 'messageTtl')
  if (given.messageTtl !== undefined) normal.messageTtl = given.messageTtl
  return normal
}

/** True when two normalized options say the same. */
export function sameOptions (a: QueueOptions, b: QueueOptions): boolean {
  return a.mode === b.mode && a.visibilityTimeout === b.visibilityTimeout && a.maxDeliveries === b.maxDeliveries &&
    a.deadLetter === b.deadLetter && a.messageTtl === b.messageTtl
}
