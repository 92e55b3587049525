import { Client } from 'undici'
import { Api, inParallel } from '../api.js'
import { microsSince, Samples, type LatencySummary } from '../stats.js'

export interface TailParams {
  url: string
  /** Unacked messages the long queue holds. */
  messages: number
  probes: number
}

export interface TailResult {
  messages: number
  fillSeconds: number
  /** A transfer returning the newest message of the long queue. */
  tail: LatencySummary
  /** The same on a queue holding nothing else. */
  empty: LatencySummary
}

/**
 * Does a transfer cost more when the queue behind the cursor is long? Each probe sends one message, then
 * times the transfer that fetches it (cursor just below it) and acks it; probes alternate between a queue
 * holding `messages` unacked messages and an empty one, so drift on a shared machine hits both alike.
 */
export async function tailTransfer (params: TailParams): Promise<TailResult> {
  const fill = Api.pool(params.url, 32)
  const probe = new Api(new Client(params.url))
  try {
    const sender = await fill.login('filler')
    const long = { queue: 'size-long', reader: await fill.login('reader-long'), samples: new Samples() }
    const empty = { queue: 'size-empty', reader: await fill.login('reader-empty'), samples: new Samples() }
    for (const side of [long, empty]) {
      await fill.createQueue(sender, side.queue)
      await fill.subscribe(side.reader, side.queue)
    }
    const fillStart = process.hrtime.bigint()
    await inParallel(params.messages, 32, async () => { await fill.send(sender, long.queue) })
    const fillSeconds = microsSince(fillStart) / 1e6

    const once = async (side: typeof long): Promise<number> => {
      const id = await probe.send(sender, side.queue)
      const start = process.hrtime.bigint()
      const { messages } = await probe.transfer(side.reader, id - 1, 0)
      const elapsed = microsSince(start)
      if (messages.length !== 1 || messages[0].id !== id) throw new Error(`transfer after ${id - 1} did not return just ${id}`)
      await probe.ack(side.reader, id)
      return elapsed
    }
    const warmup = Math.ceil(params.probes / 10)
    for (let i = 0; i < warmup; i++) { await once(long); await once(empty) }
    for (let i = 0; i < params.probes; i++) {
      long.samples.add(await once(long))
      empty.samples.add(await once(empty))
    }
    return { messages: params.messages, fillSeconds, tail: long.samples.summary(), empty: empty.samples.summary() }
  } finally {
    await probe.close()
    await fill.close()
  }
}

export interface ManySessionsParams {
  url: string
  /** Sessions, each with its own queue and subscription, present for the second measurement. */
  sessions: number
  probes: number
}

export interface ManySessionsResult {
  sessions: number
  /** Send latency with one session and one queue. */
  alone: LatencySummary
  /** The same sends once `sessions` sessions and queues exist. */
  crowded: LatencySummary
}

/** Does a send cost more when the switch holds many sessions and queues? Sequential 64-byte sends, timed. */
export async function manySessions (params: ManySessionsParams): Promise<ManySessionsResult> {
  const setup = Api.pool(params.url, 16)
  const probe = new Api(new Client(params.url))
  try {
    const sender = await setup.login('sender')
    await setup.createQueue(sender, 'many-target')
    const timeSends = async (): Promise<LatencySummary> => {
      const warmup = Math.ceil(params.probes / 10)
      for (let i = 0; i < warmup; i++) await probe.send(sender, 'many-target')
      const samples = new Samples()
      for (let i = 0; i < params.probes; i++) {
        const start = process.hrtime.bigint()
        await probe.send(sender, 'many-target')
        samples.add(microsSince(start))
      }
      return samples.summary()
    }
    const alone = await timeSends()
    await inParallel(params.sessions - 1, 16, async (i) => {
      const token = await setup.login(`crowd-${i}`)
      await setup.createQueue(token, `many-${i}`)
      await setup.subscribe(token, `many-${i}`)
    })
    const crowded = await timeSends()
    return { sessions: params.sessions, alone, crowded }
  } finally {
    await probe.close()
    await setup.close()
  }
}
