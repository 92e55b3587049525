// Log compaction with --redis: switches save snapshots and trim the log, a switch started later reads the
// snapshot and the log after it, the log stays bounded, and a switch that fell behind the trimmed log catches up
// from the snapshot instead of skipping entries.
import t, { type Test } from 'tap'
import { Switch } from '../../../server/core/switch.js'
import { RedisStore, type Compaction } from '../../../server/store/redis.js'
import type { Follower } from '../../../server/store/store.js'
import { eventually } from '../../eventually.js'
import { picture } from './conformance.js'
import { RedisTestbed } from './redis-server.js'

const EVERY = 20
const compaction: Compaction = { operations: EVERY, ms: 60_000 }
const text = (s: string): Buffer => Buffer.from(s)

const redis = new RedisTestbed(t)
let prefixes = 0

async function opened (t: Test, store: RedisStore): Promise<Switch> {
  const core = await Switch.open({ store })
  t.teardown(async () => { await core.close() })
  return core
}

/** The number of the log's first entry (each entry's is one more than the one before it), and its length. */
async function log (prefix: string): Promise<{ first: number, length: number }> {
  const [entry] = await redis.db.xrange(`${prefix}log`, '-', '+', 'COUNT', 1)
  const fields = entry?.[1] ?? []
  return { first: Number(fields[fields.indexOf('s') + 1] ?? 0), length: await redis.db.xlen(`${prefix}log`) }
}

async function compactedPast (prefix: string, number: number): Promise<void> {
  await eventually(`the log trimmed past entry ${number}`, async () => (await log(prefix)).first > number ? true : undefined)
}

t.test('a switch started after compaction reads the snapshot and the log after it, and finds the same state', async (t) => {
  const prefix = `compaction${++prefixes}:`
  const a = await opened(t, new RedisStore(redis.url, { prefix, compaction }))
  const service = await a.login('service')
  const caller = await a.login('caller', undefined, 90_000)
  await a.createQueue(service, 'requests')
  await a.createQueue(service, 'news')
  await a.bind(service, 'news', 'weather/#')
  await a.createQueue(service, 'jobs', { mode: 'work', visibilityTimeout: 60 })
  await a.send(caller, 'jobs', text('job'))
  await a.transfer(service, { after: 0, timeout: 0, queues: ['jobs'] })
  const reply = await a.createTemporaryQueue(caller)
  await a.subscribe(service, 'requests')
  const sent: number[] = []
  for (let i = 0; i < 60; i++) {
    sent.push((await a.send(caller, 'requests', text(`r${i}`), { replyTo: reply.name, idempotencyKey: `k${i}` })).id)
    if (i % 3 === 0) await a.send(service, reply.name, text(`answer ${i}`), { ack: sent[i] })
  }
  const published = await a.publish(caller, 'weather/paris', text('rain'), { retain: true, idempotencyKey: 'p1' })
  await compactedPast(prefix, 1)

  const b = await opened(t, new RedisStore(redis.url, { prefix, compaction }))
  t.same(picture(b), picture(a), 'the same queues, messages, bindings, sessions and retained messages')
  t.same(await b.send(b.enter(caller.token), 'requests', text('r5'), { idempotencyKey: 'k5' }), { id: sent[5], duplicate: true }, 'idempotency keys are in the snapshot')
  t.same(await b.publish(b.enter(caller.token), 'weather/paris', text('rain'), { retain: true, idempotencyKey: 'p1' }), { ...published, duplicate: true })
  t.equal(b.enter(caller.token).ttl, 90_000, 'a lease granted at login is in the snapshot')
  t.match(b.queueInfo('jobs'), { options: { mode: 'work', visibilityTimeout: 60 } }, 'queue options are in the snapshot')
  t.same((await b.transfer(b.enter(caller.token), { after: 0, timeout: 0, queues: ['jobs'] })).messages, [], 'and so is a work message\'s lease')
  const next = await b.send(b.enter(service.token), 'requests', text('after'))
  t.ok(next.id > Math.max(...sent, ...published.ids), 'ids go on from the snapshot')
})

t.test('after many operations the log holds about two compactions\' worth of entries', async (t) => {
  const prefix = `compaction${++prefixes}:`
  const core = await opened(t, new RedisStore(redis.url, { prefix, compaction }))
  const s = await core.login('s')
  await core.createQueue(s, 'q')
  for (let i = 0; i < 300; i++) {
    const { id } = await core.send(s, 'q', text(`m${i}`))
    await core.ack(s, id)
  }
  await compactedPast(prefix, 600 - 3 * EVERY)
  t.ok((await log(prefix)).length <= 3 * EVERY, `${(await log(prefix)).length} entries left of 602`)
  const again = await opened(t, new RedisStore(redis.url, { prefix, compaction }))
  t.same(picture(again), picture(core))
})

/** A store whose tail starts only when the test says: a switch that fell behind (slow, or cut off from Redis). */
class Held extends RedisStore {
  release: () => void = () => {}
  private readonly released = new Promise<void>((resolve) => { this.release = resolve })

  override follow (follower: Follower): void {
    this.released.then(() => { super.follow(follower) }, () => {})
  }
}

t.test('a switch behind the trimmed log takes the snapshot, skipping nothing', async (t) => {
  const prefix = `compaction${++prefixes}:`
  const a = await opened(t, new RedisStore(redis.url, { prefix, compaction }))
  const s = await a.login('s')
  await a.createQueue(s, 'q')
  await a.subscribe(s, 'q')
  const loaded = Number(await redis.db.get(`${prefix}log-number`))
  const held = new Held(redis.url, { prefix, compaction })
  const b = await opened(t, held)
  // Waiting on B, which has read the log up to here and no further.
  const polled = b.transfer(b.enter(s.token), { after: 0, timeout: 60_000 })
  const missed: number[] = []
  for (let i = 0; i < 4 * EVERY; i++) missed.push((await a.send(s, 'q', text(`m${i}`))).id)
  await compactedPast(prefix, loaded + 1)
  held.release()
  // Woken once B has the snapshot, with what it holds: the first sends B missed, none skipped.
  const woken = (await polled).messages.map((m) => m.id)
  t.same(woken, missed.slice(0, woken.length), 'B\'s long-poll gets the sends it missed, from the first')
  await eventually('B caught up', async () => JSON.stringify(picture(b)) === JSON.stringify(picture(a)) ? true : undefined)
  const last = await b.send(b.enter(s.token), 'q', text('from B'))
  t.ok(a.holds(last.id) && b.holds(last.id), 'B goes on with the log')
})
