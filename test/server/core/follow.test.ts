import t, { type Test } from 'tap'
import type { Follower } from '../../../server/core/follower.js'
import type { Session } from '../../../server/core/session.js'
import type { Switch } from '../../../server/core/switch.js'
import { startCore } from './fixtures.js'

// A running delivery's standing watch (core.follow) and its batches (core.take).

/** Calls to a follower's `woken`, each resolving the next `next()`. */
function wakes (): { woken: (idle: boolean) => void, next: () => Promise<boolean>, count: () => number } {
  const queued: boolean[] = []
  let waiting: ((idle: boolean) => void) | undefined
  let count = 0
  return {
    woken: (idle) => {
      count++
      if (waiting === undefined) queued.push(idle)
      else {
        const resolve = waiting
        waiting = undefined
        resolve(idle)
      }
    },
    next: async () => {
      const idle = queued.shift()
      if (idle !== undefined) return idle
      return await new Promise<boolean>((resolve) => { waiting = resolve })
    },
    count: () => count
  }
}

const waitingOn = (core: Switch, queue: string): number | undefined =>
  core.observation(100).queues.find((entry) => entry.name === queue)?.waiting

/** A session with queue `q` and a follower on it, its wakes recorded. */
async function following (t: Test, heartbeat = 60_000): Promise<{ core: Switch, s: Session, seen: ReturnType<typeof wakes>, follower: Follower }> {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  const seen = wakes()
  const follower = core.follow(s, ['q'], 0, heartbeat, seen.woken)
  t.teardown(() => { follower.close() })
  return { core, s, seen, follower }
}

t.test('a follower is woken once per burst of sends, and its batch is at hand, traced as delivered', async (t) => {
  const { core, s, seen, follower } = await following(t)
  t.equal(waitingOn(core, 'q'), 1, 'it waits on its queue')

  const sent = await Promise.all([1, 2, 3].map(async (n) => (await core.send(s, 'q', Buffer.from(`${n}`))).id))
  t.equal(await seen.next(), false, 'woken, not idle')
  t.equal(seen.count(), 1, 'one wake for the three sends')
  const taken = core.take(s, { after: 0, queues: ['q'], expectedWithin: 60_000 })
  t.notOk(taken instanceof Promise, 'a cursor queue answers at once')
  const { messages, next } = taken as Exclude<typeof taken, Promise<unknown>>
  t.same(messages.map((m) => m.id), sent)
  t.equal(next, sent[2])
  t.same(messages.map((m) => m.deliveries), [1, 1, 1], 'counted as delivered')
  t.match(core.trace.since(0, 100).filter((event) => event.type === 'deliver').map((event) => event.messageId), sent)

  t.equal(waitingOn(core, 'q'), 1, 'still registered after the wake: no new long-poll per push')
  follower.close()
  t.equal(waitingOn(core, 'q'), 0, 'closed: it waits nowhere')
  t.equal(core.observation(100).waiting, 0, 'and is none of its session\'s waits')
  await core.send(s, 'q', Buffer.from('after'))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(seen.count(), 1, 'a closed follower is not woken')
})

t.test('a follower of the subscriptions watches one added later; paused, it watches nothing', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'a')
  await core.createQueue(s, 'b')
  await core.subscribe(s, 'a')
  const seen = wakes()
  const follower = core.follow(s, undefined, 0, 60_000, seen.woken)
  await core.subscribe(s, 'b')
  t.equal(waitingOn(core, 'b'), 1, 'the new subscription is watched')
  await core.send(s, 'b', Buffer.from('x'))
  t.equal(await seen.next(), false)

  follower.pause()
  t.equal(waitingOn(core, 'a'), 0, 'out of credit it counts as waiting nowhere')
  await core.send(s, 'a', Buffer.from('y'))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(seen.count(), 1, 'and is not woken')
  await core.createQueue(s, 'c')
  await core.subscribe(s, 'c')
  t.equal(waitingOn(core, 'c'), 0, 'a subscription added meanwhile waits for the resume')
  follower.resume(s.subscriptions)
  t.same(['a', 'b', 'c'].map((name) => waitingOn(core, name)), [1, 1, 1], 'resumed on every subscription')
  follower.close()
})

t.test('the heartbeat comes after a quiet interval, counted from the last write', async (t) => {
  const heartbeat = 40
  const { seen, follower } = await following(t, heartbeat)
  let lastWrite = performance.now()
  t.equal(await seen.next(), true, 'idle')
  t.ok(performance.now() - lastWrite >= heartbeat - 2, 'not before the heartbeat')

  // Writes put it off: one made half way through the interval moves the next heartbeat on by as much.
  lastWrite = performance.now()
  follower.active()
  const early = setTimeout(() => {
    lastWrite = performance.now()
    follower.active()
  }, heartbeat / 2)
  t.teardown(() => { clearTimeout(early) })
  t.equal(await seen.next(), true)
  t.ok(performance.now() - lastWrite >= heartbeat - 2, `a heartbeat after ${heartbeat} ms without a write`)
})

t.test('a follower is woken when its session ends, and refused for a session that has ended', async (t) => {
  const { core, s, seen } = await following(t)
  await core.logout(s)
  t.equal(await seen.next(), false, 'woken to see the end')
  t.notOk(core.isCurrent(s))
  t.throws(() => core.follow(s, ['q'], 0, 60_000, () => {}), { code: 'session_not_found' })
})

t.test('a follower counts as one of the session\'s long-polls', async (t) => {
  const core = startCore(t, { maxSessionPolls: 1 })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  const follower = core.follow(s, ['q'], 0, 60_000, () => {})
  t.throws(() => core.follow(s, ['q'], 0, 60_000, () => {}), { code: 'limit_exceeded' })
  await t.rejects(core.transfer(s, { after: 0, timeout: 1000, queues: ['q'] }), { code: 'limit_exceeded' })
  follower.close()
})

t.test('take leases work-queue messages before answering', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'jobs', { mode: 'work', visibilityTimeout: 30 })
  const { id } = await core.send(s, 'jobs', Buffer.from('job'))
  const taken = core.take(s, { after: 0, queues: ['jobs'], expectedWithin: 60_000 })
  t.ok(taken instanceof Promise, 'a lease is stored first')
  const { messages } = await taken
  t.same(messages.map((m) => m.id), [id])
  t.equal(core.queueInfo('jobs').leased, 1)
  const again = await core.take(s, { after: 0, queues: ['jobs'], expectedWithin: 60_000 })
  t.same(again.messages, [], 'leased: not taken twice')
})
