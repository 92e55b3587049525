// Work queues on a clock the test moves: leases, their lapse and extension, delivery counts, dead letters,
// expiry and delay, each at its edge (the timer resolution of a manual clock is exact).
import t, { type Test } from 'tap'
import type { QueueOptions } from '../../../protocol/wire.js'
import { manualClock, startCore } from './fixtures.js'

const text = (value: string): Buffer => Buffer.from(value)

async function scene (t: Test, options: QueueOptions = {}) {
  const clock = manualClock()
  const core = startCore(t, { now: clock.now, timers: clock })
  const a = await core.login('a')
  const b = await core.login('b')
  await core.createQueue(a, 'dlq')
  await core.createQueue(a, 'jobs', { mode: 'work', visibilityTimeout: 1, ...options })
  await core.subscribe(a, 'jobs')
  await core.subscribe(b, 'jobs')
  const receive = async (session: typeof a): Promise<Array<[number, number]>> =>
    (await core.transfer(session, { after: 0, timeout: 0 })).messages.map((m) => [m.id, m.deliveries ?? 0])
  return { clock, core, a, b, receive }
}

t.test('a lease hands a message to one session until it runs out, then to another', async (t) => {
  const { clock, core, a, b, receive } = await scene(t)
  const { id } = await core.send(a, 'jobs', text('job'))
  t.same(await receive(a), [[id, 1]], 'leased to a, first delivery')
  t.same(await receive(b), [], 'not to b while leased')
  t.same(await receive(a), [], 'nor to a again')
  clock.advance(999)
  t.same(await receive(b), [], 'leased at 999 ms')
  clock.advance(1)
  t.same(await receive(b), [[id, 2]], 'at 1 s the lease is out: b gets it, second delivery')
  await t.rejects(core.extendLease(a, id, 1000), { code: 'not_leased' }, 'a lost its lease')
  t.match(await core.extendLease(b, id, 5000), { id, expires: clock.now() + 5000 }, 'b extends its own')
  clock.advance(4999)
  t.same(await receive(a), [], 'extended')
  await core.extendLease(b, id, 0)
  t.same(await receive(a), [[id, 3]], 'given back: delivered at once')
  await core.ack(a, id)
  clock.advance(10_000)
  t.same(await receive(b), [], 'acked: gone for good')
  t.same(core.queueInfo('jobs').options, { mode: 'work', visibilityTimeout: 1 })
})

t.test('a message delivered maxDeliveries times moves to the dead-letter queue, the others stay', async (t) => {
  const { clock, core, a, b, receive } = await scene(t, { maxDeliveries: 2, deadLetter: 'dlq' })
  const poison = await core.send(a, 'jobs', text('poison'), { correlationId: 'c1' })
  t.same(await receive(a), [[poison.id, 1]])
  clock.advance(1000)
  t.same(await receive(b), [[poison.id, 2]])
  const good = await core.send(a, 'jobs', text('good'))
  t.same(await receive(a), [[good.id, 1]])
  await core.ack(a, good.id)
  clock.advance(999)
  t.equal(core.queueInfo('dlq').length, 0, 'still leased at 999 ms')
  clock.advance(1)
  t.equal(core.queueInfo('jobs').length, 0, 'gone from jobs when its last lease ran out')
  const [dead] = core.contents().find((q) => q.name === 'dlq')?.messages ?? []
  t.match(dead, { payload: text('poison'), correlationId: 'c1', deadLetter: { reason: 'max_deliveries', from: 'jobs', deliveries: 2, time: clock.now() } })
  t.same((await core.redrive(a, 'dlq', 'jobs')), { moved: 1 }, 'moved back')
  t.match((await core.transfer(b, { after: 0, timeout: 0 })).messages, [{ payload: text('poison'), deliveries: 1 }], 'counted afresh')
})

t.test('expiry and delay hold to the millisecond', async (t) => {
  const { clock, core, a, b, receive } = await scene(t, { messageTtl: 10, deadLetter: 'dlq' })
  const delayed = await core.send(a, 'jobs', text('later'), { delay: 500 })
  const short = await core.send(a, 'jobs', text('short'), { ttl: 2000 })
  t.same(await receive(a), [[short.id, 1]], 'the delayed one is held back')
  clock.advance(499)
  t.same(await receive(b), [], 'at 499 ms')
  clock.advance(1)
  t.same(await receive(b), [[delayed.id, 1]], 'at 500 ms')
  clock.advance(1499)
  t.equal(core.queueInfo('dlq').length, 0, 'not expired at 1999 ms')
  clock.advance(1)
  t.match(core.contents().find((q) => q.name === 'dlq')?.messages, [{ payload: text('short'), deadLetter: { reason: 'expired', from: 'jobs' } }], 'expired at 2 s')
  clock.advance(8000)
  t.equal(core.queueInfo('jobs').length, 0, 'the queue TTL expires the other at 10 s')
  t.equal(core.queueInfo('dlq').length, 2)
  await t.rejects(core.send(a, 'dlq', text('x'), { delay: 1 }), { code: 'invalid_request', field: 'delay' }, 'a cursor queue takes no delay')
})

t.test('options are set once: the same again is fine, others are a conflict', async (t) => {
  const { core, a } = await scene(t)
  t.match(await core.createQueue(a, 'jobs', { mode: 'work', visibilityTimeout: 1 }), { created: false })
  t.match(await core.createQueue(a, 'jobs'), { created: false }, 'without options: found as it is')
  await t.rejects(core.createQueue(a, 'jobs', { mode: 'work', visibilityTimeout: 2 }), { code: 'queue_conflict' })
  await t.rejects(core.createQueue(a, 'x', { mode: 'cursor', maxDeliveries: 2 }), { code: 'invalid_request', field: 'maxDeliveries' })
  await t.rejects(core.createQueue(a, 'x', { deadLetter: 'nowhere' }), { code: 'queue_not_found' })
  t.same(core.queueInfo('jobs').options, { mode: 'work', visibilityTimeout: 1 })
})

t.test('a dead letter waits in its queue, never delivered, while the dead-letter queue is full; a redrive into a full queue moves nothing', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { now: clock.now, timers: clock, maxQueueLength: 2 })
  const a = await core.login('a')
  await core.createQueue(a, 'dlq')
  await core.createQueue(a, 'other')
  await core.createQueue(a, 'jobs', { mode: 'work', visibilityTimeout: 1, deadLetter: 'dlq' })
  await core.subscribe(a, 'jobs')
  const fillers = [await core.send(a, 'dlq', text('1')), await core.send(a, 'dlq', text('2'))]
  await core.send(a, 'jobs', text('j1'), { ttl: 1000 })
  await core.send(a, 'jobs', text('j2'), { ttl: 1000 })
  clock.advance(1000)
  t.match(core.queueInfo('jobs'), { length: 2, deadLetterWaiting: 2 }, 'both held in jobs, and counted')
  t.equal(core.queueInfo('dlq').length, 2)
  t.same((await core.transfer(a, { after: 0, timeout: 0 })).messages, [], 'never delivered meanwhile')
  t.equal(core.diagnostics().dropped, 0, 'nothing dropped')
  t.match(core.diagnostics().queues.find((q) => q.name === 'jobs'), { deadLetterWaiting: 2 })

  await core.send(a, 'other', text('o'))
  await t.rejects(core.redrive(a, 'dlq', 'other'), { code: 'insufficient_storage' }, 'a redrive that does not fit is refused')
  t.equal(core.queueInfo('dlq').length, 2, 'as a whole: nothing moved')
  t.equal(core.queueInfo('other').length, 1)

  await core.ack(a, fillers[0].id)
  clock.advance(0)
  t.match(core.queueInfo('jobs'), { length: 1, deadLetterWaiting: 1 }, 'one moves as soon as there is room for one')
  t.match(core.contents().find((q) => q.name === 'dlq')?.messages, [{ payload: text('2') }, { payload: text('j1'), deadLetter: { reason: 'expired', from: 'jobs' } }])
  await core.ack(a, fillers[1].id)
  clock.advance(0)
  const jobs = core.queueInfo('jobs')
  t.equal(jobs.length, 0, 'then the other')
  t.equal(jobs.deadLetterWaiting, undefined)
  t.equal(core.queueInfo('dlq').length, 2)
})
