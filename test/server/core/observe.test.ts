import t from 'tap'
import { manualClock, settle, startCore, watch } from './fixtures.js'

t.test('trace records every kind of event, in order, with who and what', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { now: clock.now })
  const a = await core.login('a')
  const b = await core.login('b')
  await core.createQueue(a, 'q')
  const { name: tmp } = await core.createTemporaryQueue(b)
  await core.subscribe(b, 'q')
  await core.send(a, 'q', Buffer.from('x'), { correlationId: 'c1' })
  await core.transfer(b, { after: 0, timeout: 0 })
  clock.advance(40)
  await core.ack(b, 1)
  await core.destroy(a, 'q')
  await core.logout(b)

  const { events, next } = await core.waitForTrace(0, 0, 100)
  t.same(events.map((event) => event.type), [
    'login', 'login', 'create', 'create', 'send', 'deliver', 'ack', 'destroy', 'destroy', 'session_end'
  ])
  t.same(events.map((event) => event.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'ids count up from 1')
  t.equal(next, 10)
  t.match(events, [
    { client: 'a' },
    { client: 'b' },
    { client: 'a', queue: 'q' },
    { client: 'b', queue: tmp },
    { client: 'a', queue: 'q', messageId: 1, correlationId: 'c1' },
    { client: 'b', queue: 'q', messageId: 1 },
    { client: 'b', queue: 'q', messageId: 1, processingTime: 40 },
    { client: 'a', queue: 'q' },
    { client: 'b', queue: tmp },
    { client: 'b' }
  ])
  t.equal(events[0].time, clock.now() - 40)
})

t.test('waitForTrace: cursor, max and next', async (t) => {
  const core = startCore(t)
  for (const client of ['a', 'b', 'c', 'd']) await core.login(client)
  t.same((await core.waitForTrace(0, 0, 2)).events.map((event) => event.client), ['a', 'b'])
  const page = await core.waitForTrace(1, 0, 2)
  t.same(page.events.map((event) => event.id), [2, 3])
  t.equal(page.next, 3)
  t.same(await core.waitForTrace(4, 0, 10), { events: [], next: 4 }, 'caught up: next stays')
  t.same(await core.waitForTrace(99, 0, 10), { events: [], next: 4 }, 'a cursor from the future comes back to the last id')
})

t.test('waitForTrace long-polls and wakes on a new event', async (t) => {
  const core = startCore(t)
  await core.login('before')
  const poll = watch(core.waitForTrace(1, 60_000, 10))
  await settle()
  t.notOk(poll.done, 'waiting')
  await core.login('after')
  const { events, next } = await poll.promise
  t.match(events, [{ id: 2, type: 'login', client: 'after' }])
  t.equal(next, 2)
})

t.test('waitForTrace times out empty, and ends on abort and on shutdown', async (t) => {
  const core = startCore(t)
  t.same(await core.waitForTrace(0, 20, 10), { events: [], next: 0 })
  const controller = new AbortController()
  const aborted = core.waitForTrace(0, 60_000, 10, controller.signal)
  await settle()
  controller.abort()
  t.same(await aborted, { events: [], next: 0 })
  const stopped = core.waitForTrace(0, 60_000, 10)
  await settle()
  core.shutdown()
  t.same(await stopped, { events: [], next: 0 })
})

t.test('the trace is a ring buffer of its capacity', async (t) => {
  const core = startCore(t, { traceCapacity: 5 })
  for (let i = 1; i <= 12; i++) await core.login(`c${i}`)
  t.equal(core.trace.lastId, 12)
  const kept = await core.waitForTrace(0, 0, 100)
  t.same(kept.events.map((event) => event.id), [8, 9, 10, 11, 12], 'the oldest were dropped')
  t.same(kept.events.map((event) => event.client), ['c8', 'c9', 'c10', 'c11', 'c12'])
  t.equal(kept.next, 12)
  t.same((await core.waitForTrace(9, 0, 2)).events.map((event) => event.id), [10, 11])
  t.same((await core.waitForTrace(3, 0, 2)).events.map((event) => event.id), [8, 9], 'a stale cursor resumes at the oldest kept')
  t.same(await core.waitForTrace(12, 0, 10), { events: [], next: 12 })
  await core.login('c13')
  t.same((await core.waitForTrace(0, 0, 100)).events.map((event) => event.id), [9, 10, 11, 12, 13])
})

t.test('diagnostics describe queues, messages, polls and sessions', async (t) => {
  const clock = manualClock(5_000_000)
  const core = startCore(t, { now: clock.now, sessionTtl: 1000 })
  const server = await core.login('server')
  const client = await core.login('client')
  await core.createQueue(server, 'svc')
  const { name: replies } = await core.createTemporaryQueue(client)
  await core.subscribe(server, 'svc')
  const long = 'é'.repeat(60) // 120 bytes: the preview keeps the first 80
  await core.send(client, 'svc', Buffer.from(long), { correlationId: 'c-7', replyTo: replies })
  await core.send(client, 'svc', Buffer.from('plain'))
  clock.advance(250)

  let diagnostics = core.diagnostics()
  t.equal(diagnostics.startTime, 5_000_000)
  t.equal(diagnostics.now, 5_000_250)
  t.same(diagnostics.store, { kind: 'memory' })
  const svcBefore = diagnostics.queues.find((q) => q.name === 'svc')
  t.same(svcBefore, {
    name: 'svc',
    kind: 'persistent',
    waiting: 0,
    messages: [
      { id: 1, origin: 'client', time: 5_000_000, age: 250, size: 120, preview: 'é'.repeat(40), correlationId: 'c-7', replyTo: replies },
      { id: 2, origin: 'client', time: 5_000_000, age: 250, size: 5, preview: 'plain' }
    ]
  }, 'never polled: no lastTransfer, no nextTransferExpected')
  t.same(diagnostics.queues.find((q) => q.name === replies), { name: replies, kind: 'temporary', owner: 'client', waiting: 0, messages: [] })

  await core.ack(server, 1)
  const poll = core.transfer(server, { after: 2, timeout: 60_000 })
  await settle()
  diagnostics = core.diagnostics()
  t.match(diagnostics.queues.find((q) => q.name === 'svc'), {
    lastTransfer: 5_000_250,
    nextTransferExpected: 5_060_250,
    waiting: 1,
    messages: [{ id: 2 }]
  })
  t.equal(diagnostics.queues.find((q) => q.name === 'svc')?.messages.length, 1)
  t.same(diagnostics.sessions, [
    { id: server.id, client: 'server', principal: 'anonymous', subscriptions: ['svc'], queues: [], lastActivity: 5_000_000, inFlight: 0 },
    { id: client.id, client: 'client', principal: 'anonymous', subscriptions: [], queues: [replies], lastActivity: 5_000_000, inFlight: 0 }
  ])
  t.match(diagnostics.sessions[0].id, /^[0-9a-f]{8}$/)
  t.not(diagnostics.sessions[0].id, diagnostics.sessions[1].id)

  core.enter(client.token)
  t.match(core.diagnostics().sessions[1], { inFlight: 1, lastActivity: 5_000_250 })
  core.leave(client)

  await core.send(client, 'svc', Buffer.from('wake'))
  t.equal((await poll).messages.length, 1)
  t.equal(core.diagnostics().queues.find((q) => q.name === 'svc')?.waiting, 0)
})

t.test('list: prefix, sorting, lengths, owners and liveness', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { now: clock.now, sessionTtl: 1000 })
  const s = await core.login('owner')
  await core.createQueue(s, 'b.two')
  await core.createQueue(s, 'a.one')
  await core.createQueue(s, 'b.one')
  await core.send(s, 'b.one', Buffer.from('x'))
  t.same(core.list('', false).map((q) => q.name), ['a.one', 'b.one', 'b.two'])
  t.same(core.list('b.', false), [
    { name: 'b.one', kind: 'persistent', length: 1, alive: false },
    { name: 'b.two', kind: 'persistent', length: 0, alive: false }
  ])
  t.same(core.list('', true), [], 'nobody ever polled')

  await core.subscribe(s, 'a.one')
  const poll = core.transfer(s, { after: 0, timeout: 20 })
  await settle()
  t.same(core.list('', true).map((q) => q.name), ['a.one'], 'alive while a long-poll waits')
  t.same(await poll, { messages: [], next: 0 })
  clock.advance(20 + 1000)
  t.same(core.list('', true).map((q) => q.name), ['a.one'], 'and for a TTL after its deadline')
  clock.advance(1)
  t.same(core.list('', true), [], 'then no longer')
})
