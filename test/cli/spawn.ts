// Runs the real built `switch` binary (bin/run.js over dist/cli) as a child process.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { LoginResponse, TraceEvent, TraceResponse } from '../../protocol/wire.js'

export const BIN = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface Teardown {
  teardown: (fn: () => unknown) => void
}

export interface RunOptions {
  /** Written to its stdin (which is then closed, unless `openStdin`). */
  input?: string
  /** Leave stdin open, for the test to write to `child.stdin` later. */
  openStdin?: boolean
  /** Run this executable (e.g. another language's client program) instead of the switch binary. */
  command?: string
  env?: Record<string, string>
  /**
   * Run by root, drop the capabilities that let root ignore file permissions, so that a directory's mode binds
   * the process as it binds anyone else. (Running as another user instead would depend on where the checkout
   * lives: that user may not be able to read it.)
   */
  boundByPermissions?: boolean
  /** Another `switch` binary to run (an installed package's), instead of this checkout's. */
  bin?: string
}

type Stream = 'stdout' | 'stderr'

/** util-linux's setpriv (on every Debian system): it ties a child's life to ours and drops capabilities. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path))
const PERMISSION_OVERRIDES = '-dac_override,-dac_read_search,-fowner'

/** What starts a child: where it can, the child is killed when this process dies, even by SIGKILL. */
function launcher (args: string[], options: RunOptions): [string, string[]] {
  const asRoot = process.getuid?.() === 0
  if (options.boundByPermissions === true && asRoot && SETPRIV === undefined) {
    throw new Error('as root, a test that needs file permissions to bind needs setpriv (util-linux)')
  }
  const [program, ...programArgs] = options.command === undefined ? [process.execPath, options.bin ?? BIN, ...args] : [options.command, ...args]
  if (SETPRIV === undefined) return [program, programArgs]
  const drop = options.boundByPermissions === true && asRoot ? [`--bounding-set=${PERMISSION_OVERRIDES}`] : []
  return [SETPRIV, ['--pdeathsig', 'KILL', ...drop, program, ...programArgs]]
}

/** Every child still running, killed when this process exits however its tests ended. */
const running = new Set<ChildProcessWithoutNullStreams>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

export class Cli {
  readonly child: ChildProcessWithoutNullStreams
  readonly result: Promise<Result>
  private readonly text = { stdout: '', stderr: '' }
  /** Complete lines so far, per stream. */
  private readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] }
  private ended = false
  private readonly changes = new EventEmitter()
  private readonly name: string

  constructor (args: string[], options: RunOptions = {}) {
    this.name = options.command ?? 'switch'
    const env = { ...process.env }
    delete env.SWITCH_URL
    Object.assign(env, options.env)
    const [command, commandArgs] = launcher(args, options)
    this.child = spawn(command, commandArgs, { env, stdio: 'pipe' })
    running.add(this.child)
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream].setEncoding('utf8').on('data', (chunk: string) => {
        const before = this.text[stream]
        const pending = before.length - before.lastIndexOf('\n') - 1
        this.text[stream] += chunk
        const complete = this.text[stream].slice(before.length - pending).split('\n').slice(0, -1)
        this.lines[stream].push(...complete)
        this.changes.emit('change')
      })
    }
    if (options.openStdin === true) {
      // A child that ended before the test wrote to it is the test's finding (its result), not a crash (EPIPE).
      this.child.stdin.on('error', () => {})
      this.child.stdin.write(options.input ?? '')
    } else {
      this.child.stdin.end(options.input)
    }
    this.result = new Promise((resolve, reject) => {
      this.child.on('error', reject)
      this.child.on('close', (code, signal) => {
        running.delete(this.child)
        this.ended = true
        this.changes.emit('change')
        resolve({ code, signal, stdout: this.text.stdout, stderr: this.text.stderr })
      })
    })
  }

  /** The first line of `stream` (printed so far or later) matching `pattern`; rejects if the process ends first. */
  async line (pattern: RegExp, stream: Stream = 'stdout'): Promise<RegExpMatchArray> {
    const lines = this.lines[stream]
    for (let i = 0; ; i++) {
      while (i >= lines.length) {
        if (this.ended) throw new Error(`${this.name} exited (${this.child.exitCode}) before printing ${pattern}: ${this.text.stderr}`)
        await once(this.changes, 'change')
      }
      const match = pattern.exec(lines[i])
      if (match !== null) return match
    }
  }

  /** Ends the process if it still runs and waits for it to be gone. */
  async kill (): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.result.catch(() => {})
  }
}

/** Starts `switch ...args`, killed at teardown if still running. */
export function start (t: Teardown, args: string[], options?: RunOptions): Cli {
  const cli = new Cli(args, options)
  t.teardown(async () => { await cli.kill() })
  return cli
}

/** Runs `switch ...args` to completion. */
export async function run (t: Teardown, args: string[], options?: RunOptions): Promise<Result> {
  return await start(t, args, options).result
}

/**
 * Starts `switch serve` as users do, with `flags` (on port 0 unless they name a port or --no-tcp), and resolves
 * with the URL of its "switch listening on URL" line (the first place it names) and its process.
 */
export async function startSwitch (t: Teardown, flags: string[] = [], options?: RunOptions): Promise<{ url: string, server: Cli }> {
  const port = flags.includes('--port') || flags.includes('--no-tcp') ? [] : ['--port', '0']
  const server = start(t, ['serve', ...port, '--log-level', 'warn', ...flags], options)
  const [, url] = await server.line(/^switch listening on (\S+)/)
  return { url, server }
}

/**
 * Stops a switch started by `startSwitch` as a crash would (SIGKILL) and starts it again on the same port with
 * `flags`: clients that knew its URL find it there, with whatever its store kept (nothing, in memory).
 */
export async function restartSwitch (t: Teardown, server: Cli, url: string, flags: string[] = [], options?: RunOptions): Promise<{ url: string, server: Cli }> {
  await server.kill()
  return await startSwitch(t, ['--port', new URL(url).port, ...flags], options)
}

/** Long-polls the switch's trace until an event matches: waiting on the switch itself, not on the clock. */
export async function waitForEvent (url: string, matches: (event: TraceEvent) => boolean): Promise<TraceEvent> {
  let after = 0
  for (;;) {
    const response = await fetch(`${url}/v1/trace?after=${after}&timeout=10`)
    const { events, next } = await response.json() as TraceResponse
    const found = events.find(matches)
    if (found !== undefined) return found
    if (events.length === 0) throw new Error('no matching trace event within 10 s')
    after = next
  }
}

/** Sets state up over plain HTTP, so that a test's premise never depends on how fast a CLI process ran. */
export async function session (url: string): Promise<(method: string, path: string) => Promise<unknown>> {
  const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"tester"}' })
  const { token } = await login.json() as LoginResponse
  return async (method, path) => {
    const response = await fetch(`${url}/v1${path}`, { method, headers: { authorization: `Bearer ${token}` } })
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    return response.status === 204 ? undefined : await response.json()
  }
}
