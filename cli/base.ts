// What every `switch` command shares: where the switch is, how to connect, how a failure is shown.
import { Command, Errors, Flags, type Interfaces } from '@oclif/core'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { buffer } from 'node:stream/consumers'
import { stripVTControlCharacters } from 'node:util'
import { DEFAULT_URL, SwitchClient, type Reachability } from '../lib/index.js'

/** A one-shot command gives up on an unreachable switch after this long: a person is waiting for an answer. */
export const ONE_SHOT_RETRY_MS = 2_000

/** A duration flag in seconds, fractions allowed (tests and impatient people use sub-second values). */
export const seconds = Flags.custom<number>({
  helpValue: 'SECONDS',
  parse: async (input) => {
    const value = Number(input)
    if (input.trim() === '' || !Number.isFinite(value) || value < 0) throw new Error(`expected a number of seconds, got ${input}`)
    return value
  }
})

/**
 * A switch's address as people type it: `127.0.0.1:8080` or `localhost:8080` means http:// (as curl reads it);
 * what is no http(s) URL even then is refused, saying what was given.
 */
export function switchUrl (input: string): string {
  const text = input.trim()
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new Error(`invalid URL ${JSON.stringify(input)}: expected http://HOST:PORT or HOST:PORT`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`invalid URL ${JSON.stringify(input)}: the switch speaks http:// or https://, not ${url.protocol}//`)
  }
  return withScheme
}

/** Switches' addresses separated by commas (`$SWITCH_URL`), each as `switchUrl` reads it. */
export function switchUrls (input: string): string[] {
  const urls = input.split(',').filter((url) => url.trim() !== '').map(switchUrl)
  if (urls.length === 0) throw new Error(`invalid URL ${JSON.stringify(input)}: expected http://HOST:PORT or HOST:PORT`)
  return urls
}

/**
 * `--url`, given several times and/or comma-separated; else $SWITCH_URL (comma-separated too), else the default.
 * The environment is read here rather than by oclif, which would hand a multiple flag's variable to `parse` whole.
 */
const urlFlag = Flags.custom<string>({
  multiple: true,
  delimiter: ',',
  parse: async (input) => switchUrl(input),
  default: async () => {
    const variable = process.env.SWITCH_URL
    if (variable === undefined || variable === '') return [DEFAULT_URL]
    try {
      return switchUrls(variable)
    } catch (error) {
      throw new Error(`$SWITCH_URL: ${(error as Error).message}`)
    }
  },
  defaultHelp: async () => `$SWITCH_URL, else ${DEFAULT_URL}`
})

/** `--body TEXT | --file PATH`, for the commands that send a payload. */
export const payloadFlags = {
  body: Flags.string({ description: 'the payload', helpValue: 'TEXT', exactlyOne: ['body', 'file'] }),
  file: Flags.string({ description: 'read the payload from a file (- for stdin)', helpValue: 'PATH', exactlyOne: ['body', 'file'] })
}

/** "ENOENT: no such file or directory, open 'x'" -> "no such file or directory" */
export function fileProblem (error: unknown): string {
  return (error as Error).message.replace(/^E[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')
}

export async function readPayload (flags: { body?: string, file?: string }): Promise<string | Buffer> {
  if (flags.body !== undefined) return flags.body
  if (flags.file === undefined || flags.file === '-') return await buffer(process.stdin)
  try {
    return await readFile(flags.file)
  } catch (error) {
    throw new Error(`cannot read ${flags.file}: ${fileProblem(error)}`)
  }
}

/**
 * Aborts on the first SIGINT or SIGTERM so that long-running commands stop cleanly (a second SIGINT still
 * kills at once, since the listener is gone by then).
 */
export function stopSignal (): AbortSignal {
  const controller = new AbortController()
  const stop = (): void => { controller.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return controller.signal
}

/** Resolves once `signal` aborts (at once if it already has). */
export async function aborted (signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise((resolve) => { signal.addEventListener('abort', resolve, { once: true }) })
}

/** Squeezes an error message (oclif's parse errors span several lines) onto the one line a failure gets. */
export function oneLine (message: string): string {
  return stripVTControlCharacters(message)
    .replace(/Parsing (--[\w-]+)\s*\n\s*/g, '$1: ')
    .split('\n')
    .map((line) => line.trim().replace(/\s+/g, ' '))
    .filter((line) => line !== '' && !line.startsWith('See more help with') && !/^The following errors? occurred:$/.test(line))
    .reduce((text, line) => text === '' ? line : `${text}${text.endsWith(':') ? ' ' : '; '}${line}`, '')
}

/** The exit status of every usage error (a bad or missing argument or flag), as oclif gives its own. */
export const USAGE_EXIT = 2

/** The command line asks for something the command cannot do: exits USAGE_EXIT, with a pointer to --help. */
export class UsageError extends Errors.CLIError {
  constructor (message: string) {
    super(message, { exit: USAGE_EXIT })
  }
}

/** Where the switch is, how to trust it and who to log in as: the base flags of every client command. */
export interface ConnectionFlags {
  /** One switch, or several sharing one store, tried in turn (see SwitchClientOptions.url). */
  url: string[]
  socket?: string
  ca?: string
  cert?: string
  key?: string
  principal?: string
  secret?: string
}

/** The PEM file a TLS flag names, read now: a wrong path fails the command before it tries the switch. */
function readPemFlag (flag: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined
  try {
    return readFileSync(path)
  } catch (error) {
    throw new Error(`cannot read --${flag} ${path}: ${fileProblem(error)}`)
  }
}

/** What oclif parses flags and arguments into (its own name for it is not exported). */
type Parsed = Record<string, unknown>

interface ExitInfo {
  oclif?: { exit?: number | false }
  parse?: unknown
}

/** How every switch command parses its command line and fails: a usage error exits 2, any failure is one line. */
export abstract class BaseCommand extends Command {
  /**
   * Parses the command line; any failure is a usage error. (oclif exits 2 for most of its own, but passes an
   * argument's or a custom flag's parse failure on as a plain error.)
   */
  protected override async parse<F extends Parsed, B extends Parsed, A extends Parsed> (
    options?: Interfaces.Input<F, B, A>, argv?: string[]
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (error) {
      if (error instanceof Errors.ExitError || error instanceof UsageError) throw error
      throw new UsageError(error instanceof Error ? error.message : String(error))
    }
  }

  /** Every failure is one line on stderr and a non-zero exit: no stack trace, no help dump. */
  override async catch (error: Error & ExitInfo): Promise<never> {
    if (error instanceof Errors.ExitError) throw error
    const hint = error.parse === undefined && !(error instanceof UsageError) ? '' : ' (see --help)'
    process.stderr.write(`switch: ${oneLine(error.message)}${hint}\n`)
    const code = error.oclif?.exit
    this.exit(typeof code === 'number' && code !== 0 ? code : 1)
  }
}

/** A command that talks to a switch: the connection flags, and a client closed (logged out) when it ends. */
export abstract class SwitchCommand extends BaseCommand {
  static override baseFlags = {
    url: urlFlag({
      description: 'the switch to talk to (http:// is assumed when no scheme is given); several switches sharing one store (serve --redis), repeated or comma-separated, are used one at a time, moving to the next when one fails',
      helpValue: 'URL',
      helpGroup: 'CONNECTION'
    }),
    socket: Flags.string({ description: 'reach the switch over this Unix socket instead', helpValue: 'PATH', helpGroup: 'CONNECTION' }),
    ca: Flags.string({ description: 'trust this CA (PEM) for an https --url, instead of the system\'s', env: 'SWITCH_CA', helpValue: 'FILE', helpGroup: 'CONNECTION' }),
    cert: Flags.string({ description: 'present this client certificate (PEM) to a switch that requires one', helpValue: 'FILE', helpGroup: 'CONNECTION', dependsOn: ['key'] }),
    key: Flags.string({ description: 'the private key of --cert (PEM)', helpValue: 'FILE', helpGroup: 'CONNECTION', dependsOn: ['cert'] }),
    principal: Flags.string({ description: 'log in as this principal (a switch with an auth file); an API key in $SWITCH_API_KEY needs none', helpValue: 'NAME', helpGroup: 'CONNECTION' }),
    // Prefer the environment: a command line is visible to every user of the host (ps).
    secret: Flags.string({ description: 'the principal\'s secret', env: 'SWITCH_SECRET', helpValue: 'SECRET', helpGroup: 'CONNECTION' })
  }

  private client?: SwitchClient
  /** The followed switch's last reachability change (see `follow`). */
  private reachability: Reachability | undefined


  /**
   * A client for a command that waits on the switch (call, subscribe, serve QUEUE): it says on stderr, once per
   * outage, when the switch cannot be reached and it keeps trying, and when it is reached again.
   */
  protected follow (flags: ConnectionFlags, retryFor: number): SwitchClient {
    return this.connect(flags, retryFor, (change) => {
      const told = this.reachability?.reachable === false
      this.reachability = change
      if (!change.reachable) process.stderr.write(`switch: cannot reach ${change.target}: ${change.reason}; retrying\n`)
      else if (told) process.stderr.write(`switch: connected to ${change.target}\n`)
    })
  }

  /** Why the followed switch cannot be reached (`the switch at URL is unreachable (connection refused)`), if so. */
  protected unreachable (): string | undefined {
    const change = this.reachability
    return change === undefined || change.reachable ? undefined : `the switch at ${change.target} is unreachable (${change.reason})`
  }

  /** Ends a followed command stopped by a signal: exit 1 if it never reached the switch, or lost it. */
  protected stoppedFollowing (flags: ConnectionFlags): void {
    const problem = this.reachability === undefined ? `the switch at ${flags.socket ?? flags.url.join(', ')} was never reached` : this.unreachable()
    if (problem !== undefined) throw new Error(`stopped: ${problem}`)
  }

  /** A client for this command run; closed (and logged out) when the command ends, however it ends. */
  protected connect (flags: ConnectionFlags, retryFor = ONE_SHOT_RETRY_MS, onReachability?: (change: Reachability) => void): SwitchClient {
    this.client = new SwitchClient({
      url: flags.url,
      ...(flags.socket === undefined ? {} : { socketPath: flags.socket }),
      ca: readPemFlag('ca', flags.ca),
      cert: readPemFlag('cert', flags.cert),
      key: readPemFlag('key', flags.key),
      client: `switch-${this.id ?? 'cli'}:${process.pid}`,
      ...(flags.principal === undefined ? {} : { principal: flags.principal }),
      ...(flags.secret === undefined ? {} : { secret: flags.secret }),
      retryFor,
      onReachability
    })
    return this.client
  }

  override async finally (error: Error | undefined): Promise<void> {
    const client = this.client
    this.client = undefined
    // A failure to log out must not hide the command's own outcome.
    await client?.close().catch(() => {})
    await super.finally(error)
  }
}
