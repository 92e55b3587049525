// With --redis every switch sees a message come due. The one whose operation set the deadline (the lease, the
// send) moves it at once; the others only after a grace period, and only if it has not: one `expire` entry in the
// log per message, not one per switch, and the message still moves when that switch is gone.
import { setTimeout as delay } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Switch } from '../../../server/core/switch.js'
import { RedisStore } from '../../../server/store/redis.js'
import { eventually } from '../../eventually.js'
import { RedisTestbed } from './redis-server.js'

/** Longer than the switch's grace (MOVE_GRACE, 2 s): by then a second switch would have moved it too. */
const PAST_GRACE_MS = 3000
const text = (s: string): Buffer => Buffer.from(s)

const redis = new RedisTestbed(t)
let prefixes = 0

async function opened (t: Test, prefix: string): Promise<Switch> {
  const core = await Switch.open({ store: new RedisStore(redis.url, { prefix }) })
  t.teardown(async () => { await core.close() })
  return core
}

interface Entry { type: string, queue?: string, ids?: number[], node: string }

/** The log's operations, each with the switch (the node part of its nonce) that appended it. */
async function entries (prefix: string): Promise<Entry[]> {
  return (await redis.db.xrange(`${prefix}log`, '-', '+')).map(([, fields]) => {
    const value = (name: string): string => fields[fields.findIndex((f, i) => i % 2 === 0 && f === name) + 1]
    const { type, queue, ids } = JSON.parse(value('o')) as Omit<Entry, 'node'>
    return { type, queue, ids, node: value('n').split(':')[0] }
  })
}

async function dead (core: Switch, count: number): Promise<void> {
  await eventually(`${count} dead letters`, async () => core.queueInfo('dlq').length === count ? true : undefined, 15_000)
}

t.test('each due message is moved by one switch: the one that leased it, or that sent it', async (t) => {
  const prefix = `deadlines${++prefixes}:`
  const a = await opened(t, prefix)
  const b = await opened(t, prefix)
  const worker = await a.login('worker')
  await a.createQueue(worker, 'dlq')
  await a.createQueue(worker, 'jobs', { mode: 'work', visibilityTimeout: 1, maxDeliveries: 1, deadLetter: 'dlq' })
  await a.createQueue(worker, 'mail', { deadLetter: 'dlq' })
  const jobs: number[] = []
  for (let i = 0; i < 3; i++) jobs.push((await a.send(worker, 'jobs', text(`job ${i}`))).id)
  t.equal((await a.transfer(worker, { after: 0, timeout: 0, queues: ['jobs'] })).messages.length, 3, 'leased on A')
  const sender = b.enter(worker.token)
  const mail: number[] = []
  for (let i = 0; i < 2; i++) mail.push((await b.send(sender, 'mail', text(`mail ${i}`), { ttl: 1000 })).id)
  await dead(a, 5)
  await dead(b, 5)
  await delay(PAST_GRACE_MS)

  const log = await entries(prefix)
  const leasedBy = log.find((entry) => entry.type === 'lease')?.node
  const mailedBy = log.find((entry) => entry.type === 'send' && entry.queue === 'mail')?.node
  t.not(leasedBy, mailedBy, 'leased on one switch, mail sent on the other')
  const moves = log.filter((entry) => entry.type === 'expire')
  const moved = moves.flatMap((entry) => entry.ids ?? []).sort((x, y) => x - y)
  t.same(moved, [...jobs, ...mail].sort((x, y) => x - y), 'each message in one expire entry, none in two')
  for (const entry of moves) {
    t.equal(entry.node, jobs.includes(entry.ids?.[0] ?? 0) ? leasedBy : mailedBy, `${JSON.stringify(entry.ids)} by the switch that leased or sent it`)
  }
})

t.test('a message leased on a switch that is gone is moved by another, after the grace', async (t) => {
  const prefix = `deadlines${++prefixes}:`
  const a = await Switch.open({ store: new RedisStore(redis.url, { prefix }) })
  const b = await opened(t, prefix)
  const worker = await a.login('worker')
  await a.createQueue(worker, 'dlq')
  await a.createQueue(worker, 'jobs', { mode: 'work', visibilityTimeout: 1, maxDeliveries: 1, deadLetter: 'dlq' })
  const { id } = await a.send(worker, 'jobs', text('job'))
  t.equal((await a.transfer(worker, { after: 0, timeout: 0, queues: ['jobs'] })).messages.length, 1, 'leased on A')
  await eventually('B has the lease', async () => b.queueInfo('jobs').leased === 1 ? true : undefined)
  await a.close()
  await dead(b, 1)
  const moves = (await entries(prefix)).filter((entry) => entry.type === 'expire')
  t.same(moves.map((entry) => entry.ids), [[id]], 'moved once, by B')
})
