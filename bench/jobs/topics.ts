import { Client } from 'undici'
import { Api, inParallel } from '../api.js'
import { microsSince, Samples, type LatencySummary } from '../stats.js'

export interface PublishParams {
  url: string
  /** Bindings present for the first measurement, the probe's own included. */
  few: number
  /** Bindings present for the second. */
  many: number
  probes: number
}

export interface PublishResult {
  few: { bindings: number, latency: LatencySummary }
  many: { bindings: number, latency: LatencySummary }
  /** Seconds it took to make the bindings between the two measurements, over HTTP. */
  bindSeconds: number
}

/** The topic every probe publishes to; one binding (the probe queue's) matches it, however many exist. */
const PROBE_TOPIC = 'site/probe/temp'
/** The other bindings are spread over this many queues. */
const QUEUES = 100

/**
 * Filters that never match the probe's topic, though a publish to it walks some of their branches: `site/+/…`
 * and `+/…` share the wildcard nodes the probe looks into. A trie finds its one match at a cost set by the
 * topic's depth; a scan of every binding would cost with their number.
 */
function filterFor (n: number): string {
  switch (n % 4) {
    case 0: return `site/${n}/temp`
    case 1: return `site/${n}/+`
    case 2: return `site/+/${n}`
    default: return `+/${n}/#`
  }
}

/**
 * Does a publish cost more when the switch holds many bindings? Sequential publishes to a topic exactly one
 * binding matches (so each delivers one copy), timed with `few` bindings in all and again with `many`.
 */
export async function publishLatency (params: PublishParams): Promise<PublishResult> {
  const setup = Api.pool(params.url, 16)
  const probe = new Api(new Client(params.url))
  try {
    const token = await setup.login('publisher')
    await setup.createQueue(token, 'topics-probe')
    await setup.bind(token, 'topics-probe', PROBE_TOPIC)
    await inParallel(QUEUES, 16, async (i) => { await setup.createQueue(token, `topics-${i}`) })
    let bound = 1
    const bindUpTo = async (count: number): Promise<void> => {
      const from = bound
      await inParallel(count - from, 16, async (i) => { await setup.bind(token, `topics-${(from + i) % QUEUES}`, filterFor(from + i)) })
      bound = count
    }
    const timePublishes = async (): Promise<LatencySummary> => {
      const once = async (): Promise<number> => {
        const start = process.hrtime.bigint()
        const count = await probe.publish(token, PROBE_TOPIC)
        const elapsed = microsSince(start)
        if (count !== 1) throw new Error(`a publish to ${PROBE_TOPIC} reached ${count} queues, not 1`)
        return elapsed
      }
      for (let i = 0; i < Math.ceil(params.probes / 10); i++) await once()
      const samples = new Samples()
      for (let i = 0; i < params.probes; i++) samples.add(await once())
      return samples.summary()
    }
    await bindUpTo(params.few)
    const few = await timePublishes()
    const bindStart = process.hrtime.bigint()
    await bindUpTo(params.many)
    const bindSeconds = microsSince(bindStart) / 1e6
    const many = await timePublishes()
    return { few: { bindings: params.few, latency: few }, many: { bindings: params.many, latency: many }, bindSeconds }
  } finally {
    await probe.close()
    await setup.close()
  }
}
