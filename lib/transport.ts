import { setMaxListeners } from 'node:events'
import { Pool, type Dispatcher } from 'undici'
import { Backoff, sleep } from './backoff.js'
import {
  AbortError,
  ClientClosedError,
  SwitchRequestError,
  SwitchTlsError,
  SwitchUnavailableError
} from './errors.js'
import { API_PREFIX, ERROR_CODES, ERROR_STATUS, IDEMPOTENCY_HEADER, SESSION_HEADER, type ErrorCode } from '../protocol/wire.js'
import { linkSignals } from './signals.js'

export interface TransportOptions {
  url: string
  socketPath?: string
  connections: number
  /** Milliseconds to keep retrying while the switch cannot be reached. */
  retryFor: number
  /** Told when the switch is reached, and when it turns unreachable: see SwitchClientOptions.onReachability. */
  onReachability?: (change: Reachability) => void
  /** For an https URL: the CA to trust, and a client certificate (see SwitchClientOptions). */
  tls?: TlsClientOptions
}

/** PEM text or bytes. */
export interface TlsClientOptions {
  ca?: string | Buffer
  cert?: string | Buffer
  key?: string | Buffer
}

/**
 * A change in whether the switch can be reached: it answered (first contact, or back after an outage), or a
 * request could not reach it and is being retried. `reason` says why in a few words ("connection refused").
 */
export type Reachability = { reachable: true } | { reachable: false, reason: string, error: unknown }

export type Query = Record<string, string | number | boolean | undefined>

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** The path under /v1, already percent-encoded. */
  path: string
  query?: Query
  /** A raw body (a message payload). */
  body?: string | Uint8Array
  /** A JSON body. */
  json?: unknown
  token?: string
  idempotencyKey?: string
  /** Further headers (e.g. `Last-Event-ID`). */
  headers?: Record<string, string>
  /** Seconds the switch may hold the request open (a long-poll); undici's timeouts are widened to fit. */
  poll?: number
  /** False: one attempt, no waiting for an unreachable switch (best-effort requests like the logout in close). */
  retry?: boolean
  /** Sent while closing (the logout): not cut off by `abort()`. */
  final?: boolean
  signal?: AbortSignal
}

/** Beyond a long-poll's own timeout, how long undici waits before it calls the switch dead. */
const POLL_GRACE_MS = 30_000

/** Failures that mean "the switch is not there right now" (not up yet, restarting, socket not created yet). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT'
])

/** Codes for error bodies that are not the switch's own (a proxy, or Fastify answering while it closes). */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'session_required',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'limit_exceeded',
  503: 'shutting_down'
}

function errorCodeOf (value: unknown): ErrorCode | undefined {
  return ERROR_CODES.find((code) => code === value)
}

function errorCodeOfCause (error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  const { code } = error as Error & { code?: unknown }
  if (typeof code === 'string') return code
  return errorCodeOfCause(error.cause)
}

/**
 * The switch's error body `{"error": {"code", "message"}}` as an error, else undefined. Without `status` (an
 * item of a batch answered as a whole), the status is the one the item's own request would have had.
 */
export function fromErrorBody (body: unknown, status?: number): SwitchRequestError | undefined {
  const error = (body as { error?: { code?: unknown, message?: unknown } } | null)?.error
  const code = errorCodeOf(error?.code)
  if (code === undefined || typeof error?.message !== 'string') return undefined
  return new SwitchRequestError(code, status ?? ERROR_STATUS[code], error.message)
}

export function toRequestError (status: number, text: string): SwitchRequestError {
  try {
    const known = fromErrorBody(JSON.parse(text), status)
    if (known !== undefined) return known
  } catch {
    // Not JSON: described below from the status.
  }
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text
  return new SwitchRequestError(CODE_BY_STATUS[status] ?? 'internal', status, `HTTP ${status}${shown === '' ? '' : `: ${shown}`}`)
}

/** Why the switch could not be reached, in words a person reads in a one-line notice. */
const REASON_BY_CODE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ENOENT: 'no socket there',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out'
}

function unreachableReason (error: unknown): string {
  if (error instanceof SwitchRequestError) return error.code === 'shutting_down' ? 'it is shutting down' : error.message
  const code = errorCodeOfCause(error)
  return REASON_BY_CODE[code ?? ''] ?? (error instanceof Error ? error.message : String(error))
}

/**
 * Codes of a TLS connection that failed for a reason retrying will not change: an untrusted or wrong certificate
 * (either side's), or a protocol mismatch. Node names OpenSSL's verification results bare (the first group).
 */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID'
])

function isTlsFailure (code: string | undefined): boolean {
  return code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_'))
}

function isUnreachable (error: unknown): boolean {
  // A switch that is shutting down comes back (a restart) or stays away (then retryFor runs out).
  if (error instanceof SwitchRequestError) return error.status === 503 && error.code !== 'storage_failed'
  const code = errorCodeOfCause(error)
  return code !== undefined && UNREACHABLE_CODES.has(code)
}

/**
 * HTTP to one switch over a keep-alive undici Pool: JSON in and out, the switch's error bodies turned into
 * SwitchRequestError, and requests that could not reach the switch retried with backoff for `retryFor` ms.
 */
export class Transport {
  readonly target: string
  private readonly pool: Pool
  private readonly base: string
  private readonly retryFor: number
  private readonly onReachability: ((change: Reachability) => void) | undefined
  /** Undefined until a first answer or retry: each change is told once, however many requests see it. */
  private reachable: boolean | undefined
  private readonly closing = new AbortController()
  private closed: Promise<void> | undefined

  constructor (options: TransportOptions) {
    const url = new URL(options.url)
    this.target = options.socketPath ?? url.origin
    this.base = url.pathname.replace(/\/+$/, '') + API_PREFIX
    this.retryFor = options.retryFor
    this.onReachability = options.onReachability
    // Every request in flight listens for the close: hundreds at once are normal.
    setMaxListeners(0, this.closing.signal)
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
      // Verification stays on: a given CA replaces the system's for this switch, it does not switch checks off.
      ...(options.tls === undefined ? {} : { connect: { ...options.tls } })
    })
  }

  async request<T> (request: HttpRequest): Promise<T> {
    const { signal, dispose } = this.linked(request)
    try {
      return await this.retrying(request, signal, async () => await this.attempt<T>(request, signal))
    } finally {
      dispose()
    }
  }

  /**
   * A request whose answer is read as it arrives (an event stream), retried like `request` until it gets one:
   * resolves with the body of that 2xx answer, for the caller to read and destroy. The request's signal, or
   * closing the client, cuts it.
   */
  async open (request: HttpRequest): Promise<Dispatcher.ResponseData['body']> {
    const { signal, dispose } = this.linked(request)
    try {
      const { body } = await this.retrying(request, signal, async () => await this.dispatch(request, signal))
      body.once('close', dispose)
      return body
    } catch (error) {
      dispose()
      throw error
    }
  }

  private linked (request: HttpRequest): { signal: AbortSignal | undefined, dispose: () => void } {
    const closing = request.final === true ? undefined : this.closing.signal
    // Linking costs a controller and a listener on each signal: only worth it with two signals to follow.
    if (request.signal === undefined) return { signal: closing, dispose: noop }
    return linkSignals(request.signal, closing)
  }

  /** Runs `attempt` until it gets an answer, backing off while the switch cannot be reached, for up to `retryFor`. */
  private async retrying<T> (request: HttpRequest, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    let backoff: Backoff | undefined
    let firstFailure: number | undefined
    for (;;) {
      let failure: unknown
      try {
        const answer = await attempt()
        this.reached({ reachable: true })
        return answer
      } catch (error) {
        this.throwIfAborted(request)
        const code = errorCodeOfCause(error)
        if (isTlsFailure(code)) throw new SwitchTlsError(this.target, code ?? '', error)
        if (!isUnreachable(error)) {
          // The switch answered, with an error of its own.
          if (error instanceof SwitchRequestError) this.reached({ reachable: true })
          throw error
        }
        failure = error
      }
      const now = Date.now()
      firstFailure ??= now
      backoff ??= new Backoff()
      const wait = backoff.next()
      if (request.retry === false || now - firstFailure + wait > this.retryFor) {
        throw new SwitchUnavailableError(this.target, request.retry === false ? 0 : this.retryFor, failure)
      }
      this.reached({ reachable: false, reason: unreachableReason(failure), error: failure })
      try {
        await sleep(wait, signal)
      } catch {
        this.throwIfAborted(request)
      }
    }
  }

  private reached (change: Reachability): void {
    if (this.reachable === change.reachable) return
    this.reachable = change.reachable
    this.onReachability?.(change)
  }

  /** After a failure: the caller's abort and the client's close win over whatever undici reported. */
  private throwIfAborted ({ signal: callerSignal, final }: HttpRequest): void {
    if (callerSignal?.aborted === true) throw new AbortError()
    if (this.closing.signal.aborted && final !== true) throw new ClientClosedError()
  }

  private async attempt<T> (request: HttpRequest, signal: AbortSignal | undefined): Promise<T> {
    const response = await this.dispatch(request, signal)
    if (response.statusCode === 204) {
      await response.body.dump()
      return undefined as T
    }
    return JSON.parse(await response.body.text()) as T
  }

  /** Sends the request once; resolves with a 2xx answer, or throws the switch's error. */
  private async dispatch (request: HttpRequest, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { ...request.headers }
    let body: string | Uint8Array | undefined
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(request.json)
    } else if (request.body !== undefined) {
      headers['content-type'] = typeof request.body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'
      body = request.body
    }
    if (request.token !== undefined) headers[SESSION_HEADER] = `Bearer ${request.token}`
    if (request.idempotencyKey !== undefined) headers[IDEMPOTENCY_HEADER] = request.idempotencyKey
    const timeout = request.poll === undefined ? {} : { headersTimeout: request.poll * 1000 + POLL_GRACE_MS, bodyTimeout: request.poll * 1000 + POLL_GRACE_MS }
    const response = await this.pool.request({
      method: request.method,
      path: this.base + request.path + queryString(request.query),
      headers,
      body,
      signal,
      ...timeout
    })
    if (response.statusCode < 200 || response.statusCode >= 300) throw toRequestError(response.statusCode, await response.body.text())
    return response
  }

  /** Aborts every request and backoff wait still running (except `final` ones); later ones fail at once. */
  abort (): void {
    this.closing.abort()
  }

  /** Aborts, then closes the pool once the `final` requests are done. Idempotent. */
  async close (): Promise<void> {
    this.abort()
    this.closed ??= this.pool.close()
    await this.closed
  }
}

const noop = (): void => {}

function queryString (query: Query | undefined): string {
  if (query === undefined) return ''
  let text = ''
  for (const key in query) {
    const value = query[key]
    if (value !== undefined) text += `${text === '' ? '?' : '&'}${key}=${encodeURIComponent(value)}`
  }
  return text
}
