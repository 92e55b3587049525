import { setMaxListeners } from 'node:events'
import { Agent, Pool, type Dispatcher } from 'undici'
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
import type { SocketTarget } from './socket.js'
import { SOCKET_PATH } from '../protocol/socket.js'

export interface TransportOptions {
  /** The switches to use, one at a time, in this order: the next one when the one in use fails (see Transport). */
  urls: readonly string[]
  /** Reach the (one) switch over this Unix socket; the URL then only gives the Host header. */
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
 * A change in whether a switch can be reached: it answered (first contact, back after an outage, or the one
 * failed over to), or a request could not reach it and is being retried (on the next switch, when several are
 * given). `target` names the switch (its URL, or the socket path); `reason` says why in a few words
 * ("connection refused").
 */
export type Reachability =
  | { reachable: true, target: string }
  | { reachable: false, target: string, reason: string, error: unknown }

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

/** One switch of the client's: its own keep-alive pool. */
interface Node {
  /** The URL as given. */
  readonly url: string
  /** How errors and reachability name it: the URL without a trailing slash, or the socket path. */
  readonly target: string
  /** The path prefix of every request: /v1 under the URL's own path (a switch behind a proxy's prefix). */
  readonly base: string
  readonly pool: Pool
  /** Sockets' own connections: an upgraded connection leaves the pool for good. */
  readonly sockets: Agent
}

function nodeOf (text: string, options: TransportOptions): Node {
  const url = new URL(text)
  const path = url.pathname.replace(/\/+$/, '')
  const reach = {
    ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
    // Verification stays on: a given CA replaces the system's for this switch, it does not switch checks off.
    ...(options.tls === undefined ? {} : { connect: { ...options.tls } })
  }
  const pool = new Pool(url.origin, { connections: options.connections, ...reach })
  return { url: text, target: options.socketPath ?? url.origin + path, base: path + API_PREFIX, pool, sockets: new Agent(reach) }
}

/**
 * HTTP to a switch over a keep-alive undici Pool: JSON in and out, the switch's error bodies turned into
 * SwitchRequestError, and requests that could not reach the switch retried with backoff for `retryFor` ms.
 *
 * Given several switches (sharing one store: `switch serve --redis`), it uses one at a time and moves to the
 * next when a request cannot reach the one in use (refused, reset, connect timeout) or it answers 503 (shutting
 * down, or its store failed): the request goes to the next switch at once, with the same token and idempotency
 * key, and only once every switch has failed it does the request back off before the next round.
 */
export class Transport {
  private readonly nodes: readonly Node[]
  private readonly targets: readonly string[]
  /** The switch in use: every request goes there. */
  private active: Node
  private readonly retryFor: number
  private readonly onReachability: ((change: Reachability) => void) | undefined
  /** The switch last told as reached, undefined until then and while it is unreachable. */
  private answered: Node | undefined
  /** Switches told unreachable since one last answered: each outage is told once, however many requests see it. */
  private readonly down = new Set<Node>()
  private readonly closing = new AbortController()
  private closed: Promise<void> | undefined

  constructor (options: TransportOptions) {
    if (options.urls.length === 0) throw new TypeError('no switch URL given')
    if (options.socketPath !== undefined && options.urls.length > 1) throw new TypeError('a socketPath reaches one switch: give one URL with it')
    this.nodes = options.urls.map((url) => nodeOf(url, options))
    this.targets = this.nodes.map((node) => node.target)
    this.active = this.nodes[0]
    this.retryFor = options.retryFor
    this.onReachability = options.onReachability
    // Every request in flight listens for the close: hundreds at once are normal.
    setMaxListeners(0, this.closing.signal)
  }

  /** The URL of the switch in use. */
  get url (): string {
    return this.active.url
  }

  /** Where the switch in use takes sockets (GET /v1/socket). */
  socketTarget (): SocketTarget {
    const node = this.active
    const url = new URL(node.url)
    url.pathname = node.base + SOCKET_PATH
    return { url: url.href, dispatcher: node.sockets }
  }

  async request<T> (request: HttpRequest): Promise<T> {
    const { signal, dispose } = this.linked(request)
    try {
      return await this.retrying(request, signal, async (node) => await this.attempt<T>(node, request, signal))
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
      const { body } = await this.retrying(request, signal, async (node) => await this.dispatch(node, request, signal))
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

  /**
   * Runs `attempt` on the switch in use until it gets an answer: at once on the next switch when one fails,
   * backing off after a round in which every one failed, for up to `retryFor`.
   */
  private async retrying<T> (request: HttpRequest, signal: AbortSignal | undefined, attempt: (node: Node) => Promise<T>): Promise<T> {
    let backoff: Backoff | undefined
    let firstFailure: number | undefined
    let attempts = 0
    // Switches this round may still try before backing off.
    let untried = this.nodes.length
    for (;;) {
      const node = this.active
      attempts++
      let failure: unknown
      try {
        const answer = await attempt(node)
        this.reached(node)
        return answer
      } catch (error) {
        this.throwIfAborted(request)
        const code = errorCodeOfCause(error)
        if (isTlsFailure(code)) throw new SwitchTlsError(node.target, code ?? '', error)
        if (!this.failsOver(error, attempts)) {
          // The switch answered, with an error of its own.
          if (error instanceof SwitchRequestError) this.reached(node)
          throw error
        }
        failure = error
      }
      const moved = this.moveOn(node)
      if (request.retry === false) throw new SwitchUnavailableError(this.targets, 0, failure)
      if (--untried > 0) {
        if (moved) this.unreachable(node, failure)
        continue
      }
      untried = this.nodes.length
      const now = Date.now()
      firstFailure ??= now
      backoff ??= new Backoff()
      const wait = backoff.next()
      if (now - firstFailure + wait > this.retryFor) throw new SwitchUnavailableError(this.targets, this.retryFor, failure)
      if (moved) this.unreachable(node, failure)
      try {
        await sleep(wait, signal)
      } catch {
        this.throwIfAborted(request)
      }
    }
  }

  /**
   * Whether a failure is one to try again, on the next switch if there is one: the switch could not be reached,
   * or answered 503. A switch that is shutting down comes back (a restart) or stays away (then retryFor runs
   * out). A switch whose store failed made no change: another one is asked, but each only once per request
   * (their store is likely one and the same), and with a single switch the error is the caller's at once.
   */
  private failsOver (error: unknown, attempts: number): boolean {
    if (error instanceof SwitchRequestError) {
      if (error.status !== 503) return false
      return error.code !== 'storage_failed' || attempts < this.nodes.length
    }
    const code = errorCodeOfCause(error)
    return code !== undefined && UNREACHABLE_CODES.has(code)
  }

  /**
   * After `node` failed a request: the next switch is used from now on, unless another request that failed
   * there moved on already. True when this failure did (it is the one to tell).
   */
  private moveOn (node: Node): boolean {
    if (this.active !== node) return false
    this.active = this.nodes[(this.nodes.indexOf(node) + 1) % this.nodes.length]
    return true
  }

  private reached (node: Node): void {
    if (this.answered === node) return
    this.answered = node
    this.down.clear()
    this.onReachability?.({ reachable: true, target: node.target })
  }

  private unreachable (node: Node, failure: unknown): void {
    if (this.down.has(node)) return
    this.down.add(node)
    if (this.answered === node) this.answered = undefined
    this.onReachability?.({ reachable: false, target: node.target, reason: unreachableReason(failure), error: failure })
  }

  /** After a failure: the caller's abort and the client's close win over whatever undici reported. */
  private throwIfAborted ({ signal: callerSignal, final }: HttpRequest): void {
    if (callerSignal?.aborted === true) throw new AbortError()
    if (this.closing.signal.aborted && final !== true) throw new ClientClosedError()
  }

  private async attempt<T> (node: Node, request: HttpRequest, signal: AbortSignal | undefined): Promise<T> {
    const response = await this.dispatch(node, request, signal)
    if (response.statusCode === 204) {
      await response.body.dump()
      return undefined as T
    }
    return JSON.parse(await response.body.text()) as T
  }

  /** Sends the request once; resolves with a 2xx answer, or throws the switch's error. */
  private async dispatch (node: Node, request: HttpRequest, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
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
    const response = await node.pool.request({
      method: request.method,
      path: node.base + request.path + queryString(request.query),
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

  /** Aborts, then closes the pools once the `final` requests are done. Idempotent. */
  async close (): Promise<void> {
    this.abort()
    this.closed ??= Promise.all(this.nodes.map(async (node) => { await Promise.all([node.pool.close(), node.sockets.close()]) })).then(noop)
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
