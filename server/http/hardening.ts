import type { FastifyServerOptions } from 'fastify'
import { STATUS_CODES, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ErrorCode } from '../../protocol/wire.js'
import { errorBody, statusOf } from './errors.js'

/** What keeps slow, stuck or too many clients from holding the HTTP server. Each is a `switch serve` flag. */
export interface HttpLimits {
  /** Milliseconds a client has to send a request's headers, from the moment the connection is idle. */
  headersTimeout: number
  /**
   * Milliseconds a client has to send a whole request, headers and body. Only the receiving is timed: a
   * long-poll that holds its response back is not cut.
   */
  requestTimeout: number
  /** Milliseconds an idle keep-alive connection stays open. */
  keepAliveTimeout: number
  /** Connections open at once; a connection beyond it is closed as soon as it is accepted. */
  maxConnections: number
  /**
   * TCP connections one client address may hold open at once (Unix-socket connections are not counted); one
   * beyond it is answered 429 `limit_exceeded` and closed. By default 3/4 of `maxConnections`.
   */
  maxConnectionsPerAddress: number
  /** Milliseconds a new connection may stay open without sending a request's headers (0: no limit). */
  idleConnectionTimeout: number
  /**
   * Bytes all connections together may hold written but not yet read by their clients; past it the connections
   * holding the most are closed until they hold less.
   */
  maxUnreadBytes: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeout: 30_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 72_000,
  // Room for 10,000 idle long-polls and the connections of everyone else.
  maxConnections: 20_000,
  // Room for those 10,000 long-polls from one host, and a quarter of the connections for everyone else.
  maxConnectionsPerAddress: 15_000,
  // A client connects to send a request: a few seconds is plenty, far less than the headers timeout.
  idleConnectionTimeout: 5_000,
  maxUnreadBytes: 64 * 1024 * 1024
}

/** The share of `maxConnections` one address may hold unless told otherwise. */
const ADDRESS_SHARE = 3 / 4

/** The limits given, the defaults for the rest (a key given as undefined counts as not given). */
export function httpLimits (given: Partial<HttpLimits> = {}): HttpLimits {
  const limits = { ...DEFAULT_HTTP_LIMITS }
  for (const key of Object.keys(limits) as Array<keyof HttpLimits>) {
    const value = given[key]
    if (value !== undefined) limits[key] = value
  }
  // Follows a lowered (or raised) connection cap, so that one address never takes every connection by default.
  if (given.maxConnectionsPerAddress === undefined) {
    limits.maxConnectionsPerAddress = Math.max(1, Math.floor(limits.maxConnections * ADDRESS_SHARE))
  }
  return limits
}

/** Node looks for timed-out requests at this interval (its default, 30 s, would double a 30 s timeout). */
function checkingInterval ({ headersTimeout, requestTimeout }: HttpLimits): number {
  const shortest = Math.min(...[headersTimeout, requestTimeout].filter((ms) => ms > 0))
  return Number.isFinite(shortest) ? Math.max(10, Math.min(1000, Math.floor(shortest / 4))) : 1000
}

/** The Fastify options that carry the limits (`hardenServer` sets the rest on the server). */
export function serverOptions (limits: HttpLimits): Pick<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout' | 'clientErrorHandler'> & { http: ServerOptions } {
  return {
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    http: {
      connectionsCheckingInterval: checkingInterval(limits),
      // The switch serves one host, so a missing Host header is no reason to refuse; Node's refusal has no body.
      requireHostHeader: false
    },
    clientErrorHandler: answerClientError
  }
}

/** Sets the limits Fastify has no options for, and answers the requests Node would drop or answer bare. */
export function hardenServer (server: Server, limits: HttpLimits): void {
  server.headersTimeout = limits.headersTimeout
  server.maxConnections = limits.maxConnections
  // Node closes a CONNECT (proxy tunnel) request without a word when nobody listens for it.
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    answerOnSocket(socket, 'method_not_allowed', 'CONNECT is not allowed: the switch is no proxy')
  })
  // And answers an Expect other than 100-continue with a bare 417; the switch ignores what it cannot meet.
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    server.emit('request', request, response)
  })
}

/** The answer to a request Node could not take in, before any route ran: in the switch's error shape. */
function refusal (error: Error & { code?: string }): { code: ErrorCode, message: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', message: 'the request was not received in time' }
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large', message: 'the request headers are larger than the switch accepts' }
    default:
      return { code: 'invalid_request', message: `the request is not valid HTTP/1.1 (${error.code ?? error.message})` }
  }
}

/**
 * Node's 'clientError': a malformed or timed-out request. Answered in the error shape unless a response on the
 * socket has begun (an answer now would corrupt it), then the connection is closed, as Node itself does.
 */
function answerClientError (error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage
  if (inFlight?.headersSent === true) {
    socket.destroy()
    return
  }
  const { code, message } = refusal(error)
  answerOnSocket(socket, code, message)
}

/** An error answer as raw HTTP/1.1 that closes the connection, for when no request object exists for it. */
export function rawErrorAnswer (code: ErrorCode, message: string): string {
  const status = statusOf(code)
  const body = JSON.stringify(errorBody(code, message))
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
}

/** How long a refused connection has to read its answer before it is closed regardless. */
const REFUSAL_LINGER_MS = 1000

/**
 * Refuses a connection before any request of it is read: the error answer, then the close once the client has
 * read it (or after a second). Reading and dropping what the client sends makes the close a FIN after the
 * answer, not a reset that loses it. `closed` runs when the connection is gone.
 */
export function refuseConnection (socket: Socket, code: ErrorCode, message: string, closed?: () => void): void {
  // A client gone meanwhile is no concern; the answer is all there is to do.
  socket.on('error', () => {})
  const linger = setTimeout(() => { socket.destroy() }, REFUSAL_LINGER_MS)
  socket.once('close', () => {
    clearTimeout(linger)
    closed?.()
  })
  socket.once('end', () => { socket.destroy() })
  socket.end(rawErrorAnswer(code, message))
  socket.resume()
}

/** Writes an error answer straight to the connection, which then closes. */
function answerOnSocket (socket: Duplex, code: ErrorCode, message: string): void {
  if (socket.writable) socket.write(rawErrorAnswer(code, message))
  socket.destroy()
}
