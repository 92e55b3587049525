import type { ErrorCode } from '../../protocol/wire.js'

/** An error the switch reports to a client: a stable code and a sentence. Transports map codes to statuses. */
export class SwitchError extends Error {
  readonly code: ErrorCode
  /** The request field at fault, if one is (`name`, `replyTo`, `client`). */
  readonly field: string | undefined

  constructor (code: ErrorCode, message: string, field?: string) {
    super(message)
    this.name = 'SwitchError'
    this.code = code
    this.field = field
  }
}

export class InvalidQueueNameError extends SwitchError {
  constructor (problem: string, field = 'name') {
    super('invalid_queue_name', problem, field)
    this.name = 'InvalidQueueNameError'
  }
}

export class InvalidRequestError extends SwitchError {
  constructor (message: string, field?: string) {
    super('invalid_request', message, field)
    this.name = 'InvalidRequestError'
  }
}

export class SessionNotFoundError extends SwitchError {
  constructor () {
    super('session_not_found', 'unknown or expired session: log in again')
    this.name = 'SessionNotFoundError'
  }
}

export class QueueNotFoundError extends SwitchError {
  constructor (name: string) {
    super('queue_not_found', `queue ${JSON.stringify(name)} does not exist`)
    this.name = 'QueueNotFoundError'
  }
}

export class MessageNotFoundError extends SwitchError {
  constructor (id: number) {
    super('message_not_found', `message ${id} does not exist (never sent, or already acked)`)
    this.name = 'MessageNotFoundError'
  }
}

export class PayloadTooLargeError extends SwitchError {
  constructor (limit: number) {
    super('payload_too_large', `payload is larger than the limit of ${limit} bytes`)
    this.name = 'PayloadTooLargeError'
  }
}

export class LimitExceededError extends SwitchError {
  constructor (message: string) {
    super('limit_exceeded', message)
    this.name = 'LimitExceededError'
  }
}

/** The switch holds as many messages or bytes as it may: a send is refused until receivers catch up. */
export class InsufficientStorageError extends SwitchError {
  constructor (message: string) {
    super('insufficient_storage', message)
    this.name = 'InsufficientStorageError'
  }
}

export class ShuttingDownError extends SwitchError {
  constructor () {
    super('shutting_down', 'the switch is shutting down')
    this.name = 'ShuttingDownError'
  }
}

/** The store could not make a change durable; the change was undone, in memory too. */
export class StorageFailedError extends SwitchError {
  constructor (reason: string) {
    super('storage_failed', `the change could not be stored, so it was not made (${reason}); try again`)
    this.name = 'StorageFailedError'
  }
}

/** A login without valid credentials, or a session whose principal the auth file no longer has. */
export class UnauthorizedError extends SwitchError {
  constructor (message = 'invalid credentials') {
    super('unauthorized', message)
    this.name = 'UnauthorizedError'
  }
}

/** The session is authenticated, but its principal (or the owner rule of temporary queues) does not allow this. */
export class ForbiddenError extends SwitchError {
  constructor (message: string) {
    super('forbidden', message)
    this.name = 'ForbiddenError'
  }
}

/** Too many failed logins from one address: refused, however good the credentials, for `retryAfter` seconds. */
export class TooManyLoginsError extends SwitchError {
  readonly retryAfter: number

  constructor (retryAfter: number) {
    super('too_many_logins', `too many failed logins from this address: try again in ${retryAfter} s`)
    this.name = 'TooManyLoginsError'
    this.retryAfter = retryAfter
  }
}

/** A queue created again with options other than those it has. */
export class QueueConflictError extends SwitchError {
  constructor (name: string) {
    super('queue_conflict', `queue ${JSON.stringify(name)} exists with other options: destroy it first, or create it as it is`)
    this.name = 'QueueConflictError'
  }
}

/** A lease extended that the session does not hold: it ran out (and the message may be another's now), or was never its. */
export class NotLeasedError extends SwitchError {
  constructor (id: number) {
    super('not_leased', `message ${id} is not leased to this session (its lease ran out, or it was never delivered to it)`)
    this.name = 'NotLeasedError'
  }
}
