import cors from '@fastify/cors'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { isIPv6 } from 'node:net'
import { SwitchError } from '../core/errors.js'
import { isSocketFileConnection } from '../socket.js'

/** What keeps the web pages a user visits away from a switch listening on their machine or network. */
export interface BrowserGuardOptions {
  /** The name or address the switch was told to listen on: a Host it answers to. */
  host?: string
  /**
   * More Host names to answer to (a reverse proxy's, the host's real name), each `NAME` (any port) or
   * `NAME:PORT`. The loopback names and the address a connection came in on are always accepted.
   */
  allowedHosts?: readonly string[]
  /** Origins (`https://app.example:8443`) whose pages may call the switch, with CORS; none by default. */
  corsOrigins?: readonly string[]
}

/** An `allowedHosts` entry that is no host name, or a `corsOrigins` entry that is no origin. */
export class BrowserOptionError extends TypeError {
  constructor (message: string) {
    super(message)
    this.name = 'BrowserOptionError'
  }
}

/** The names of a machine that no DNS answer can point elsewhere. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']

/** Addresses that mean "every interface": no client names them in a Host header. */
const WILDCARDS = new Set(['0.0.0.0', '[::]'])

/** A name as it appears in a URL: lower case, IPv6 in brackets, an IPv4-mapped IPv6 address as IPv4. */
function urlName (name: string): string {
  const bare = name.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1')
  return isIPv6(bare) ? `[${bare}]` : bare
}

/** `name[:port]` split the way a URL reads it (an absent or default port is ''); undefined if it is no host. */
function parseHost (value: string): { name: string, port: string } | undefined {
  try {
    const url = new URL(`http://${value}`)
    if (url.hostname === '' || url.username !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return undefined
    return { name: url.hostname, port: url.port }
  } catch {
    return undefined
  }
}

/**
 * Installs, once for every route (/v1 and the original protocols at the root):
 * - the Host check: a Host header naming none of the switch's names is refused 403 `host_not_allowed`, which
 *   defeats DNS rebinding (a page whose own name comes to resolve to the switch's address). Requests without
 *   Host (HTTP/1.0, the original Python client) and Unix-socket connections (no DNS involved) pass.
 * - the Origin check: a request a web page of another origin sends (an `Origin` not listed, or a
 *   `Sec-Fetch-Site` other than same-origin or none) is refused 403 `origin_not_allowed`, whatever its method,
 *   so a page can neither shut the switch down nor read a payload-revealing GET. Requests without these
 *   headers (curl, the libraries, the CLI) pass.
 * - CORS for the listed origins only (@fastify/cors); without any, no CORS header is ever sent.
 */
export function installBrowserGuard (app: FastifyInstance, options: BrowserGuardOptions = {}): void {
  const anyPort = new Set<string>()
  const withPort = new Set<string>()
  for (const entry of options.allowedHosts ?? []) {
    const parsed = parseHost(entry)
    if (parsed === undefined) throw new BrowserOptionError(`an allowed host must be NAME or NAME:PORT, not ${entry}`)
    if (parsed.port === '') anyPort.add(parsed.name)
    else withPort.add(`${parsed.name}:${parsed.port}`)
  }
  const listening = new Set(LOOPBACK_NAMES)
  if (options.host !== undefined && !WILDCARDS.has(urlName(options.host))) listening.add(urlName(options.host))
  const origins = new Set(options.corsOrigins)
  for (const origin of origins) {
    // What a browser sends: scheme, name and port if not the default, nothing more (no path, no trailing slash).
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      throw new BrowserOptionError(`a CORS origin must be like https://app.example:8443, not ${origin}`)
    }
  }

  // The last Host header found to be one of the names: clients send the same one request after request, and it
  // spares parsing it as a URL each time.
  let lastNamed: string | undefined
  const hostAllowed = (request: FastifyRequest): boolean => {
    const header = request.headers.host
    const socket = request.raw.socket
    // No DNS name can lead a browser to the Unix socket. (Known from its listener, not from a missing address:
    // a TCP connection that has closed has none either.)
    if (header === undefined || header === lastNamed || isSocketFileConnection(socket)) return true
    const parsed = parseHost(header)
    if (parsed === undefined) return false
    // Rebinding is a foreign *name* for the switch's address: the switch's own names pass on any port, as an SSH
    // tunnel or a relay in front of it changes the port a client names.
    if (listening.has(parsed.name) || anyPort.has(parsed.name) || withPort.has(`${parsed.name}:${parsed.port}`)) {
      lastNamed = header
      return true
    }
    return socket.localAddress !== undefined && parsed.name === urlName(socket.localAddress)
  }

  /** The origin a request comes from if a browser sent it for a page of another origin not listed; else undefined. */
  const foreignOrigin = (request: FastifyRequest): string | undefined => {
    const site = request.headers['sec-fetch-site']
    // Same-origin: a page served under a name that passed the Host check.
    if (site === 'same-origin') return undefined
    const origin = request.headers.origin
    if (origin !== undefined) return origins.has(origin) ? undefined : origin
    // A navigation or a no-cors request from another site sends no Origin, but says where it comes from.
    if (site !== undefined && site !== 'none') return `a ${site} page`
    return undefined
  }

  // A callback, not an async function: every request passes here, and most pass at once.
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (!hostAllowed(request)) {
      done(new SwitchError('host_not_allowed', `the switch does not answer to the host ${request.headers.host ?? ''}: name it with --allowed-host`, 'host'))
      return
    }
    const origin = foreignOrigin(request)
    if (origin !== undefined) {
      done(new SwitchError('origin_not_allowed', `requests from ${origin} are refused: list the origin with --cors-origin to allow its pages`, 'origin'))
      return
    }
    done()
  })

  if (origins.size > 0) {
    app.register(cors, {
      origin: [...origins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
      exposedHeaders: ['Allow'],
      // Origins are listed one by one, never `*`: credentials (a TLS client certificate) may come along.
      credentials: true,
      // Fastify's plain-text 400 would not be the one error shape; a bare OPTIONS is simply answered.
      strictPreflight: false,
      maxAge: 600
    })
  }
}
