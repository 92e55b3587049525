import { cpus, loadavg, totalmem, type as osType, release } from 'node:os'
import { bareOf, hasMode, modeLabel, peerId, peerSpecs, PEER_MODES, SWITCH_WORK } from './peers.js'
import type { Settings } from './settings.js'

export type Unit = 'per_second' | 'microseconds' | 'KiB' | 'MiB'

export interface TargetResult {
  text: string
  /** Undefined when a figure it needs is missing. */
  met?: boolean
}

export interface Row {
  id: string
  figure: string
  unit: Unit
  /** Null when the figure was not measured; `note` says why. */
  value: number | null
  /** The value over the ceiling figure it is compared with (`ratioTo`). */
  ratio?: number
  ratioTo?: string
  targets: TargetResult[]
  note?: string
}

export interface Machine {
  cores: number
  cpu: string
  memoryGiB: number
  node: string
  os: string
  /** 1-minute load average when the run started and ended: a busy machine shows here. */
  loadStart: number
  loadEnd?: number
}

export interface Report {
  harness: 'switch-bench/1'
  date: string
  mode: Settings['mode']
  seconds: number
  machine: Machine
  settings: Settings
  rows: Row[]
  /** Raw job results per group, for whoever wants more than the table. */
  details: Record<string, unknown>
  /** Groups that failed, with the error. */
  failures: Record<string, string>
}

interface RowSpec { id: string, figure: string, unit: Unit, ratioTo?: string }

const C50_RPS = 'ceiling.c50.rps'
/** The ceiling again, taking turns with the send figures: their ratios read against it. */
const SEND_CEILING_RPS = 'send.ceiling.rps'

export const thousands = (n: number): string => n.toLocaleString('en-US')

/** Every figure of a run, in table order: a run fills in values, so the table is always complete. */
export function catalog (s: Settings): RowSpec[] {
  const c = s.connections
  const rows: RowSpec[] = [
    { id: C50_RPS, figure: `Ceiling: bare Fastify, 64-byte POST, ${c} connections, requests/s`, unit: 'per_second', ratioTo: C50_RPS },
    { id: 'ceiling.c50.p50', figure: `Ceiling, ${c} connections: p50`, unit: 'microseconds' },
    { id: 'ceiling.c50.p99', figure: `Ceiling, ${c} connections: p99`, unit: 'microseconds' },
    { id: 'ceiling.c1.rps', figure: 'Ceiling, 1 connection: requests/s', unit: 'per_second', ratioTo: C50_RPS },
    { id: 'ceiling.c1.p50', figure: 'Ceiling, 1 connection: p50', unit: 'microseconds' },
    { id: 'ceiling.c1.p99', figure: 'Ceiling, 1 connection: p99', unit: 'microseconds' }
  ]
  rows.push(
    { id: SEND_CEILING_RPS, figure: `Ceiling in turns with the sends (bare Fastify, ${c} connections): requests/s`, unit: 'per_second', ratioTo: C50_RPS },
    { id: 'send.ceiling.p50', figure: 'Ceiling in turns with the sends: p50', unit: 'microseconds' },
    { id: 'send.ceiling.p99', figure: 'Ceiling in turns with the sends: p99', unit: 'microseconds' }
  )
  for (const [store, label] of [['memory', 'in memory'], ['durable', 'durable (dataDir)']]) {
    rows.push(
      { id: `send.${store}.rps`, figure: `Send, ${c} senders to 1 queue, ${label}: messages/s`, unit: 'per_second', ratioTo: SEND_CEILING_RPS },
      { id: `send.${store}.p50`, figure: `Send, ${label}: p50`, unit: 'microseconds', ratioTo: 'send.ceiling.p50' },
      { id: `send.${store}.p99`, figure: `Send, ${label}: p99`, unit: 'microseconds', ratioTo: 'send.ceiling.p99' }
    )
  }
  for (const concurrency of s.rpcConcurrency) {
    // Latency ratios only where the ceiling has the same load: one exchange in flight.
    const single = concurrency === 1
    for (const [system, label] of [['switch', 'switch (client library)'], ['aedes', 'Aedes (mqtt.js, QoS 1)']]) {
      const id = `rpc.${system}.c${concurrency}`
      rows.push(
        { id: `${id}.rps`, figure: `RPC via ${label}, concurrency ${concurrency}: round trips/s`, unit: 'per_second', ratioTo: C50_RPS },
        { id: `${id}.p50`, figure: `RPC via ${system}, concurrency ${concurrency}: p50`, unit: 'microseconds', ...(single ? { ratioTo: 'ceiling.c1.p50' } : {}) },
        { id: `${id}.p99`, figure: `RPC via ${system}, concurrency ${concurrency}: p99`, unit: 'microseconds', ...(single ? { ratioTo: 'ceiling.c1.p99' } : {}) }
      )
    }
  }
  for (const mode of PEER_MODES) {
    const load = modeLabel(s, mode)
    const bare = bareOf(mode)
    for (const spec of peerSpecs(s)) {
      if (!hasMode(spec.system, mode)) continue
      const id = peerId(spec.system, mode)
      rows.push(
        { id: `${id}.rps`, figure: `Peers, ${load}: ${spec.label}: round trips/s (× bare exchange)`, unit: 'per_second', ratioTo: `${bare}.rps` },
        { id: `${id}.p50`, figure: `Peers, ${load}: ${spec.system}: p50 (× bare exchange)`, unit: 'microseconds', ratioTo: `${bare}.p50` },
        { id: `${id}.p99`, figure: `Peers, ${load}: ${spec.system}: p99 (× bare exchange)`, unit: 'microseconds', ratioTo: `${bare}.p99` },
        { id: `${id}.cpu`, figure: `Peers, ${load}: ${spec.system}: CPU per round trip, all its processes (× bare exchange)`, unit: 'microseconds', ratioTo: `${bare}.cpu` }
      )
      for (const [process, name] of Object.entries(spec.processes)) {
        rows.push({ id: `${id}.cpu.${process}`, figure: `Peers, ${load}: ${spec.system}: CPU per round trip, ${name}`, unit: 'microseconds' })
      }
      if (id === SWITCH_WORK.of) rows.push({ id: SWITCH_WORK.id, figure: `Peers, ${load}: switch: CPU per round trip of the same frames in one process, no system calls (the switch's own work, and its clients' JSON)`, unit: 'microseconds' })
    }
  }
  const a = s.authConcurrency
  rows.push(
    { id: 'auth.off.rps', figure: `RPC via switch without an auth file, concurrency ${a} (taking turns with the next): round trips/s`, unit: 'per_second', ratioTo: C50_RPS },
    { id: 'auth.off.p50', figure: `RPC without an auth file, concurrency ${a}: p50`, unit: 'microseconds' },
    { id: 'auth.off.p99', figure: `RPC without an auth file, concurrency ${a}: p99`, unit: 'microseconds' },
    // Over the same figure without: what checking every request costs.
    { id: 'auth.on.rps', figure: `RPC via switch with --auth-file (a principal logged in with its secret), concurrency ${a}: round trips/s (× without)`, unit: 'per_second', ratioTo: 'auth.off.rps' },
    { id: 'auth.on.p50', figure: `RPC with --auth-file, concurrency ${a}: p50 (× without)`, unit: 'microseconds', ratioTo: 'auth.off.p50' },
    { id: 'auth.on.p99', figure: `RPC with --auth-file, concurrency ${a}: p99 (× without)`, unit: 'microseconds', ratioTo: 'auth.off.p99' }
  )
  // Switches sharing one Redis: one switch against two, the second figure of each pair over the first.
  for (const [nodes, label] of s.redis ? [['one', 'one --redis switch'], ['two', 'two --redis switches']] : []) {
    for (const concurrency of s.redisConcurrency) {
      const id = `redis.${nodes}.rpc.c${concurrency}`
      const over = nodes === 'one' ? { to: `rpc.switch.c${concurrency}`, name: 'in memory' } : { to: `redis.one.rpc.c${concurrency}`, name: 'one switch' }
      const where = nodes === 'one' ? '' : ', callers on one and the responder on the other'
      rows.push(
        { id: `${id}.rps`, figure: `RPC via ${label}${where}, concurrency ${concurrency}: round trips/s (× ${over.name})`, unit: 'per_second', ratioTo: `${over.to}.rps` },
        { id: `${id}.p50`, figure: `RPC via ${label}, concurrency ${concurrency}: p50 (× ${over.name})`, unit: 'microseconds', ratioTo: `${over.to}.p50` },
        { id: `${id}.p99`, figure: `RPC via ${label}, concurrency ${concurrency}: p99 (× ${over.name})`, unit: 'microseconds', ratioTo: `${over.to}.p99` }
      )
    }
    const id = `redis.${nodes}.send`
    const over = nodes === 'one' ? { to: 'send.memory', name: 'in memory' } : { to: 'redis.one.send', name: 'one switch' }
    const where = nodes === 'one' ? '' : ' (half the senders on each; p50 and p99 the higher of the two)'
    rows.push(
      { id: `${id}.rps`, figure: `Send via ${label}${where}, ${c} senders to 1 queue: messages/s (× ${over.name})`, unit: 'per_second', ratioTo: `${over.to}.rps` },
      { id: `${id}.p50`, figure: `Send via ${label}: p50 (× ${over.name})`, unit: 'microseconds', ratioTo: `${over.to}.p50` },
      { id: `${id}.p99`, figure: `Send via ${label}: p99 (× ${over.name})`, unit: 'microseconds', ratioTo: `${over.to}.p99` }
    )
  }
  if (s.redis) {
    rows.push(
      { id: 'redis.cpu.rpc', figure: 'redis-server CPU per operation of the log, RPC figures (appendfsync always)', unit: 'microseconds' },
      { id: 'redis.cpu.send', figure: 'redis-server CPU per operation of the log, send figures', unit: 'microseconds' }
    )
  }
  const w = thousands(s.waiters)
  rows.push(
    { id: 'waiters.perWaiter', figure: `${w} idle long-polls: switch RSS per waiter (session, queue, socket, poll)`, unit: 'KiB' },
    { id: 'waiters.perPoll', figure: `${w} idle long-polls: of which socket and poll`, unit: 'KiB' },
    { id: 'waiters.p50', figure: `Send to its waiter's response, ${w} waiting: p50`, unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'waiters.p99', figure: `Send to its waiter's response, ${w} waiting: p99`, unit: 'microseconds', ratioTo: 'ceiling.c1.p99' }
  )
  const m = thousands(s.tailMessages)
  const n = thousands(s.sessions)
  rows.push(
    { id: 'size.tail.p50', figure: `Transfer at the tail of ${m} unacked messages: p50`, unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'size.tail.p99', figure: `Transfer at the tail of ${m} unacked messages: p99`, unit: 'microseconds', ratioTo: 'ceiling.c1.p99' },
    { id: 'size.empty.p50', figure: 'Transfer on an empty queue: p50', unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'size.empty.p99', figure: 'Transfer on an empty queue: p99', unit: 'microseconds', ratioTo: 'ceiling.c1.p99' },
    { id: 'size.alone.p50', figure: 'Send, 1 session and 1 queue: p50', unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'size.alone.p99', figure: 'Send, 1 session and 1 queue: p99', unit: 'microseconds', ratioTo: 'ceiling.c1.p99' },
    { id: 'size.crowded.p50', figure: `Send with ${n} sessions and ${n} queues: p50`, unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'size.crowded.p99', figure: `Send with ${n} sessions and ${n} queues: p99`, unit: 'microseconds', ratioTo: 'ceiling.c1.p99' }
  )
  const few = thousands(s.fewBindings)
  const many = thousands(s.bindings)
  rows.push(
    { id: 'topics.few.p50', figure: `Publish to 1 of ${few} topic bindings: p50`, unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'topics.few.p99', figure: `Publish to 1 of ${few} topic bindings: p99`, unit: 'microseconds', ratioTo: 'ceiling.c1.p99' },
    { id: 'topics.many.p50', figure: `Publish to 1 of ${many} topic bindings: p50`, unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'topics.many.p99', figure: `Publish to 1 of ${many} topic bindings: p99`, unit: 'microseconds', ratioTo: 'ceiling.c1.p99' }
  )
  const stalled = `${s.stalledReaders} stalled readers of ${s.stalledMessages} MiB queued`
  rows.push(
    { id: 'stalled.rssPeak', figure: `RSS and health latency under stalled readers: ${stalled}, switch peak RSS`, unit: 'MiB' },
    { id: 'stalled.health.p50', figure: `Health check under ${stalled}: p50`, unit: 'microseconds', ratioTo: 'ceiling.c1.p50' },
    { id: 'stalled.health.p99', figure: `Health check under ${stalled}: p99`, unit: 'microseconds', ratioTo: 'ceiling.c1.p99' }
  )
  const jobs = thousands(s.workMessages)
  rows.push(
    { id: 'work.plain.rps', figure: `${jobs} jobs drained by one consumer of a plain queue, ${4 * s.workWorkers} handlers (library serve): jobs/s`, unit: 'per_second' },
    // Over the plain figure: what a lease per delivery and the competition for each job cost.
    { id: 'work.work.rps', figure: `${jobs} jobs drained by ${s.workWorkers} competing workers of a work queue, 4 handlers each (library work): jobs/s (× plain)`, unit: 'per_second', ratioTo: 'work.plain.rps' }
  )
  return rows
}

type Get = (id: string) => number | undefined
interface Target { id: string, text: string, check: (value: number, get: Get) => boolean | undefined }

const within = (other: number | undefined, test: (other: number) => boolean): boolean | undefined =>
  other === undefined ? undefined : test(other)

/** The targets. Checks with no pass/fail (undefined `met`) just put a comparison beside the figure. */
function targets (s: Settings): Target[] {
  const list: Target[] = [
    { id: 'send.memory.rps', text: '≥ 0.60× ceiling (in turns)', check: (v, get) => within(get(SEND_CEILING_RPS), (c) => v >= 0.6 * c) },
    { id: 'rpc.switch.c16.rps', text: '≥ 0.30× ceiling', check: (v, get) => within(get(C50_RPS), (c) => v >= 0.3 * c) },
    { id: 'rpc.switch.c1.p50', text: '≤ 5× ceiling p50 (1 connection)', check: (v, get) => within(get('ceiling.c1.p50'), (c) => v <= 5 * c) },
    { id: 'auth.on.rps', text: '≥ 0.95× without (auth costs under 5%)', check: (v, get) => within(get('auth.off.rps'), (o) => v >= 0.95 * o) },
    { id: 'waiters.perWaiter', text: '≤ 16 KiB', check: (v) => v <= 16 },
    { id: 'waiters.p99', text: '≤ 10 ms', check: (v) => v <= 10_000 },
    { id: 'size.tail.p50', text: '≤ 2× empty queue', check: (v, get) => within(get('size.empty.p50'), (e) => v <= 2 * e) },
    { id: 'topics.many.p50', text: `≤ 2× with ${thousands(s.fewBindings)} bindings`, check: (v, get) => within(get('topics.few.p50'), (f) => v <= 2 * f) }
  ]
  // The targets against what users would pick instead, and against one bare exchange.
  const many = peerId('switch', 'many')
  for (const peer of s.daemonPeers) {
    const name = peer === 'nats' ? 'NATS' : 'Mosquitto'
    list.push({ id: `${many}.rps`, text: `> ${name}`, check: (v, get) => within(get(`${peerId(peer, 'many')}.rps`), (p) => v > p) })
  }
  list.push({ id: `${peerId('durable', 'many')}.rps`, text: '≥ 0.5× in memory', check: (v, get) => within(get(`${many}.rps`), (m) => v >= 0.5 * m) })
  const single = peerId('switch', 'c1')
  list.push(
    { id: `${single}.p50`, text: '≤ 2.5× bare exchange', check: (v, get) => within(get(`${bareOf('c1')}.p50`), (b) => v <= 2.5 * b) },
    { id: `${single}.cpu`, text: '≤ 3× bare exchange', check: (v, get) => within(get(`${bareOf('c1')}.cpu`), (b) => v <= 3 * b) }
  )
  for (const concurrency of s.rpcConcurrency) {
    const id = `rpc.switch.c${concurrency}.rps`
    list.push({ id, text: '> Aedes', check: (v, get) => within(get(`rpc.aedes.c${concurrency}.rps`), (a) => v > a) })
  }
  return list
}

/** Fills in ratios and target verdicts once every figure is in. */
export function evaluate (rows: Row[], s: Settings): void {
  const byId = new Map(rows.map((row) => [row.id, row]))
  const get: Get = (id) => byId.get(id)?.value ?? undefined
  for (const row of rows) {
    const base = row.ratioTo === undefined ? undefined : get(row.ratioTo)
    if (row.value !== null && base !== undefined && base > 0) row.ratio = row.value / base
  }
  for (const target of targets(s)) {
    const row = byId.get(target.id)
    if (row === undefined) continue
    const met = row.value === null ? undefined : target.check(row.value, get)
    row.targets.push(met === undefined ? { text: target.text } : { text: target.text, met })
  }
}

export function machine (): Machine {
  const all = cpus()
  return {
    cores: all.length,
    cpu: all[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${osType()} ${release()}`,
    loadStart: loadavg()[0]
  }
}

export function formatValue (row: Row): string {
  if (row.value === null) return '—'
  const v = row.value
  if (row.unit === 'per_second') return `${thousands(Math.round(v))}/s`
  if (row.unit === 'KiB') return `${v.toFixed(1)} KiB`
  if (row.unit === 'MiB') return `${Math.round(v)} MiB`
  return v < 10_000 ? `${Math.round(v)} µs` : `${(v / 1000).toFixed(1)} ms`
}

function formatRatio (row: Row): string {
  return row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`
}

function formatTargets (row: Row): string {
  const verdicts = row.targets.map((t) => `${t.text}: ${t.met === undefined ? 'n/a' : t.met ? 'met' : 'MISSED'}`)
  if (row.note !== undefined) verdicts.push(row.note)
  return verdicts.join('; ')
}

const HEADER = ['figure', 'value', '× ceiling', 'target']

function cells (report: Report): string[][] {
  return report.rows.map((row) => [row.figure, formatValue(row), formatRatio(row), formatTargets(row)])
}

/** The table for a terminal: aligned columns. */
export function textTable (report: Report): string {
  const lines = [HEADER, ...cells(report)]
  const widths = HEADER.map((_, i) => Math.max(...lines.map((line) => line[i].length)))
  const right = new Set([1, 2])
  const render = (line: string[]): string =>
    line.map((cell, i) => right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])).join('  ').trimEnd()
  return [render(lines[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render)].join('\n')
}

export function markdownTable (report: Report): string {
  const escape = (cell: string): string => cell.replaceAll('|', '\\|')
  const line = (row: string[]): string => `| ${row.map(escape).join(' | ')} |`
  return [line(HEADER), '|---|--:|--:|---|', ...cells(report).map(line)].join('\n')
}

export function machineLine (m: Machine): string {
  const load = m.loadEnd === undefined ? `${m.loadStart.toFixed(2)}` : `${m.loadStart.toFixed(2)} → ${m.loadEnd.toFixed(2)}`
  return `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; load average ${load}`
}
