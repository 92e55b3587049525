import { findBinary } from './daemon.js'
import { openFilesLimit } from './rss.js'

export type Mode = 'quick' | 'full'
export const GROUPS = ['ceiling', 'send', 'rpc', 'peers', 'auth', 'redis', 'waiters', 'size', 'topics', 'stalled', 'work'] as const
export type Group = typeof GROUPS[number]

export interface Settings {
  mode: Mode
  /** autocannon figures (ceiling, send throughput). */
  cannonSeconds: number
  cannonWarmupSeconds: number
  /** Connections of the ceiling, and senders of the send figures. */
  connections: number
  rpcSeconds: number
  rpcWarmupSeconds: number
  /** Switch and peer take turns this many times; each figure is the median of its rounds. */
  rpcRounds: number
  rpcConcurrency: number[]
  /** Callers of the peers figures with many callers (each its own client, then all sharing one). */
  peerCallers: number
  /** Rounds of the peers figures, every system taking its turn in each; each figure is the median. */
  peerRounds: number
  /**
   * Unmeasured load each system takes before the first round, so that none is measured cold (the switch's JIT
   * takes seconds to settle, and the first load, 1 caller, is the one that shows it most). 0: none.
   */
  peerWarmupSeconds: number
  /**
   * The peers that are programs of their own, in the table. A full run lists them all, noting any not
   * installed; a quick run only those installed, so that every row it has gets a value.
   */
  daemonPeers: DaemonPeer[]
  /** Calls in flight of the auth figure (RPC with and without an auth file, taking turns `rpcRounds` times). */
  authConcurrency: number
  /**
   * Whether the table has the figures of switches sharing one Redis (`--redis`): a full run always (noting a
   * missing redis-server), a quick run only when redis-server is installed, as for the peers.
   */
  redis: boolean
  /** Calls in flight of those RPC figures. */
  redisConcurrency: number[]
  waiters: number
  waiterProbes: number
  waiterBatch: number
  tailMessages: number
  tailProbes: number
  sessions: number
  sessionProbes: number
  /** Topic bindings of the publish figures: few, then many. */
  fewBindings: number
  bindings: number
  publishProbes: number
  /** Stalled readers, each asking for every one of `stalledMessages` 1 MiB messages, and health checks timed. */
  stalledReaders: number
  stalledMessages: number
  stalledProbes: number
  /** Jobs drained by the work figures, by this many competing workers. */
  workMessages: number
  workWorkers: number
}

const FULL: Settings = {
  mode: 'full',
  cannonSeconds: 10,
  cannonWarmupSeconds: 2,
  connections: 50,
  rpcSeconds: 5,
  rpcWarmupSeconds: 1,
  rpcRounds: 3,
  rpcConcurrency: [1, 16, 64],
  peerCallers: 16,
  peerRounds: 2,
  peerWarmupSeconds: 3,
  daemonPeers: ['nats', 'mosquitto'],
  authConcurrency: 16,
  redis: true,
  redisConcurrency: [1, 16],
  waiters: 10_000,
  waiterProbes: 1000,
  waiterBatch: 500,
  tailMessages: 100_000,
  tailProbes: 2000,
  sessions: 1000,
  sessionProbes: 2000,
  fewBindings: 10,
  bindings: 10_000,
  publishProbes: 2000,
  // The scale: 32 clients that never read while 200 MiB is queued.
  stalledReaders: 32,
  stalledMessages: 200,
  stalledProbes: 1000,
  workMessages: 20_000,
  workWorkers: 8
}

/** A few seconds per figure: enough to show the harness still runs end to end, not to judge anything. */
const QUICK: Settings = {
  ...FULL,
  mode: 'quick',
  cannonSeconds: 0.7,
  cannonWarmupSeconds: 0.2,
  rpcSeconds: 0.5,
  rpcWarmupSeconds: 0.2,
  rpcRounds: 1,
  peerRounds: 1,
  peerWarmupSeconds: 0,
  waiters: 500,
  waiterProbes: 50,
  waiterBatch: 250,
  tailMessages: 3000,
  tailProbes: 100,
  sessions: 100,
  sessionProbes: 100,
  bindings: 1000,
  publishProbes: 100,
  stalledReaders: 4,
  stalledMessages: 8,
  stalledProbes: 50,
  workMessages: 2000
}

/** The peers that are not Node programs, each with its Debian package's program (same name as the package). */
export const DAEMON_BINARIES = { nats: 'nats-server', mosquitto: 'mosquitto' } as const
export type DaemonPeer = keyof typeof DAEMON_BINARIES

/** The Redis that `--redis` switches share (Debian package redis-server). */
export const REDIS_SERVER = 'redis-server'

/** File descriptors a process keeps for itself beyond the waiters' sockets. */
export const SPARE_FILES = 256

export function settingsFor (mode: Mode): Settings {
  if (mode === 'full') return FULL
  // Quick mode fits under whatever `ulimit -n` the shell has; the full figure needs its 10,000.
  return {
    ...QUICK,
    waiters: Math.max(10, Math.min(QUICK.waiters, openFilesLimit() - SPARE_FILES)),
    daemonPeers: QUICK.daemonPeers.filter((peer) => findBinary(DAEMON_BINARIES[peer]) !== undefined),
    redis: findBinary(REDIS_SERVER) !== undefined
  }
}

export interface Options {
  mode: Mode
  groups: Group[]
  /** Where the JSON goes. */
  out: string
  /** Rewrite the table in BENCHMARKS.md (full runs of every group only). */
  markdown: boolean
  /** Run the switch under `node --cpu-prof`, profiles into <out>/profiles. */
  cpuProf: boolean
}

export class UsageError extends Error {
  readonly code = 'bench_usage'
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export const USAGE = `usage: node dist/bench/run.js [--quick] [--only ${GROUPS.join(',')}] [--out DIR] [--no-markdown] [--cpu-prof]
  --quick        a few seconds per figure, scaled-down counts: checks the harness runs, judges nothing
  --only         run just these groups of figures (the ceiling is always measured: every ratio needs it)
  --out DIR      where the JSON results go (default bench/results)
  --no-markdown  leave BENCHMARKS.md alone (quick runs and --only runs never touch it)
  --cpu-prof     run each switch process under node --cpu-prof; profiles go to DIR/profiles`

export function parseOptions (argv: string[], defaultOut: string): Options {
  const options: Options = { mode: 'full', groups: [...GROUPS], out: defaultOut, markdown: true, cpuProf: false }
  let only = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const next = argv[++i]
      if (next === undefined) throw new UsageError(`${arg} needs a value`)
      return next
    }
    if (arg === '--quick') options.mode = 'quick'
    else if (arg === '--out') options.out = value()
    else if (arg === '--no-markdown') options.markdown = false
    else if (arg === '--cpu-prof') options.cpuProf = true
    else if (arg === '--only') {
      only = true
      const wanted = value().split(',').filter((group) => group !== '')
      for (const group of wanted) {
        if (!(GROUPS as readonly string[]).includes(group)) throw new UsageError(`unknown group ${group}`)
      }
      options.groups = GROUPS.filter((group) => group === 'ceiling' || wanted.includes(group))
    } else throw new UsageError(`unknown argument ${arg}`)
  }
  if (options.mode === 'quick' || only) options.markdown = false
  return options
}
