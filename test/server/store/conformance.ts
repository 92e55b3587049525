// The suite every store passes (as aedes-persistence's abstract.js): a switch on the store, every operation
// type, what a switch opened again on the same store finds (for a durable store), and the steps that must be
// atomic. Each store's *.test.ts runs it with a factory.
import type { Test } from 'tap'
import { Switch } from '../../../server/core/switch.js'
import type { Store } from '../../../server/store/store.js'

export interface StoreUnderTest {
  name: string
  /** A new store on the same place each call (the same directory, the same Redis). */
  open: () => Store
  /** False for memory: nothing outlives the switch. */
  durable: boolean
}

const text = (s: string): Buffer => Buffer.from(s)

async function opened (t: Test, store: StoreUnderTest): Promise<Switch> {
  const core = await Switch.open({ store: store.open() })
  t.teardown(async () => { await core.close() })
  return core
}

/** What a switch holds, in a form to compare: queues with their message ids and payloads, bindings, sessions. */
export function picture (core: Switch): object {
  const d = core.diagnostics()
  return {
    queues: d.queues.map((q) => [q.name, q.kind, q.bindings ?? [], q.messages.map((m) => [m.id, m.preview])]).sort(),
    sessions: d.sessions.map((s) => [s.client, [...s.subscriptions].sort(), [...s.queues].length]).sort(),
    retained: (d.retained?.topics ?? []).sort()
  }
}

export function conformance (t: Test, factory: () => StoreUnderTest): void {
  t.test('every operation type is applied, and (durable) found again by a switch opened afresh', async (t) => {
    const store = factory()
    const core = await opened(t, store)
    const service = await core.login('service')
    const caller = await core.login('caller')
    const gone = await core.login('gone')
    t.same(await core.createQueue(service, 'requests'), { name: 'requests', kind: 'persistent', created: true })
    t.same(await core.createQueue(service, 'requests'), { name: 'requests', kind: 'persistent', created: false }, 'created once')
    const reply = await core.createTemporaryQueue(caller)
    await core.createTemporaryQueue(gone)
    await core.createQueue(service, 'doomed')
    await core.destroy(service, 'doomed')
    await core.subscribe(service, 'requests')
    await core.subscribe(caller, 'requests')
    await core.unsubscribe(caller, 'requests')
    const first = await core.send(caller, 'requests', text('one'), { replyTo: reply.name, idempotencyKey: 'k1' })
    t.same(await core.send(caller, 'requests', text('one'), { idempotencyKey: 'k1' }), { id: first.id, duplicate: true }, 'a retry is a duplicate')
    const second = await core.send(caller, 'requests', text('two'))
    const answered = await core.send(service, reply.name, text('answer'), { ack: first.id })
    t.ok('id' in answered && answered.id > second.id, 'ids only increase')
    await core.ack(service, second.id)
    await core.createQueue(service, 'news')
    t.same((await core.bind(service, 'news', 'weather/#')).created, true)
    await core.bind(service, 'news', 'sport/#')
    await core.unbind(service, 'news', 'sport/#')
    const published = await core.publish(caller, 'weather/paris', text('rain'), { retain: true, idempotencyKey: 'p1' })
    t.equal(published.count, 1)
    t.same(await core.publish(caller, 'weather/paris', text('rain'), { retain: true, idempotencyKey: 'p1' }), { ...published, duplicate: true })
    await core.logout(gone)

    const expected = {
      queues: [
        ['news', 'persistent', ['weather/#'], [[published.ids[0], 'rain']]],
        ['requests', 'persistent', [], []],
        [reply.name, 'temporary', [], [['id' in answered ? answered.id : 0, 'answer']]]
      ].sort(),
      sessions: [['caller', [], 1], ['service', ['requests'], 0]].sort(),
      retained: ['weather/paris']
    }
    t.same(picture(core), expected, 'the state after every operation type')
    if (!store.durable) return
    await core.close()
    const again = await opened(t, store)
    t.same(picture(again), expected, 'a switch opened on the store finds the same')
    const next = await again.send(again.enter(service.token), 'requests', text('three'))
    t.ok(next.id > ('id' in answered ? answered.id : 0), 'the id counter goes on from where it was')
    t.same(await again.send(again.enter(caller.token), 'requests', text('one'), { idempotencyKey: 'k1' }), { id: first.id, duplicate: true }, 'idempotency keys are kept')
  })

  t.test('reply-and-ack is one step: the reply and the ack stand or fall together', async (t) => {
    const store = factory()
    const core = await opened(t, store)
    const service = await core.login('service')
    const caller = await core.login('caller')
    await core.createQueue(service, 'requests')
    const reply = await core.createTemporaryQueue(caller)
    const request = await core.send(caller, 'requests', text('ask'))
    // Refused (the reply queue is full of nothing but the ack names no message): nothing of it happens.
    await t.rejects(core.send(service, reply.name, text('no'), { ack: request.id + 1000 }), { code: 'message_not_found' })
    t.ok(core.holds(request.id), 'a refused reply acks nothing')
    await core.send(service, reply.name, text('yes'), { ack: request.id })
    t.notOk(core.holds(request.id), 'the request is acked with its reply')
    if (!store.durable) return
    await core.close()
    const again = await opened(t, store)
    t.notOk(again.holds(request.id), 'and stays acked')
    t.equal(again.contents().find((q) => q.name === reply.name)?.length, 1, 'with its reply there')
  })

  t.test('a publish reaches every bound queue, or none', async (t) => {
    const store = factory()
    const core = await opened(t, store)
    const s = await core.login('s')
    for (const name of ['a', 'b', 'c']) {
      await core.createQueue(s, name)
      await core.bind(s, name, 'x/#')
    }
    const published = await core.publish(s, 'x/y', text('all'))
    t.equal(published.count, 3)
    t.same(core.contents().map((q) => q.length), [1, 1, 1])
    if (!store.durable) return
    await core.close()
    const again = await opened(t, store)
    t.same(again.contents().map((q) => [q.name, q.length]), [['a', 1], ['b', 1], ['c', 1]])
  })

  t.test('a long-poll is woken by a send', async (t) => {
    const core = await opened(t, factory())
    const s = await core.login('s')
    await core.createQueue(s, 'q')
    await core.subscribe(s, 'q')
    const polled = core.transfer(s, { after: 0, timeout: 60_000 })
    const sent = await core.send(s, 'q', text('wake'))
    t.same((await polled).messages.map((m) => m.id), [sent.id])
  })

  t.test('work queues: options, leases, delivery counts and dead letters are kept', async (t) => {
    const store = factory()
    const core = await opened(t, store)
    const s = await core.login('worker')
    await core.createQueue(s, 'dead')
    const options = { mode: 'work' as const, visibilityTimeout: 600, maxDeliveries: 3, deadLetter: 'dead', messageTtl: 3600 }
    await core.createQueue(s, 'jobs', options)
    await core.subscribe(s, 'jobs')
    const leased = await core.send(s, 'jobs', text('leased'))
    const released = await core.send(s, 'jobs', text('released'))
    const got = await core.transfer(s, { after: 0, timeout: 0 })
    t.same(got.messages.map((m) => [m.id, m.deliveries]), [[leased.id, 1], [released.id, 1]], 'both leased, once')
    await core.extendLease(s, released.id, 0)
    const expiring = await core.send(s, 'jobs', text('expiring'), { ttl: 1 })
    // Its deadline's timer moves it: waited for on the trace.
    for (let after = 0; core.holds(expiring.id);) after = (await core.waitForTrace(after, 5000, 100)).next
    const state = (c: Switch): object => ({
      options: c.queueInfo('jobs').options,
      jobs: c.diagnostics().queues.find((q) => q.name === 'jobs')?.messages.map((m) => [m.id, m.deliveries, m.leaseExpires !== undefined]),
      dead: c.diagnostics().queues.find((q) => q.name === 'dead')?.messages.map((m) => [m.preview, m.deadLetter?.reason])
    })
    const expected = {
      options,
      jobs: [[leased.id, 1, true], [released.id, 1, false]],
      dead: [['expiring', 'expired']]
    }
    t.same(state(core), expected, 'the lease held, the one given back free, the expired one dead-lettered')
    await t.rejects(core.createQueue(s, 'jobs', { mode: 'work' }), { code: 'queue_conflict' })
    if (!store.durable) return
    await core.close()
    const again = await opened(t, store)
    t.same(state(again), expected, 'a switch opened on the store finds the same')
    const other = await again.login('other')
    await again.subscribe(other, 'jobs')
    t.same((await again.transfer(other, { after: 0, timeout: 0 })).messages.map((m) => [m.id, m.deliveries]), [[released.id, 2]], 'the lease still holds the other')
  })
}
