import { setTimeout as delay } from 'node:timers/promises'
import { Pool } from 'undici'
import { Api, inParallel } from '../api.js'
import type { TransferResponse } from '../../protocol/wire.js'
import { rssKiB } from '../rss.js'
import { microsSince, Samples, type LatencySummary } from '../stats.js'

export interface WaitersParams {
  url: string
  /** The switch's process, whose RSS is read before and after. */
  switchPid: number
  waiters: number
  /** Sends timed, each to a different waiter, one after another. */
  probes: number
  /** Long-polls opened at once before waiting for the switch to hold them all. */
  batch: number
  /** Bound on the wait for one batch to be held. */
  batchTimeoutSeconds: number
}

export interface WaitersResult {
  waiters: number
  /** Switch RSS before any waiter existed. */
  rssBeforeKiB: number
  /** After every waiter's session, queue and subscription existed. */
  rssPreparedKiB: number
  /** While every waiter's long-poll is held. */
  rssWaitingKiB: number
  /** All a waiting client costs: session, queue, subscription, connection and long-poll. */
  bytesPerWaiter: number
  /** Just the held connection and long-poll. */
  bytesPerPoll: number
  openSeconds: number
  /** From the start of a send to its waiter holding the response. */
  sendToWaiter: LatencySummary
}

const QUEUE_PREFIX = 'w-'
// Long enough to outlast the figure; a poll that does time out is simply renewed.
const POLL_SECONDS = 300

/** One idle client: a session subscribed to its own queue, with a long-poll held open on it. */
class Waiter {
  after = 0
  private delivered: (() => void) | undefined
  constructor (readonly token: string) {}

  /** Resolves when the next message reaches this waiter. */
  next (): Promise<void> {
    return new Promise((resolve) => { this.delivered = resolve })
  }

  poll (pool: Pool, failed: (error: unknown) => void): void {
    pool.request({
      method: 'GET',
      path: `/v1/transfer?after=${this.after}&timeout=${POLL_SECONDS}`,
      headers: { authorization: `Bearer ${this.token}` }
    }).then(async (response) => {
      const body = await response.body.text()
      if (response.statusCode !== 200) throw new Error(`transfer answered ${response.statusCode}: ${body}`)
      const { messages, next } = JSON.parse(body) as TransferResponse
      this.after = next
      if (messages.length > 0) {
        this.delivered?.()
        this.delivered = undefined
      }
      this.poll(pool, failed)
    }).catch(failed)
  }
}

/** Many idle long-polls from this process: what they cost the switch, and how fast a send still reaches one. */
export async function waiters (params: WaitersParams): Promise<WaitersResult> {
  const api = Api.pool(params.url, 16)
  const pool = new Pool(params.url, { connections: params.waiters, headersTimeout: 0, bodyTimeout: 0 })
  let closing = false
  let failure: unknown
  const failed = (error: unknown): void => { if (!closing) failure ??= error }
  try {
    const prober = await api.login('prober')
    await api.createQueue(prober, 'warm')
    await api.send(prober, 'warm')
    const rssBeforeKiB = rssKiB(params.switchPid)

    const all: Waiter[] = new Array<Waiter>(params.waiters)
    await inParallel(params.waiters, 16, async (i) => {
      const token = await api.login(`waiter-${i}`)
      await api.createQueue(token, `${QUEUE_PREFIX}${i}`)
      await api.subscribe(token, `${QUEUE_PREFIX}${i}`)
      all[i] = new Waiter(token)
    })
    const rssPreparedKiB = rssKiB(params.switchPid)

    const openStart = process.hrtime.bigint()
    for (let opened = 0; opened < params.waiters;) {
      const end = Math.min(params.waiters, opened + params.batch)
      for (let i = opened; i < end; i++) all[i].poll(pool, failed)
      opened = end
      await heldAtLeast(api, opened, params.batchTimeoutSeconds, () => failure)
    }
    const openSeconds = microsSince(openStart) / 1e6
    const rssWaitingKiB = rssKiB(params.switchPid)

    // Every probe goes to a different waiter (a stride coprime with the count), so each finds its poll armed.
    const stride = coprimeStride(params.waiters)
    const probes = Math.min(params.probes, params.waiters)
    const samples = new Samples()
    for (let j = 0; j < probes; j++) {
      const i = (j * stride) % params.waiters
      const delivered = all[i].next()
      const start = process.hrtime.bigint()
      await api.send(prober, `${QUEUE_PREFIX}${i}`)
      await delivered
      samples.add(microsSince(start))
      if (failure !== undefined) throw failure
    }
    return {
      waiters: params.waiters,
      rssBeforeKiB,
      rssPreparedKiB,
      rssWaitingKiB,
      bytesPerWaiter: (rssWaitingKiB - rssBeforeKiB) * 1024 / params.waiters,
      bytesPerPoll: (rssWaitingKiB - rssPreparedKiB) * 1024 / params.waiters,
      openSeconds,
      sendToWaiter: samples.summary()
    }
  } finally {
    closing = true
    await pool.destroy()
    await api.close()
  }
}

async function heldAtLeast (api: Api, count: number, timeoutSeconds: number, failure: () => unknown): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000
  while (await api.aliveCount(QUEUE_PREFIX) < count) {
    const error = failure()
    if (error !== undefined) throw error
    if (Date.now() > deadline) throw new Error(`the switch did not hold ${count} long-polls within ${timeoutSeconds} s`)
    await delay(50)
  }
}

function coprimeStride (n: number): number {
  const gcd = (a: number, b: number): number => b === 0 ? a : gcd(b, a % b)
  let stride = Math.max(1, Math.floor(n * 0.618))
  while (gcd(stride, n) !== 1) stride++
  return stride
}
