import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { Running } from './ipc.js'

// Brokers that are not Node programs (Mosquitto, nats-server), run as peers when the machine has them.

/** Debian puts daemons in sbin, which a non-root PATH often lacks. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin']
const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000

/** The full path of an installed program, or undefined when it is not installed. */
export function findBinary (name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS].filter((dir) => dir !== '')
  for (const dir of dirs) {
    const path = join(dir, name)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // Not here.
    }
  }
  return undefined
}

/** A loopback port nothing listens on right now (a program that takes no port 0 needs one named). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}

export interface DaemonInfo {
  /** Where clients connect, `<scheme>://127.0.0.1:<port>`. */
  url: string
  /** The daemon's own process, whose CPU the figures read (the Node process around it only waits). */
  pid: number
}

export interface DaemonSpec {
  binary: string
  scheme: string
  /** The configuration file's text for a daemon listening on 127.0.0.1:`port` only, keeping any files in `dir`. */
  config: (port: number, dir: string) => string
  /** Its command line, given the configuration file's path. */
  args: (configFile: string) => string[]
}

/**
 * Starts the daemon on a free loopback port with a configuration file in a fresh temporary directory, and waits
 * until it accepts connections. Stopping it (SIGTERM, then SIGKILL) also removes the directory.
 */
export async function startDaemon (spec: DaemonSpec): Promise<Running<DaemonInfo>> {
  const dir = await mkdtemp(join(tmpdir(), 'switch-bench-peer-'))
  const port = await freePort()
  const configFile = join(dir, 'peer.conf')
  await writeFile(configFile, spec.config(port, dir))
  const child: ChildProcess = spawn(spec.binary, spec.args(configFile), { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2000) })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  let gone = false
  void exited.then(() => { gone = true })
  const stop = async (): Promise<void> => {
    if (!gone) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
  // The daemon dies with this process: the harness may SIGKILL it, which no handler sees.
  process.once('exit', () => { child.kill('SIGKILL') })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!await accepts(port)) {
    if (gone || Date.now() > deadline) {
      await stop()
      throw new Error(`${spec.binary} did not start listening on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`)
    }
    await delay(20)
  }
  return { info: { url: `${spec.scheme}://127.0.0.1:${port}`, pid: child.pid ?? -1 }, stop }
}
