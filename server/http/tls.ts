import type { FastifyBaseLogger } from 'fastify'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { createSecureContext, Server as TlsServer, TLSSocket, type TlsOptions } from 'node:tls'
import { refuseConnection, type HttpLimits } from './hardening.js'

/** Where the switch's certificate and key are (PEM files); with `ca`, clients must present a certificate it signed. */
export interface TlsFiles {
  cert: string
  key: string
  /** The CA that signs client certificates: with it, every TCP client must present one (mutual TLS). */
  ca?: string
}

/** A certificate, key or CA file that cannot be read or used; the message names the file and the problem. */
export class TlsFileError extends Error {
  readonly path: string

  constructor (path: string, message: string) {
    super(message)
    this.name = 'TlsFileError'
    this.path = path
  }
}

async function readPem (path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    // "ENOENT: no such file or directory, open 'x'" -> "no such file or directory"
    const reason = (error as Error).message.replace(/^E[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')
    throw new TlsFileError(path, `cannot read the TLS ${what} ${path}: ${reason}`)
  }
}

function parses (parse: () => unknown): boolean {
  try {
    parse()
    return true
  } catch {
    return false
  }
}

/**
 * Reads and checks the files, so that a wrong one is refused at start with a message naming it (OpenSSL's own
 * errors, such as "DECODER routines::unsupported", name neither the file nor the problem).
 */
export async function loadTls (files: TlsFiles): Promise<TlsOptions> {
  const [cert, key, ca] = await Promise.all([
    readPem(files.cert, 'certificate'),
    readPem(files.key, 'key'),
    files.ca === undefined ? undefined : readPem(files.ca, 'CA certificate')
  ])
  if (!parses(() => new X509Certificate(cert))) throw new TlsFileError(files.cert, `the TLS certificate ${files.cert} is not a PEM certificate`)
  if (!parses(() => createPrivateKey(key))) throw new TlsFileError(files.key, `the TLS key ${files.key} is not a PEM private key (without a passphrase)`)
  if (ca !== undefined && files.ca !== undefined && !parses(() => new X509Certificate(ca))) {
    throw new TlsFileError(files.ca, `the TLS CA certificate ${files.ca} is not a PEM certificate`)
  }
  // A client certificate that is missing or not trusted is refused with an HTTP answer (see speakTls), not at the
  // handshake: over TLS 1.3 a client sees that refusal only as a connection closed, which it takes for an outage.
  const options: TlsOptions = ca === undefined ? { cert, key } : { cert, key, ca, requestCert: true, rejectUnauthorized: false }
  if (!parses(() => createSecureContext(options))) {
    throw new TlsFileError(files.key, `the TLS key ${files.key} does not belong to the certificate ${files.cert}`)
  }
  return options
}

/**
 * Makes the HTTP server speak TLS on its TCP connections. A TLS server that never listens takes each accepted
 * TCP connection through the handshake (and the client-certificate check), then hands the decrypted connection
 * back to the HTTP server as a new one. So every connection rule (per-address share, idle timeout, slow readers,
 * timeouts, the close at shutdown) applies to the connection HTTP actually uses, and the Unix socket's
 * connections (no remote address), which its file permissions already guard, stay plain HTTP.
 * Install it after the other connection rules: it must see a connection first.
 */
export function speakTls (server: Server, options: TlsOptions, limits: Pick<HttpLimits, 'idleConnectionTimeout' | 'headersTimeout'>, log: FastifyBaseLogger): void {
  const handshakeTimeout = [limits.idleConnectionTimeout, limits.headersTimeout].find((ms) => ms > 0)
  const tls = new TlsServer({ ...options, ...(handshakeTimeout === undefined ? {} : { handshakeTimeout }) })
  tls.on('secureConnection', (socket: TLSSocket) => {
    if (options.requestCert === true && !socket.authorized) refuse(socket)
    else server.emit('connection', socket)
  })
  // A failed handshake (no certificate, an untrusted one, plain HTTP, a timeout) is the client's problem to see.
  tls.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
    log.debug({ address: socket.remoteAddress, code: error.code }, 'TLS handshake failed')
    socket.destroy()
  })
  const emit = server.emit
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    const socket = args[0] as Socket
    if (event === 'connection' && !(socket instanceof TLSSocket) && socket.remoteAddress !== undefined) return tls.emit('connection', socket)
    return Reflect.apply(emit, this, [event, ...args]) as boolean
  } as Server['emit']
}

/** Answers a client whose certificate is missing or not trusted with a 401, without reading its request. */
function refuse (socket: TLSSocket): void {
  const presented = Object.keys(socket.getPeerCertificate()).length > 0
  const message = presented
    ? `the client certificate is not signed by the CA this switch trusts (${String(socket.authorizationError)})`
    : 'this switch requires a client certificate signed by the CA it trusts'
  refuseConnection(socket, 'unauthorized', message)
}
