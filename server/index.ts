import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { Principals } from './auth/principals.js'
import { compatPlugin } from './compat/index.js'
import { DEFAULT_SWITCH_OPTIONS, Switch, type SwitchOptions } from './core/switch.js'
import { REAL_TIMERS } from './core/timers.js'
import { buildApp } from './http/app.js'
import { httpLimits, type HttpLimits } from './http/hardening.js'
import { SqliteStore } from './store/sqlite.js'
import { RedisStore } from './store/redis.js'
import type { ObserveHooks } from './http/routes/observe.js'
import { loadTls, speakTls, type TlsFiles } from './http/tls.js'
import { DEFAULT_SOCKET_MODE, listenOnSocket } from './socket.js'
import { listensRemotely, RemoteListenError } from './listen-address.js'

export { Switch, DEFAULT_SWITCH_OPTIONS } from './core/switch.js'
export type { SwitchOptions } from './core/switch.js'
export { REAL_TIMERS, type Timers, type Cancel } from './core/timers.js'
export { MemoryStore } from './store/memory.js'
export { SqliteStore, DataDirError, type DataDirProblem } from './store/sqlite.js'
export { RedisStore } from './store/redis.js'
export type { Store, StoreRecord, Snapshot } from './store/store.js'
export { buildApp } from './http/app.js'
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/hardening.js'
export { DEFAULT_LIMITS, type LimitOptions } from './core/limits.js'
export { DEFAULT_SOCKET_MODE, SocketPathError, SocketInUseError, NotASocketError } from './socket.js'
export { RemoteListenError } from './listen-address.js'
export { BrowserOptionError } from './http/browser-guard.js'
export { AuthFileError } from './auth/principals.js'
export { TlsFileError, type TlsFiles } from './http/tls.js'

export interface ServerConfig extends Partial<SwitchOptions>, Partial<HttpLimits> {
  host?: string
  /** 0 picks a free port. */
  port?: number
  /** Listen on TCP at `host`:`port` (the default); false, with `socketPath`, listens on the socket alone. */
  listenTcp?: boolean
  /**
   * Listen on a Unix socket at this path too (or only). A socket file left by a crashed switch is replaced; one
   * another switch answers on is refused with a SocketInUseError.
   */
  socketPath?: string
  /** Permissions of the socket file; DEFAULT_SOCKET_MODE (0o600, the owner only) unless given. */
  socketMode?: number
  /** Milliseconds a stop lets responses in flight finish before it closes every connection. */
  shutdownGrace?: number
  logger?: FastifyServerOptions['logger']
  /** Keep state durably in a SQLite database in this directory (created if missing) instead of in memory. */
  dataDir?: string
  /**
   * Share state with every switch on this Redis (`redis://HOST:PORT/DB`, `rediss://...`, `redis+unix:///PATH?db=N`):
   * they apply one log of operations (see RedisStore).
   */
  redis?: string
  /** Milliseconds between heartbeat comments on an idle event stream (GET /v1/stream); 15 s by default. */
  streamHeartbeat?: number
  /**
   * Principals, their credentials and permissions (YAML or JSON; see the README): logins need credentials and
   * every request is checked. A file with a problem fails the start with an AuthFileError naming it.
   */
  authFile?: string
  /**
   * Listen on a non-loopback `host` without an `authFile` (refused with a RemoteListenError otherwise); a
   * warning is logged.
   */
  allowRemoteWithoutAuth?: boolean
  /** Host names, besides the loopback names and `host`, that requests may name (`NAME` or `NAME:PORT`). */
  allowedHosts?: string[]
  /** Origins whose web pages may call the switch (CORS); requests from any other page are refused. */
  corsOrigins?: string[]
  /** Speak HTTPS on TCP with this certificate and key (PEM files); the Unix socket stays plain HTTP. */
  tls?: TlsFiles
}

export interface RunningSwitch {
  core: Switch
  app: FastifyInstance
  /** Where to send requests: the TCP address, or `http://localhost` on a switch listening on its socket alone. */
  url: string
  /** The Unix socket it listens on, if any. */
  socketPath?: string
  /** Graceful stop: refuse new work, answer waiting long-polls empty, finish in-flight responses, close. */
  stop: () => Promise<void>
  /** Resolves once the switch has stopped, however the stop was asked for (API, signal, `stop`). */
  stopped: Promise<void>
  /**
   * Reads the auth file again (SIGHUP): sessions stay, and the new permissions apply to their next request. A
   * file with a problem is refused (AuthFileError) and the old principals stay. Resolves with how many
   * principals it holds now (0 without an auth file, where it does nothing).
   */
  reload: () => Promise<number>
}

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080
export const DEFAULT_SHUTDOWN_GRACE = 5000

export async function startSwitch (config: ServerConfig = {}): Promise<RunningSwitch> {
  const {
    host = DEFAULT_HOST, port = DEFAULT_PORT, listenTcp = true, socketPath, socketMode = DEFAULT_SOCKET_MODE, logger,
    dataDir, redis, streamHeartbeat, shutdownGrace = DEFAULT_SHUTDOWN_GRACE, headersTimeout, requestTimeout, keepAliveTimeout, maxConnections,
    maxConnectionsPerAddress, idleConnectionTimeout, maxUnreadBytes, authFile, allowRemoteWithoutAuth = false,
    allowedHosts, corsOrigins, tls, ...switchOptions
  } = config
  if (!listenTcp && socketPath === undefined) throw new TypeError('a switch needs TCP or a socket path to listen on')
  // Without an auth file the switch trusts whoever reaches it: by default, only this machine may.
  const remote = listenTcp && authFile === undefined && await listensRemotely(host)
  if (remote && !allowRemoteWithoutAuth) throw new RemoteListenError(host)
  // Read before anything starts: a bad file is the operator's to fix, with nothing to clean up.
  const principals = authFile === undefined ? undefined : await Principals.load(authFile)
  if (!listenTcp && tls !== undefined) throw new TypeError('TLS is for TCP: a switch on its socket alone speaks plain HTTP')
  // Before anything is created: a wrong file is refused with nothing to clean up.
  const tlsOptions = tls === undefined ? undefined : await loadTls(tls)
  if ([dataDir, redis, switchOptions.store].filter((store) => store !== undefined).length > 1) {
    throw new TypeError('give one of a store, a data directory and a Redis URL')
  }
  if (dataDir !== undefined) switchOptions.store = new SqliteStore(dataDir)
  if (redis !== undefined) switchOptions.store = new RedisStore(redis)
  const timers = switchOptions.timers ?? REAL_TIMERS
  const core = await Switch.open(switchOptions)
  // Beside TCP, the socket's own listener hands its connections to the one HTTP server (Fastify listens once).
  let socketServer: Server | undefined
  let resolveStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve })
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      core.shutdown()
      const socketClosed = new Promise<void>((resolve) => {
        if (socketServer === undefined) resolve()
        else socketServer.close(() => { resolve() })
      })
      // Responses in flight get a grace to finish.
      const cancelGrace = timers.after(shutdownGrace, () => { app.server.closeAllConnections() })
      await app.close()
      cancelGrace()
      await socketClosed
      await core.close()
      resolveStopped()
    })()
    return await stopping
  }
  const hooks: ObserveHooks = { shutdown: () => { void stop() } }
  const app = buildApp(core, hooks, {
    logger,
    plugins: [compatPlugin(core, hooks, principals)],
    streamHeartbeat,
    browser: { host, allowedHosts, corsOrigins },
    principals,
    limits: { headersTimeout, requestTimeout, keepAliveTimeout, maxConnections, maxConnectionsPerAddress, idleConnectionTimeout, maxUnreadBytes }
  })
  if (remote) app.log.warn(`listening on ${host} without an auth file: anyone who can reach it may use the switch`)
  if (tlsOptions !== undefined) speakTls(app.server, tlsOptions, httpLimits({ idleConnectionTimeout, headersTimeout }), app.log)
  try {
    if (listenTcp) await app.listen({ host, port })
    else await app.ready()
    if (socketPath !== undefined) {
      if (listenTcp) socketServer = createServer((socket) => { app.server.emit('connection', socket) })
      await listenOnSocket(socketServer ?? app.server, socketPath, socketMode)
    }
  } catch (error) {
    socketServer?.close()
    await app.close()
    await core.close()
    throw error
  }
  const reload = async (): Promise<number> => {
    await principals?.reload()
    return principals?.size ?? 0
  }
  const running: RunningSwitch = { core, app, url: 'http://localhost', stop, stopped, reload }
  if (socketPath !== undefined) running.socketPath = socketPath
  if (listenTcp) {
    const address = app.server.address() as AddressInfo
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
    running.url = `${tls === undefined ? 'http' : 'https'}://${shownHost}:${address.port}`
  }
  return running
}
