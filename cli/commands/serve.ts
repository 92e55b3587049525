import { Args, Flags } from '@oclif/core'
import { spawn } from 'node:child_process'
import { DEFAULT_URL } from '../../lib/index.js'
import { DEFAULT_SWITCH_OPTIONS } from '../../server/core/switch.js'
import { DEFAULT_STREAM_HEARTBEAT } from '../../server/http/routes/stream.js'
import type { TlsFiles } from '../../server/http/tls.js'
import { SwitchCommand, UsageError, aborted, seconds, stopSignal, type ConnectionFlags } from '../base.js'
import { formatDuration } from '../report.js'
import { limitFlags, limitOptions, type LimitFlagValues } from '../limits.js'

/** By default the switch listens where clients look for it by default. */
const DEFAULT_ADDRESS = new URL(DEFAULT_URL)

/** `serve <queue>` keeps trying to reach a switch for this long: a service may well start before its switch. */
const SERVICE_RETRY_MS = 24 * 3600_000

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Runs `program` through the shell with `input` on its stdin and resolves with its stdout. A non-zero exit
 * rejects with the exit status and the first line of stderr, which becomes the caller's error reply.
 */
export async function runProgram (program: string, input: Buffer): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const child = spawn(program, { shell: true, stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => { stdout.push(chunk) })
    child.stderr.on('data', (chunk: Buffer) => { stderr.push(chunk) })
    // A program may exit without reading its input (EPIPE); its exit status is what tells.
    child.stdin.on('error', () => {})
    child.on('error', (error) => { reject(new Error(`cannot run ${program}: ${error.message}`)) })
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve(Buffer.concat(stdout))
        return
      }
      const status = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`
      const firstLine = Buffer.concat(stderr).toString('utf8').split('\n').find((line) => line.trim() !== '')
      reject(new Error(`${program} ${status}${firstLine === undefined ? '' : `: ${firstLine.trim()}`}`))
    })
    child.stdin.end(input)
  })
}

/** The TLS files of `switch serve`, if it is to speak HTTPS; a certificate and its key come together. */
function tlsFiles (flags: { 'tls-cert'?: string, 'tls-key'?: string, 'tls-ca'?: string }): TlsFiles | undefined {
  const { 'tls-cert': cert, 'tls-key': key, 'tls-ca': ca } = flags
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new UsageError('--tls-ca needs --tls-cert and --tls-key: client certificates are checked over TLS')
    return undefined
  }
  if (cert === undefined) throw new UsageError('--tls-key needs --tls-cert FILE (the certificate it belongs to)')
  if (key === undefined) throw new UsageError('--tls-cert needs --tls-key FILE (its private key)')
  return ca === undefined ? { cert, key } : { cert, key, ca }
}

export default class Serve extends SwitchCommand {
  static override summary = 'Run the switch, or serve RPCs on a queue with a program'
  static override description = 'Without a queue: run the switch in this process until SIGINT, SIGTERM or ' +
    '`switch shutdown`. With a queue: answer each request on it by running --program with the request on its ' +
    'stdin; its stdout is the reply, a non-zero exit an error reply.'

  static override examples = [
    '<%= config.bin %> serve --port 8080',
    '<%= config.bin %> serve upper --program "tr a-z A-Z"'
  ]

  static override args = {
    queue: Args.string({ description: 'the service queue to answer requests on' })
  }

  static override flags = {
    program: Flags.string({ description: 'the program to run per request (through the shell)', helpValue: 'CMD' }),
    concurrency: Flags.integer({ description: 'requests handled at once', min: 1, default: 1 }),
    host: Flags.string({ description: 'address to listen on', default: DEFAULT_ADDRESS.hostname, helpGroup: 'SWITCH' }),
    port: Flags.integer({ description: 'port to listen on (0 picks a free one)', min: 0, max: 65535, default: Number(DEFAULT_ADDRESS.port), helpGroup: 'SWITCH' }),
    'session-ttl': seconds({ description: 'a session ends this long after its last request, unless its login asks for another lease', default: DEFAULT_SWITCH_OPTIONS.sessionTtl / 1000, helpGroup: 'SWITCH' }),
    'max-session-ttl': seconds({ description: 'the longest lease a login may ask for (POST /v1/sessions {"ttl": SECONDS})', default: DEFAULT_SWITCH_OPTIONS.maxSessionTtl / 1000, helpGroup: 'SWITCH' }),
    'max-payload': Flags.integer({ description: 'largest message payload in bytes', min: 1, default: DEFAULT_SWITCH_OPTIONS.maxPayload, helpGroup: 'SWITCH', helpValue: 'BYTES' }),
    'max-timeout': seconds({ description: 'longest a long-poll may wait', default: DEFAULT_SWITCH_OPTIONS.maxTimeout / 1000, helpGroup: 'SWITCH' }),
    'log-level': Flags.option({ options: LOG_LEVELS, default: 'warn' as const, description: 'log level of the structured (JSON) log on stderr; info adds a line per request', helpGroup: 'SWITCH' })(),
    'data-dir': Flags.string({ description: 'keep state in an SQLite database in this directory (created if missing); without it, state lives in memory', helpValue: 'DIR', helpGroup: 'SWITCH' }),
    redis: Flags.string({ description: 'share state with every switch on this Redis (redis://HOST:PORT/DB, rediss://..., redis+unix:///PATH?db=N); configure Redis with appendonly yes and appendfsync always to lose nothing acknowledged', helpValue: 'URL', helpGroup: 'SWITCH', exclusive: ['data-dir'] }),
    'socket-mode': Flags.string({ description: 'permissions of the Unix socket given with --socket (octal)', default: '600', helpValue: 'MODE', helpGroup: 'SWITCH' }),
    tcp: Flags.boolean({ description: 'listen on TCP; --no-tcp with --socket listens on the socket alone', default: true, allowNo: true, helpGroup: 'SWITCH' }),
    'auth-file': Flags.string({ description: 'principals, their credentials and permissions (YAML or JSON); logins then need credentials. Reloaded on SIGHUP', helpValue: 'FILE', helpGroup: 'SWITCH' }),
    'tls-cert': Flags.string({ description: 'speak HTTPS on TCP with this certificate (PEM, with its chain); needs --tls-key', helpValue: 'FILE', helpGroup: 'TLS' }),
    'tls-key': Flags.string({ description: 'the private key of --tls-cert (PEM, no passphrase)', helpValue: 'FILE', helpGroup: 'TLS' }),
    'tls-ca': Flags.string({ description: 'require client certificates signed by this CA (PEM)', helpValue: 'FILE', helpGroup: 'TLS' }),
    heartbeat: seconds({ description: 'an idle event stream (GET /v1/stream) sends a heartbeat comment this often', default: DEFAULT_STREAM_HEARTBEAT / 1000, helpGroup: 'SWITCH' }),
    'insecure-allow-remote': Flags.boolean({ description: 'listen on a non-loopback --host without an auth file (anyone who reaches it may use the switch)', default: false, helpGroup: 'SWITCH' }),
    'allowed-host': Flags.string({ description: 'a Host name requests may use besides localhost and --host (a proxy\'s, the machine\'s), NAME or NAME:PORT; repeatable', multiple: true, helpValue: 'NAME', helpGroup: 'SWITCH' }),
    'cors-origin': Flags.string({ description: 'an origin (https://app.example) whose web pages may call the switch (CORS); repeatable', multiple: true, helpValue: 'ORIGIN', helpGroup: 'SWITCH' }),
    ...limitFlags
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Serve)
    if (args.queue === undefined) {
      if (flags.program !== undefined) throw new UsageError('--program needs a queue to serve: switch serve QUEUE --program CMD')
      await this.runSwitch(flags)
      return
    }
    if (flags.program === undefined) throw new UsageError(`serving ${args.queue} needs --program CMD`)
    await this.serveQueue(args.queue, flags.program, flags)
  }

  /** Answers requests on `queue` with `program`, saying so once it can, then one line per request. */
  private async serveQueue (queue: string, program: string, flags: ConnectionFlags & { concurrency: number }): Promise<void> {
    const client = this.follow(flags, SERVICE_RETRY_MS)
    const signal = stopSignal()
    try {
      // Made here, not only by the service, so that "serving" is said once requests have somewhere to wait.
      await client.createQueue(queue, { signal })
    } catch (error) {
      if (!signal.aborted) throw error
      this.stoppedFollowing(flags)
      return
    }
    this.log(`serving ${queue}`)
    const service = client.serve(queue, async (request, message) => {
      const started = performance.now()
      const took = (): string => formatDuration(performance.now() - started)
      try {
        const reply = await runProgram(program, request)
        this.log(`request ${message.id}: exit 0 in ${took()}`)
        return reply
      } catch (error) {
        process.stderr.write(`switch: request ${message.id} failed in ${took()}: ${(error as Error).message}\n`)
        throw error
      }
    }, { concurrency: flags.concurrency, signal })
    await service.done
    this.stoppedFollowing(flags)
    this.log(`stopped serving ${queue}`)
  }

  private async runSwitch (flags: {
    host: string
    port: number
    'session-ttl': number
    'max-session-ttl': number
    'max-payload': number
    'max-timeout': number
    'log-level': typeof LOG_LEVELS[number]
    'data-dir'?: string
    redis?: string
    'socket-mode': string
    socket?: string
    tcp: boolean
    heartbeat: number
    'insecure-allow-remote': boolean
    'allowed-host'?: string[]
    'cors-origin'?: string[]
    'auth-file'?: string
    'tls-cert'?: string
    'tls-key'?: string
    'tls-ca'?: string
  } & LimitFlagValues): Promise<void> {
    // Loaded here so that the client commands do not pay for loading the server.
    const { startSwitch, RemoteListenError, BrowserOptionError } = await import('../../server/index.js')
    const level = flags['log-level']
    const signal = stopSignal()
    if (!/^[0-7]{3,4}$/.test(flags['socket-mode'])) throw new UsageError(`--socket-mode must be octal like 600 or 0660, not ${flags['socket-mode']}`)
    if (!flags.tcp && flags.socket === undefined) throw new UsageError('--no-tcp needs --socket PATH: the switch must listen somewhere')
    if (flags['max-session-ttl'] < flags['session-ttl']) throw new UsageError(`--max-session-ttl (${flags['max-session-ttl']} s) is below --session-ttl (${flags['session-ttl']} s)`)
    const tls = tlsFiles(flags)
    if (tls !== undefined && !flags.tcp) throw new UsageError('--tls-cert is for TCP, and --no-tcp leaves none: the Unix socket speaks plain HTTP')
    let running
    try {
      running = await startSwitch({
        host: flags.host,
        port: flags.port,
        sessionTtl: flags['session-ttl'] * 1000,
        maxSessionTtl: flags['max-session-ttl'] * 1000,
        maxPayload: flags['max-payload'],
        maxTimeout: flags['max-timeout'] * 1000,
        ...limitOptions(flags),
        listenTcp: flags.tcp,
        streamHeartbeat: flags.heartbeat * 1000,
        allowRemoteWithoutAuth: flags['insecure-allow-remote'],
        allowedHosts: flags['allowed-host'] ?? [],
        corsOrigins: flags['cors-origin'] ?? [],
        ...(flags.socket === undefined ? {} : { socketPath: flags.socket, socketMode: Number.parseInt(flags['socket-mode'], 8) }),
        ...(flags['data-dir'] === undefined ? {} : { dataDir: flags['data-dir'] }),
        ...(flags.redis === undefined ? {} : { redis: flags.redis }),
        ...(flags['auth-file'] === undefined ? {} : { authFile: flags['auth-file'] }),
        ...(tls === undefined ? {} : { tls }),
        // stdout carries only the "listening" line that scripts wait for.
        logger: level === 'silent' ? false : { level, stream: process.stderr }
      })
    } catch (error) {
      if (error instanceof RemoteListenError || error instanceof BrowserOptionError) throw new UsageError(error.message)
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new Error(`cannot listen on ${flags.host}:${flags.port}: address already in use`)
      if (code === 'EADDRNOTAVAIL') throw new Error(`cannot listen on ${flags.host}:${flags.port}: address not available`)
      throw error
    }
    const where = [flags.tcp ? running.url : undefined, running.socketPath].filter((place) => place !== undefined)
    // SIGHUP reloads the auth file; a file with a problem is reported and the running principals stay.
    const reload = (): void => {
      running.reload().then(
        (count) => { process.stderr.write(`switch: auth file ${flags['auth-file'] ?? ''} reloaded: ${count} principals\n`) },
        (error: Error) => { process.stderr.write(`switch: ${error.message}; keeping the principals loaded before\n`) }
      )
    }
    // Without an auth file SIGHUP keeps its default: it ends the switch, as a hangup always did.
    if (flags['auth-file'] !== undefined) process.on('SIGHUP', reload)
    process.stdout.write(`switch listening on ${where.join(' and ')}\n`)
    try {
      await Promise.race([running.stopped, aborted(signal)])
      await running.stop()
    } finally {
      process.off('SIGHUP', reload)
    }
    process.stdout.write('switch stopped\n')
  }
}
