import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { cpuMicros } from './cpu.js'
import { findBinary, type DaemonInfo } from './daemon.js'
import { describe } from './ipc.js'
import type { LoopOptions } from './jobs/loop.js'
import { hasMode, modeLoad, peerId, PEER_MODES, SWITCH_WORK, type PeerProcess, type PeerSystem } from './peers.js'
import { withProcesses, type BenchProcess, type Processes } from './proc.js'
import type { RoleName } from './roles/index.js'
import { thousands } from './report.js'
import { openFilesLimit } from './rss.js'
import { DAEMON_BINARIES, REDIS_SERVER, SPARE_FILES, type DaemonPeer, type Group, type Settings } from './settings.js'
import { median, type LatencySummary, type Throughput } from './stats.js'
import { hashSecret } from '../server/auth/secrets.js'
import type { BenchCredentials } from './roles/switch.js'

/** What a group of figures may do: start processes, and fill in rows of the table. */
export interface Context {
  settings: Settings
  execArgvFor: (role: RoleName) => string[]
  set: (id: string, value: number) => void
  /** Marks every row under `prefix` that has no value yet as not measured, and why. */
  skip: (prefix: string, reason: string) => void
  note: (id: string, text: string) => void
  detail: (key: string, value: unknown) => void
  /** A line on the harness's log (stderr), for what the reader should know while it runs. */
  log: (line: string) => void
}

const QUEUE = 'bench'
// Bounds on a job beyond its own measured time: setup, connection, warm-up on a busy machine.
const JOB_SLACK_SECONDS = 60

async function run<T> (context: Context, body: (processes: Processes) => Promise<T>): Promise<T> {
  return await withProcesses(context.execArgvFor, body)
}

/** A latency figure is its two percentiles, `<prefix>.p50` and `<prefix>.p99`. */
function setLatency (context: Context, prefix: string, latency: LatencySummary): void {
  context.set(`${prefix}.p50`, latency.p50)
  context.set(`${prefix}.p99`, latency.p99)
}

function setThroughput (context: Context, prefix: string, result: Throughput): void {
  context.set(`${prefix}.rps`, result.rps)
  setLatency(context, prefix, result.latency)
  if (result.failed > 0) context.note(`${prefix}.rps`, `${result.failed} requests failed`)
}

/** The most this machine serves over HTTP from one Node process: every other figure is read against it. */
async function ceiling (context: Context): Promise<void> {
  const s = context.settings
  await run(context, async (processes) => {
    const [bare, load] = await Promise.all([processes.start('bare', undefined), processes.start('load', undefined)])
    const timeout = s.cannonWarmupSeconds + s.cannonSeconds + JOB_SLACK_SECONDS
    for (const connections of [s.connections, 1]) {
      const result = await load.run('cannon', {
        url: bare.info.url, path: '/', connections, seconds: s.cannonSeconds, warmupSeconds: s.cannonWarmupSeconds
      }, timeout)
      setThroughput(context, `ceiling.c${connections}`, result)
      context.detail(`ceiling.c${connections}`, result)
    }
  })
}

/**
 * Many senders, one queue: the switch's raw intake, in memory and with a durable store, taking turns with the
 * ceiling round after round (order reversed every other round), so that a change in the host's speed hits both
 * alike: each figure is the median of its rounds. Every switch turn is a fresh switch, so no round starts with
 * the messages of the one before.
 */
async function send (context: Context): Promise<void> {
  const s = context.settings
  const timeout = s.cannonWarmupSeconds + s.cannonSeconds + JOB_SLACK_SECONDS
  const load = { connections: s.connections, seconds: s.cannonSeconds, warmupSeconds: s.cannonWarmupSeconds }
  const rounds = new Map<string, Throughput[]>()
  const keep = (id: string, result: Throughput): void => { rounds.set(id, [...(rounds.get(id) ?? []), result]) }
  const ceilingTurn = async (): Promise<void> => {
    await run(context, async (processes) => {
      const [bare, loader] = await Promise.all([processes.start('bare', undefined), processes.start('load', undefined)])
      keep('send.ceiling', await loader.run('cannon', { url: bare.info.url, path: '/', ...load }, timeout))
    })
  }
  const switchTurn = async (durable: boolean): Promise<void> => {
    const dataDir = durable ? await mkdtemp(join(tmpdir(), 'switch-bench-')) : undefined
    try {
      await run(context, async (processes) => {
        const [server, loader] = await Promise.all([
          processes.start('switch', dataDir === undefined ? {} : { dataDir }),
          processes.start('load', undefined)
        ])
        const tokens = await loader.run('prepareSenders', { url: server.info.url, queue: QUEUE, senders: s.connections }, JOB_SLACK_SECONDS)
        const result = await loader.run('cannon', { url: server.info.url, path: `/v1/queues/${QUEUE}/messages`, tokens, ...load }, timeout)
        keep(`send.${durable ? 'durable' : 'memory'}`, result)
      })
    } finally {
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
    }
  }
  const turns = [ceilingTurn, async () => { await switchTurn(false) }, async () => { await switchTurn(true) }]
  for (let round = 0; round < s.rpcRounds; round++) {
    for (const turn of round % 2 === 1 ? [...turns].reverse() : turns) await turn()
  }
  setRounds(context, rounds)
  for (const [id, results] of rounds) {
    const failed = results.reduce((sum, result) => sum + result.failed, 0)
    if (failed > 0) context.note(`${id}.rps`, `${failed} requests failed`)
  }
}

/**
 * Request/reply through the switch and through Aedes, each with its responder in a process of its own and the
 * callers in a third; the two take turns at each concurrency, round after round, so drift hits both alike.
 */
async function rpc (context: Context): Promise<void> {
  const s = context.settings
  const timeout = s.rpcWarmupSeconds + s.rpcSeconds + JOB_SLACK_SECONDS
  const maxConcurrency = Math.max(...s.rpcConcurrency)
  await run(context, async (processes) => {
    const [server, broker, load] = await Promise.all([
      processes.start('switch', {}),
      processes.start('aedes', undefined),
      processes.start('load', undefined)
    ])
    await Promise.all([
      processes.start('switch-responder', { url: server.info.url, queue: QUEUE, concurrency: maxConcurrency }),
      processes.start('mqtt-responder', { url: broker.info.url })
    ])
    const rounds = new Map<string, Throughput[]>()
    const keep = (id: string, result: Throughput): void => { rounds.set(id, [...(rounds.get(id) ?? []), result]) }
    for (let round = 0; round < s.rpcRounds; round++) {
      for (const concurrency of s.rpcConcurrency) {
        const loop = { concurrency, seconds: s.rpcSeconds, warmupSeconds: s.rpcWarmupSeconds }
        const turns = [
          async () => { keep(`rpc.switch.c${concurrency}`, await load.run('rpcSwitch', { url: server.info.url, queue: QUEUE, ...loop }, timeout)) },
          async () => { keep(`rpc.aedes.c${concurrency}`, await load.run('rpcMqtt', { url: broker.info.url, ...loop }, timeout)) }
        ]
        if (round % 2 === 1) turns.reverse()
        for (const turn of turns) await turn()
      }
    }
    setRounds(context, rounds)
  })
}

/** One system of the peers figures: the processes whose CPU counts, and one turn of its workload. */
interface PeerTurns {
  system: PeerSystem
  pids: Partial<Record<PeerProcess, number>>
  turn: (loop: LoopOptions & { clients: number }) => Promise<Throughput>
}

/**
 * Request/reply through the switch and through what users would pick instead (nats-server and Mosquitto when
 * installed, Aedes), beside one bare HTTP exchange: each server, each responder and the callers in processes of
 * their own. Mode by mode, round after round, the systems take turns (order reversed every other round), and
 * the CPU time of every process involved is read from /proc over each measured window.
 */
async function peers (context: Context): Promise<void> {
  for (const [peer, program] of Object.entries(DAEMON_BINARIES)) {
    if (findBinary(program) !== undefined) continue
    // A quick run leaves them out of its table; a full run notes them in their rows.
    context.log(`${program} is not installed (Debian package ${program}): no ${peer} figures`)
  }
  // The durable switch's store: removed however the run ends.
  const dataDir = await mkdtemp(join(tmpdir(), 'switch-bench-'))
  try {
    await peersIn(context, dataDir)
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** The peers figures, the durable switch keeping its store in `dataDir`. */
async function peersIn (context: Context, dataDir: string): Promise<void> {
  const s = context.settings
  const timeout = s.rpcWarmupSeconds + s.rpcSeconds + JOB_SLACK_SECONDS
  const subject = 'bench.rpc'
  await run(context, async (processes) => {
    const [bare, server, durable, aedes, load] = await Promise.all([
      processes.start('bare', undefined),
      processes.start('switch', {}),
      processes.start('switch', { dataDir }),
      processes.start('aedes', undefined),
      processes.start('load', undefined)
    ])
    const systems: PeerTurns[] = []
    const [switchResponder, durableResponder, aedesResponder] = await Promise.all([
      processes.start('switch-responder', { url: server.info.url, queue: QUEUE, concurrency: s.peerCallers }),
      processes.start('switch-responder', { url: durable.info.url, queue: QUEUE, concurrency: s.peerCallers }),
      processes.start('mqtt-responder', { url: aedes.info.url })
    ])
    systems.push(
      {
        system: 'bare',
        pids: { server: bare.pid, callers: load.pid },
        turn: async (loop) => await load.run('echoHttp', { url: bare.info.url, ...loop }, timeout)
      },
      {
        system: 'switch',
        pids: { server: server.pid, responder: switchResponder.pid, callers: load.pid },
        turn: async (loop) => await load.run('rpcSwitch', { url: server.info.url, queue: QUEUE, ...loop }, timeout)
      },
      {
        system: 'durable',
        pids: { server: durable.pid, responder: durableResponder.pid, callers: load.pid },
        turn: async (loop) => await load.run('rpcSwitch', { url: durable.info.url, queue: QUEUE, ...loop }, timeout)
      },
      {
        system: 'aedes',
        pids: { server: aedes.pid, responder: aedesResponder.pid, callers: load.pid },
        turn: async (loop) => await load.run('rpcMqtt', { url: aedes.info.url, ...loop }, timeout)
      }
    )
    // A peer that is missing or will not start is noted in its rows; the other figures go on without it.
    const daemon = async (peer: DaemonPeer, start: (binary: string) => Promise<{ info: DaemonInfo, responderPid: number }>): Promise<void> => {
      const program = DAEMON_BINARIES[peer]
      const binary = findBinary(program)
      if (binary === undefined) {
        context.skip(`peers.${peer}.`, `not measured: ${program} is not installed (Debian package ${program})`)
        return
      }
      try {
        const { info, responderPid } = await start(binary)
        const pids = { server: info.pid, responder: responderPid, callers: load.pid }
        systems.push(peer === 'nats'
          ? { system: peer, pids, turn: async (loop) => await load.run('rpcNats', { url: info.url, subject, ...loop }, timeout) }
          : { system: peer, pids, turn: async (loop) => await load.run('rpcMqtt', { url: info.url, protocolVersion: 5, ...loop }, timeout) })
      } catch (error) {
        context.skip(`peers.${peer}.`, `not measured: ${program} failed to start: ${describe(error).split('\n')[0]}`)
      }
    }
    await Promise.all(s.daemonPeers.map(async (peer) => {
      if (peer === 'nats') {
        await daemon(peer, async (binary) => {
          const { info } = await processes.start('nats', { binary })
          return { info, responderPid: (await processes.start('nats-responder', { url: info.url, subject })).pid }
        })
      } else {
        await daemon(peer, async (binary) => {
          const { info } = await processes.start('mosquitto', { binary })
          return { info, responderPid: (await processes.start('mqtt-responder', { url: info.url, protocolVersion: 5 })).pid }
        })
      }
    }))
    if (s.peerWarmupSeconds > 0) {
      for (const { system, turn } of systems) {
        const load = modeLoad(s, hasMode(system, 'shared') ? 'shared' : 'many')
        await turn({ ...load, seconds: s.peerWarmupSeconds, warmupSeconds: 0 })
      }
    }
    const rounds = new Map<string, Array<{ result: Throughput, processes: PeerProcess[] }>>()
    for (let round = 0; round < s.peerRounds; round++) {
      for (const mode of PEER_MODES) {
        const turns = systems.filter(({ system }) => hasMode(system, mode))
        if (round % 2 === 1) turns.reverse()
        for (const { system, pids, turn } of turns) {
          const involved = Object.keys(pids) as PeerProcess[]
          const result = await turn({
            ...modeLoad(s, mode),
            seconds: s.rpcSeconds,
            warmupSeconds: s.rpcWarmupSeconds,
            cpuPids: involved.map((process) => pids[process] as number)
          })
          const id = peerId(system, mode)
          rounds.set(id, [...(rounds.get(id) ?? []), { result, processes: involved }])
        }
      }
    }
    // Without the other processes, sockets or kernel: what the switch's code costs, as steady as a figure gets.
    const work: number[] = []
    for (let round = 0; round < s.peerRounds; round++) {
      work.push((await load.run('switchWork', { callers: s.peerCallers, seconds: s.rpcSeconds, warmupSeconds: s.rpcWarmupSeconds }, timeout)).cpu)
    }
    context.set(SWITCH_WORK.id, median(work))
    for (const [id, results] of rounds) {
      context.set(`${id}.rps`, median(results.map(({ result }) => result.rps)))
      context.set(`${id}.p50`, median(results.map(({ result }) => result.latency.p50)))
      context.set(`${id}.p99`, median(results.map(({ result }) => result.latency.p99)))
      // CPU microseconds per round trip: each process's time over the window, over the round trips in it.
      const perTrip = (result: Throughput, i: number): number => (result.cpu?.[i] ?? NaN) / Math.max(1, result.completed)
      context.set(`${id}.cpu`, median(results.map(({ result, processes }) => processes.reduce((sum, _, i) => sum + perTrip(result, i), 0))))
      results[0].processes.forEach((process, i) => {
        context.set(`${id}.cpu.${process}`, median(results.map(({ result }) => perTrip(result, i))))
      })
      context.detail(id, results)
    }
  })
}

/** The counter that numbers the entries of a `--redis` switch's log (default prefix): operations appended so far. */
const LOG_NUMBER = 'switch:log-number'

/**
 * Switches sharing one Redis (`--redis`, Redis syncing every write): RPC and send through one switch, then
 * through two (the second started once the first's figures are in, so that one switch ran alone), and the CPU
 * redis-server spends per operation of the log: its /proc time over the operations the log numbered meanwhile.
 */
async function redis (context: Context): Promise<void> {
  const s = context.settings
  const binary = findBinary(REDIS_SERVER)
  if (binary === undefined || !s.redis) {
    context.log(`${REDIS_SERVER} is not installed (Debian package ${REDIS_SERVER}): no redis figures`)
    context.skip('redis.', `not measured: ${REDIS_SERVER} is not installed (Debian package ${REDIS_SERVER})`)
    return
  }
  const rpcTimeout = s.rpcWarmupSeconds + s.rpcSeconds + JOB_SLACK_SECONDS
  const sendTimeout = s.cannonWarmupSeconds + s.cannonSeconds + JOB_SLACK_SECONDS
  const maxConcurrency = Math.max(...s.redisConcurrency)
  await run(context, async (processes) => {
    const redisServer = await processes.start('redis', { binary })
    const { url, pid } = redisServer.info
    const log = new Redis(url)
    try {
      const spent = { rpc: { micros: 0, operations: 0 }, send: { micros: 0, operations: 0 } }
      /** A turn, with redis-server's CPU and the log's operations over it. */
      const counted = async <T>(kind: keyof typeof spent, turn: () => Promise<T>): Promise<T> => {
        const [micros, operations] = [cpuMicros(pid), Number(await log.get(LOG_NUMBER))]
        const result = await turn()
        spent[kind].micros += cpuMicros(pid) - micros
        spent[kind].operations += Number(await log.get(LOG_NUMBER)) - operations
        return result
      }
      const rounds = new Map<string, Throughput[]>()
      const keep = (id: string, result: Throughput): void => { rounds.set(id, [...(rounds.get(id) ?? []), result]) }
      const rpcRounds = async (nodes: string, url: string, queue: string, load: BenchProcess<'load'>): Promise<void> => {
        for (let round = 0; round < s.rpcRounds; round++) {
          for (const concurrency of s.redisConcurrency) {
            const loop = { url, queue, concurrency, seconds: s.rpcSeconds, warmupSeconds: s.rpcWarmupSeconds }
            keep(`redis.${nodes}.rpc.c${concurrency}`, await counted('rpc', async () => await load.run('rpcSwitch', loop, rpcTimeout)))
          }
        }
      }
      const sendTo = async (url: string, load: BenchProcess<'load'>, tokens: string[]): Promise<Throughput> =>
        await load.run('cannon', {
          url, path: `/v1/queues/${QUEUE}/messages`, connections: tokens.length, seconds: s.cannonSeconds, warmupSeconds: s.cannonWarmupSeconds, tokens
        }, sendTimeout)

      const [a, loadA] = await Promise.all([processes.start('switch', { redis: url }), processes.start('load', undefined)])
      await processes.start('switch-responder', { url: a.info.url, queue: 'bench-one', concurrency: maxConcurrency })
      await rpcRounds('one', a.info.url, 'bench-one', loadA)
      const tokens = await loadA.run('prepareSenders', { url: a.info.url, queue: QUEUE, senders: s.connections }, JOB_SLACK_SECONDS)
      keep('redis.one.send', await counted('send', async () => await sendTo(a.info.url, loadA, tokens)))

      // The second switch reads the first's snapshot and log; its responder serves callers on the first.
      const [b, loadB] = await Promise.all([processes.start('switch', { redis: url }), processes.start('load', undefined)])
      await processes.start('switch-responder', { url: b.info.url, queue: 'bench-two', concurrency: maxConcurrency })
      await rpcRounds('two', a.info.url, 'bench-two', loadA)
      const half = Math.ceil(tokens.length / 2)
      const both = await counted('send', async () => await Promise.all([
        sendTo(a.info.url, loadA, tokens.slice(0, half)),
        sendTo(b.info.url, loadB, tokens.slice(half))
      ]))
      keep('redis.two.send', {
        rps: both[0].rps + both[1].rps,
        completed: both[0].completed + both[1].completed,
        failed: both[0].failed + both[1].failed,
        seconds: Math.max(both[0].seconds, both[1].seconds),
        latency: {
          count: both[0].latency.count + both[1].latency.count,
          p50: Math.max(both[0].latency.p50, both[1].latency.p50),
          p99: Math.max(both[0].latency.p99, both[1].latency.p99),
          mean: (both[0].latency.mean * both[0].latency.count + both[1].latency.mean * both[1].latency.count) /
            Math.max(1, both[0].latency.count + both[1].latency.count)
        }
      })
      setRounds(context, rounds)
      for (const [kind, { micros, operations }] of Object.entries(spent)) {
        context.set(`redis.cpu.${kind}`, micros / Math.max(1, operations))
        context.note(`redis.cpu.${kind}`, `over ${thousands(operations)} operations`)
      }
      context.detail('redis.cpu', spent)
    } finally {
      log.disconnect()
    }
  })
}

/** Thousands of clients each holding a long-poll open: their memory, and how fast one still gets its message. */
async function waiters (context: Context): Promise<void> {
  const s = context.settings
  const limit = openFilesLimit()
  if (limit < s.waiters + SPARE_FILES) {
    context.skip('waiters.', `not measured: ulimit -n is ${limit}, ${s.waiters + SPARE_FILES} needed (raise it in the shell running the bench)`)
    return
  }
  await run(context, async (processes) => {
    const [server, load] = await Promise.all([processes.start('switch', {}), processes.start('load', undefined)])
    const result = await load.run('waiters', {
      url: server.info.url,
      switchPid: server.pid,
      waiters: s.waiters,
      probes: s.waiterProbes,
      batch: s.waiterBatch,
      batchTimeoutSeconds: JOB_SLACK_SECONDS
    }, s.mode === 'full' ? 900 : 120)
    context.set('waiters.perWaiter', result.bytesPerWaiter / 1024)
    context.set('waiters.perPoll', result.bytesPerPoll / 1024)
    setLatency(context, 'waiters', result.sendToWaiter)
    context.detail('waiters', result)
  })
}

/** Whether the switch's costs grow with what it holds: a long queue, many sessions and queues. */
async function size (context: Context): Promise<void> {
  const s = context.settings
  const timeout = s.mode === 'full' ? 600 : 120
  await run(context, async (processes) => {
    const [server, load] = await Promise.all([processes.start('switch', {}), processes.start('load', undefined)])
    const result = await load.run('tailTransfer', { url: server.info.url, messages: s.tailMessages, probes: s.tailProbes }, timeout)
    setLatency(context, 'size.tail', result.tail)
    setLatency(context, 'size.empty', result.empty)
    context.detail('size.tail', result)
  })
  await run(context, async (processes) => {
    const [server, load] = await Promise.all([processes.start('switch', {}), processes.start('load', undefined)])
    const result = await load.run('manySessions', { url: server.info.url, sessions: s.sessions, probes: s.sessionProbes }, timeout)
    setLatency(context, 'size.alone', result.alone)
    setLatency(context, 'size.crowded', result.crowded)
    context.note('size.crowded.p50', `${(result.crowded.p50 / result.alone.p50).toFixed(2)}× alone`)
    context.detail('size.sessions', result)
  })
}

/** Whether a publish costs more when the switch holds many topic bindings: it should not (a trie, not a scan). */
async function topics (context: Context): Promise<void> {
  const s = context.settings
  await run(context, async (processes) => {
    const [server, load] = await Promise.all([processes.start('switch', {}), processes.start('load', undefined)])
    const result = await load.run('publishLatency', {
      url: server.info.url, few: s.fewBindings, many: s.bindings, probes: s.publishProbes
    }, s.mode === 'full' ? 600 : 120)
    setLatency(context, 'topics.few', result.few.latency)
    setLatency(context, 'topics.many', result.many.latency)
    context.note('topics.many.p50', `${(result.many.latency.p50 / result.few.latency.p50).toFixed(2)}× with ${s.fewBindings}`)
    context.detail('topics', result)
  })
}

/** Clients that ask for big answers and never read them: the switch's memory, and how fast health still answers. */
async function stalled (context: Context): Promise<void> {
  const s = context.settings
  await run(context, async (processes) => {
    const [server, load] = await Promise.all([processes.start('switch', {}), processes.start('load', undefined)])
    const result = await load.run('stalledReaders', {
      url: server.info.url, switchPid: server.pid, readers: s.stalledReaders, messages: s.stalledMessages, probes: s.stalledProbes
    }, s.mode === 'full' ? 600 : 120)
    context.set('stalled.rssPeak', result.rssPeakKiB / 1024)
    context.note('stalled.rssPeak', `${Math.round(result.rssQueuedKiB / 1024)} MiB with the messages queued, before any reader`)
    setLatency(context, 'stalled.health', result.health)
    context.detail('stalled', result)
  })
}

/** The median of each figure's rounds, as `<id>.rps`, `<id>.p50` and `<id>.p99`. */
function setRounds (context: Context, rounds: Map<string, Throughput[]>): void {
  for (const [id, results] of rounds) {
    context.set(`${id}.rps`, median(results.map((r) => r.rps)))
    context.set(`${id}.p50`, median(results.map((r) => r.latency.p50)))
    context.set(`${id}.p99`, median(results.map((r) => r.latency.p99)))
    context.detail(id, results)
  }
}

/**
 * What authorization costs per request: the RPC figure on a switch with an auth file (caller and responder log in
 * as a principal with just the permissions they need) beside the same on a switch without, taking turns.
 */
async function auth (context: Context): Promise<void> {
  const s = context.settings
  const timeout = s.rpcWarmupSeconds + s.rpcSeconds + JOB_SLACK_SECONDS
  const dir = await mkdtemp(join(tmpdir(), 'switch-bench-auth-'))
  try {
    const credentials: BenchCredentials = { principal: 'bench', secret: 'bench-secret' }
    const authFile = join(dir, 'auth.json')
    // The reply queues are the caller's temporary queues: its own, and anyone's to reply to, whatever the file says.
    const permissions = [{ actions: ['send', 'receive', 'manage'], queues: [QUEUE] }]
    await writeFile(authFile, JSON.stringify({ principals: [{ name: credentials.principal, secret: await hashSecret(credentials.secret), permissions }] }))
    await run(context, async (processes) => {
      const [open, checked, load] = await Promise.all([
        processes.start('switch', {}),
        processes.start('switch', { authFile }),
        processes.start('load', undefined)
      ])
      const concurrency = s.authConcurrency
      await Promise.all([
        processes.start('switch-responder', { url: open.info.url, queue: QUEUE, concurrency }),
        processes.start('switch-responder', { url: checked.info.url, queue: QUEUE, concurrency, credentials })
      ])
      const rounds = new Map<string, Throughput[]>()
      const keep = (id: string, result: Throughput): void => { rounds.set(id, [...(rounds.get(id) ?? []), result]) }
      const loop = { concurrency, seconds: s.rpcSeconds, warmupSeconds: s.rpcWarmupSeconds }
      for (let round = 0; round < s.rpcRounds; round++) {
        const turns = [
          async () => { keep('auth.off', await load.run('rpcSwitch', { url: open.info.url, queue: QUEUE, ...loop }, timeout)) },
          async () => { keep('auth.on', await load.run('rpcSwitch', { url: checked.info.url, queue: QUEUE, credentials, ...loop }, timeout)) }
        ]
        if (round % 2 === 1) turns.reverse()
        for (const turn of turns) await turn()
      }
      setRounds(context, rounds)
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Work queues: the same jobs drained by competing workers (a lease per delivery) and by one consumer of a plain queue. */
async function work (context: Context): Promise<void> {
  const s = context.settings
  await run(context, async (processes) => {
    const [server, load] = await Promise.all([processes.start('switch', {}), processes.start('load', undefined)])
    const result = await load.run('workThroughput', {
      url: server.info.url, messages: s.workMessages, workers: s.workWorkers, concurrency: 4
    }, s.mode === 'full' ? 600 : 120)
    context.set('work.plain.rps', result.plain)
    context.set('work.work.rps', result.work)
    context.detail('work', result)
  })
}

export const figures: Record<Group, (context: Context) => Promise<void>> = { ceiling, send, rpc, peers, auth, redis, waiters, size, topics, stalled, work }
