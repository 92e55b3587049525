import type { ErrorCode } from '../protocol/wire.js'

/** Every `code` a client error carries: the switch's own codes plus the client-side failures. */
export type ClientErrorCode = ErrorCode | 'unavailable' | 'tls' | 'timeout' | 'remote_error' | 'aborted' | 'closed'

/** The base of every error the client library throws: branch on `code`, it is stable. */
export class SwitchClientError extends Error {
  readonly code: ClientErrorCode

  constructor (code: ClientErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SwitchClientError'
    this.code = code
  }
}

/** The switch answered with a non-2xx status; `code` is the one from its JSON error body. */
export class SwitchRequestError extends SwitchClientError {
  declare readonly code: ErrorCode
  readonly status: number

  constructor (code: ErrorCode, status: number, message: string) {
    super(code, message)
    this.name = 'SwitchRequestError'
    this.status = status
  }
}

/**
 * The switch, and every other one given, could not be reached (refused, reset, socket missing, shutting down) for
 * the whole retry window; `cause` is the last failure.
 */
export class SwitchUnavailableError extends SwitchClientError {
  constructor (targets: string | readonly string[], retryFor: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    const where = typeof targets === 'string' || targets.length === 1 ? `the switch at ${String(targets)} is` : `the switches at ${targets.join(', ')} are`
    super('unavailable', `${where} unavailable (kept trying for ${retryFor} ms): ${reason}`, { cause })
    this.name = 'SwitchUnavailableError'
  }
}

/**
 * The TLS connection to the switch failed for a reason a retry does not change: its certificate is not trusted
 * (give its CA as `ca`, `--ca`), does not name the host, or the switch refused this client's certificate.
 * `reason` is Node's code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, ...).
 */
export class SwitchTlsError extends SwitchClientError {
  readonly reason: string

  constructor (target: string, reason: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super('tls', `the TLS connection to ${target} failed: ${detail} (${reason})`, { cause })
    this.name = 'SwitchTlsError'
    this.reason = reason
  }
}

export class RpcTimeoutError extends SwitchClientError {
  readonly queue: string
  /** Seconds waited. */
  readonly timeout: number

  constructor (queue: string, timeout: number) {
    super('timeout', `no reply from queue ${JSON.stringify(queue)} within ${timeout} s`)
    this.name = 'RpcTimeoutError'
    this.queue = queue
    this.timeout = timeout
  }
}

/** The service answered with an error reply (`error: true`); `payload` is what it said. */
export class RemoteError extends SwitchClientError {
  readonly queue: string
  readonly payload: string

  constructor (queue: string, payload: string) {
    super('remote_error', `queue ${JSON.stringify(queue)} replied with an error: ${payload}`)
    this.name = 'RemoteError'
    this.queue = queue
    this.payload = payload
  }
}

/** The caller's AbortSignal fired. Named like the platform's abort errors so `name === 'AbortError'` checks work. */
export class AbortError extends SwitchClientError {
  constructor (message = 'the operation was aborted') {
    super('aborted', message)
    this.name = 'AbortError'
  }
}

export class ClientClosedError extends SwitchClientError {
  constructor () {
    super('closed', 'the switch client is closed')
    this.name = 'ClientClosedError'
  }
}

/**
 * Internal: a request pinned to one session found another session current. Shares the code of the server's
 * "log in again" error so both are handled by `isSessionLost`.
 */
export class SessionChangedError extends SwitchClientError {
  constructor () {
    super('session_not_found', 'the session changed before the request was sent')
    this.name = 'SessionChangedError'
  }
}

/** True when the session a request ran in (or was pinned to) is gone. */
export function isSessionLost (error: unknown): boolean {
  return error instanceof SwitchClientError && error.code === 'session_not_found'
}

export function hasCode (error: unknown, code: ClientErrorCode): boolean {
  return error instanceof SwitchClientError && error.code === code
}
