// `npm run soak [-- --seconds N] [--rate MSGS_PER_S]`: a switch in its own process under steady load for a fixed
// time: 2,000 subscribers each holding a long-poll on its own queue, 50 senders sending to them (and calling
// RPCs now and then), 10 RPC servers. It checks that every message sent is delivered and acked exactly once
// per subscriber, that no request failed, and that the switch's RSS at the end is within 20% of its RSS after
// the warm-up; it prints the figures and exits 1 if a check failed. Not part of `npm test`.
import { setMaxListeners } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import { Pool } from 'undici'
import { SwitchClient } from '../lib/index.js'
import type { Diagnostics, TransferResponse } from '../protocol/wire.js'
import { inParallel } from './api.js'
import { BenchProcess } from './proc.js'
import { openFilesLimit, rssKiB } from './rss.js'
import { microsSince, Samples } from './stats.js'

interface SoakOptions {
  seconds: number
  /** Messages per second over all senders. */
  rate: number
  subscribers: number
  senders: number
  servers: number
}

const USAGE = 'usage: node dist/bench/soak.js [--seconds N] [--rate MSGS_PER_SECOND]'
/** One sender's call in this many sends is an RPC. */
const RPC_EVERY = 10
const POLL_SECONDS = 30
const DRAIN_SECONDS = 30
const RSS_TOLERANCE = 0.2

function parse (argv: string[]): SoakOptions {
  const options: SoakOptions = { seconds: 60, rate: 1000, subscribers: 2000, senders: 50, servers: 10 }
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1])
    if (!(value > 0)) throw new Error(`${argv[i]} needs a positive number\n${USAGE}`)
    if (argv[i] === '--seconds') options.seconds = value
    else if (argv[i] === '--rate') options.rate = value
    else throw new Error(`unknown option ${argv[i]}\n${USAGE}`)
  }
  return options
}

function log (line: string): void {
  process.stderr.write(`[soak] ${line}\n`)
}

/** What went wrong, by kind, with the first example of each. */
class Errors {
  readonly counts = new Map<string, number>()
  readonly examples = new Map<string, string>()

  add (kind: string, error: unknown): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1)
    if (!this.examples.has(kind)) this.examples.set(kind, error instanceof Error ? error.message : String(error))
  }

  get total (): number {
    let total = 0
    for (const count of this.counts.values()) total += count
    return total
  }
}

/** A subscriber: a session on its own queue, always long-polling it, acking what it gets. */
class Subscriber {
  readonly queue: string
  readonly received = new Set<string>()
  duplicates = 0
  /** Payloads sent to it (by the senders). */
  sent = 0
  private cursor = 0

  constructor (readonly token: string, index: number) {
    this.queue = `soak-${index}`
  }

  async run (pool: Pool, stop: AbortSignal, errors: Errors): Promise<void> {
    const authorization = `Bearer ${this.token}`
    while (!stop.aborted) {
      let result: TransferResponse
      try {
        const response = await pool.request({
          method: 'GET', path: `/v1/transfer?after=${this.cursor}&timeout=${POLL_SECONDS}`, headers: { authorization }, signal: stop
        })
        const text = await response.body.text()
        if (response.statusCode !== 200) throw new Error(`transfer answered ${response.statusCode}: ${text}`)
        result = JSON.parse(text) as TransferResponse
      } catch (error) {
        if (!stop.aborted) errors.add('transfer', error)
        return
      }
      this.cursor = result.next
      await Promise.all(result.messages.map(async (message) => {
        if (this.received.has(message.payload)) this.duplicates++
        this.received.add(message.payload)
        try {
          const response = await pool.request({ method: 'DELETE', path: `/v1/messages/${message.id}`, headers: { authorization } })
          await response.body.dump()
          if (response.statusCode !== 204) throw new Error(`ack ${message.id} answered ${response.statusCode}`)
        } catch (error) {
          errors.add('ack', error)
        }
      }))
    }
  }
}

interface Figures {
  sends: number
  sendLatency: Samples
  rpcCalls: number
  rpcLatency: Samples
  handled: number[]
}

/** A sender: sends to random subscribers at its share of the rate; every RPC_EVERY-th time, calls an RPC instead. */
async function sender (
  index: number, options: SoakOptions, pool: Pool, client: SwitchClient, token: string,
  subscribers: Subscriber[], stop: AbortSignal, figures: Figures, errors: Errors
): Promise<void> {
  const interval = 1000 * options.senders / options.rate
  let due = Date.now()
  for (let n = 0; !stop.aborted; n++) {
    due += interval
    const wait = due - Date.now()
    if (wait > 0) await delay(wait, undefined, { signal: stop }).catch(() => {})
    if (stop.aborted) return
    const started = process.hrtime.bigint()
    if (n % RPC_EVERY === RPC_EVERY - 1) {
      const server = (index + n) % options.servers
      const body = `call ${index}-${n}`
      try {
        const reply = await client.rpc(`soak-rpc-${server}`, body, { timeout: 30 })
        if (reply.toString() !== `re ${body}`) throw new Error(`wrong reply ${reply.toString()} to ${body}`)
        figures.rpcCalls++
        figures.rpcLatency.add(microsSince(started))
      } catch (error) {
        errors.add('rpc', error)
      }
      continue
    }
    const target = subscribers[Math.floor(Math.random() * subscribers.length)]
    const payload = `s${index}-${n}`
    try {
      const response = await pool.request({
        method: 'POST', path: `/v1/queues/${target.queue}/messages`, body: payload,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }
      })
      const text = await response.body.text()
      if (response.statusCode !== 201) throw new Error(`send answered ${response.statusCode}: ${text}`)
      target.sent++
      figures.sends++
      figures.sendLatency.add(microsSince(started))
    } catch (error) {
      errors.add('send', error)
    }
  }
}

function mib (kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`
}

function millis (samples: Samples): string {
  const { p50, p99 } = samples.summary()
  return `p50 ${(p50 / 1000).toFixed(2)} ms, p99 ${(p99 / 1000).toFixed(2)} ms`
}

async function main (): Promise<void> {
  const options = parse(process.argv.slice(2))
  const files = openFilesLimit()
  const needed = options.subscribers + 64 + options.senders * 4 + options.servers * 4 + 256
  if (files < needed) throw new Error(`ulimit -n is ${files}; the soak needs about ${needed} open files: raise it`)
  const warmup = Math.min(10, options.seconds / 6)
  log(`${options.seconds} s: ${options.subscribers} long-polling subscribers, ${options.senders} senders at ${options.rate} msg/s in all (1 in ${RPC_EVERY} an RPC), ${options.servers} RPC servers; warm-up ${warmup} s`)

  const switchProcess = await BenchProcess.start('switch', {})
  const { url } = switchProcess.info
  const errors = new Errors()
  const stopLoad = new AbortController()
  const stopPolls = new AbortController()
  // Every request in flight listens for the stop: thousands at once.
  setMaxListeners(0, stopLoad.signal, stopPolls.signal)
  const subscriberPool = new Pool(url, { connections: options.subscribers + 64, headersTimeout: 0, bodyTimeout: 0 })
  const senderPool = new Pool(url, { connections: options.senders, headersTimeout: 0, bodyTimeout: 0 })
  const clients: SwitchClient[] = []
  const figures: Figures = { sends: 0, sendLatency: new Samples(), rpcCalls: 0, rpcLatency: new Samples(), handled: [] }
  let ok = false
  try {
    // Set-up: sessions, queues and subscriptions, over plain HTTP.
    const setup = new SwitchClient({ url, client: 'soak-setup', retryFor: 5000 })
    clients.push(setup)
    const subscribers: Subscriber[] = new Array<Subscriber>(options.subscribers)
    await inParallel(options.subscribers, 32, async (i) => {
      const json = async (method: 'POST' | 'PUT', path: string, token?: string, body?: string): Promise<string> => {
        const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
        if (token !== undefined) headers.authorization = `Bearer ${token}`
        const response = await subscriberPool.request({ method, path, headers, body })
        const text = await response.body.text()
        if (response.statusCode >= 300) throw new Error(`${method} ${path} answered ${response.statusCode}: ${text}`)
        return text
      }
      const { token } = JSON.parse(await json('POST', '/v1/sessions', undefined, JSON.stringify({ client: `subscriber-${i}` }))) as { token: string }
      const subscriber = new Subscriber(token, i)
      await json('PUT', `/v1/queues/${subscriber.queue}`, token)
      await json('PUT', `/v1/session/subscriptions/${subscriber.queue}`, token)
      subscribers[i] = subscriber
    })
    const polls = subscribers.map((subscriber) => subscriber.run(subscriberPool, stopPolls.signal, errors))

    figures.handled = new Array<number>(options.servers).fill(0)
    const services = Array.from({ length: options.servers }, (_, k) => {
      const client = new SwitchClient({ url, client: `rpc-server-${k}`, retryFor: 5000 })
      clients.push(client)
      return client.serve(`soak-rpc-${k}`, (request) => {
        figures.handled[k]++
        return `re ${request.toString()}`
      }, { concurrency: 4 })
    })
    const senderTokens = await Promise.all(Array.from({ length: options.senders }, async (_, i) => {
      const client = new SwitchClient({ url, client: `sender-${i}`, retryFor: 5000 })
      clients.push(client)
      return { client, token: (await client.login()).token }
    }))
    const diagnostics = await setup.diagnostics()
    log(`set up: ${diagnostics.sessions.length} sessions, ${diagnostics.queues.length} queues`)

    const started = Date.now()
    const senders = senderTokens.map(async ({ client, token }, i) => {
      await sender(i, options, senderPool, client, token, subscribers, stopLoad.signal, figures, errors)
    })
    await delay(warmup * 1000)
    const rssWarm = rssKiB(switchProcess.pid)
    log(`after warm-up: switch RSS ${mib(rssWarm)}, ${figures.sends} sends, ${figures.rpcCalls} RPCs`)
    let rssPeak = rssWarm
    const rest = Math.max(0, options.seconds - warmup)
    for (let left = rest; left > 0;) {
      const step = Math.min(10, left)
      await delay(step * 1000)
      left -= step
      const rss = rssKiB(switchProcess.pid)
      rssPeak = Math.max(rssPeak, rss)
      const waiting = (await setup.diagnostics()).limits?.sessionPolls.used
      log(`${Math.round((Date.now() - started) / 1000)} s: switch RSS ${mib(rss)}, ${figures.sends} sends, ${figures.rpcCalls} RPCs, ${errors.total} errors, most polls of one session ${waiting}`)
    }
    const rssEnd = rssKiB(switchProcess.pid)
    const loadSeconds = (Date.now() - started) / 1000
    stopLoad.abort()
    await Promise.all(senders)

    // Drain: every message sent reaches its subscriber, which acks it.
    const deadline = Date.now() + DRAIN_SECONDS * 1000
    const delivered = (): number => subscribers.reduce((sum, s) => sum + s.received.size, 0)
    while (delivered() < figures.sends && Date.now() < deadline) await delay(100)
    let leftInQueues = -1
    while (Date.now() < deadline) {
      const state: Diagnostics = await setup.diagnostics()
      leftInQueues = state.queues.filter((q) => q.name.startsWith('soak-')).reduce((sum, q) => sum + q.messages.length, 0)
      if (leftInQueues === 0) break
      await delay(100)
    }
    stopPolls.abort()
    await Promise.all(polls)
    await Promise.all(services.map(async (service) => { await service.stop() }))

    const missing = subscribers.reduce((sum, s) => sum + Math.max(0, s.sent - s.received.size), 0)
    const duplicates = subscribers.reduce((sum, s) => sum + s.duplicates, 0)
    const handled = figures.handled.reduce((sum, n) => sum + n, 0)
    const rssRatio = rssEnd / rssWarm
    const checks: Array<[string, boolean]> = [
      [`every message delivered (${delivered()} of ${figures.sends}, ${missing} missing)`, missing === 0 && delivered() === figures.sends],
      [`none delivered twice to a subscriber (${duplicates})`, duplicates === 0],
      [`every message acked (${leftInQueues} left in the queues)`, leftInQueues === 0],
      [`every RPC handled once (${handled} handled for ${figures.rpcCalls} calls)`, handled === figures.rpcCalls],
      [`no request errors (${errors.total})`, errors.total === 0],
      [`RSS at the end within ${RSS_TOLERANCE * 100}% of RSS after warm-up (${mib(rssEnd)} vs ${mib(rssWarm)}: ${((rssRatio - 1) * 100).toFixed(1)}%)`,
        Math.abs(rssRatio - 1) <= RSS_TOLERANCE]
    ]
    const lines = [
      `load: ${loadSeconds.toFixed(1)} s, ${options.subscribers} subscribers long-polling, ${options.senders} senders, ${options.servers} RPC servers`,
      `sends: ${figures.sends} (${(figures.sends / loadSeconds).toFixed(0)}/s), ${millis(figures.sendLatency)}`,
      `RPCs: ${figures.rpcCalls} (${(figures.rpcCalls / loadSeconds).toFixed(0)}/s), ${millis(figures.rpcLatency)}`,
      `switch RSS: after warm-up ${mib(rssWarm)}, peak ${mib(rssPeak)}, end ${mib(rssEnd)}`,
      ...[...errors.counts].map(([kind, count]) => `errors (${kind}): ${count}, e.g. ${errors.examples.get(kind) ?? ''}`),
      ...checks.map(([what, passed]) => `${passed ? 'ok  ' : 'FAIL'} ${what}`)
    ]
    process.stdout.write(`${lines.join('\n')}\n`)
    ok = checks.every(([, passed]) => passed)
  } finally {
    stopLoad.abort()
    stopPolls.abort()
    await Promise.all(clients.map(async (client) => { await client.close() }))
    await subscriberPool.destroy()
    await senderPool.destroy()
    await switchProcess.stop()
  }
  process.exitCode = ok ? 0 : 1
}

main().catch((error: unknown) => {
  process.stderr.write(`[soak] ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
