import t from 'tap'
import {
  InvalidRequestError,
  MessageNotFoundError,
  QueueNotFoundError,
  SessionNotFoundError,
  ShuttingDownError
} from '../../../server/core/errors.js'
import { manualClock, startCore, traced } from './fixtures.js'

t.test('login gives a fresh session that enter finds; logout ends it', async (t) => {
  const core = startCore(t)
  const a = await core.login('alice')
  const b = await core.login('alice')
  t.not(a.token, b.token, 'two logins of one client are two sessions')
  t.equal(a.client, 'alice')
  t.equal(core.enter(a.token), a)
  core.leave(a)
  await core.logout(a)
  t.throws(() => core.enter(a.token), SessionNotFoundError)
  await t.rejects(core.logout(a), SessionNotFoundError, 'a second logout finds no session')
  t.equal(core.enter(b.token), b, 'the other session lives on')
  core.leave(b)
})

t.test('login refuses empty and overlong client names', async (t) => {
  const core = startCore(t)
  await t.rejects(core.login(''), InvalidRequestError)
  await t.rejects(core.login('x'.repeat(201)), InvalidRequestError)
  t.ok(await core.login('x'.repeat(200)))
})

t.test('login refuses once shutting down', async (t) => {
  const core = startCore(t)
  core.shutdown()
  await t.rejects(core.login('late'), ShuttingDownError)
})

t.test('temporary queues have fresh names and belong to their session', async (t) => {
  const core = startCore(t)
  const s = await core.login('owner')
  const names = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const created = await core.createTemporaryQueue(s)
    t.match(created, { kind: 'temporary', created: true })
    t.match(created.name, /^tmp-[0-9a-z]{12}$/)
    names.add(created.name)
  }
  t.equal(names.size, 20, 'no name repeats')
  t.same([...s.queues].sort(), [...names].sort())
  const listed = core.list('tmp-', false)
  t.equal(listed.length, 20)
  for (const info of listed) t.match(info, { kind: 'temporary', owner: 'owner', length: 0 })
})

t.test('logout removes its temporary queues and their messages, and only those', async (t) => {
  const core = startCore(t)
  const owner = await core.login('owner')
  const other = await core.login('other')
  const { name: tmp } = await core.createTemporaryQueue(owner)
  const { name: kept } = await core.createTemporaryQueue(other)
  await core.createQueue(owner, 'named')
  const inTmp = await core.send(other, tmp, Buffer.from('to the temporary queue'))
  const inNamed = await core.send(other, 'named', Buffer.from('to the named queue'))

  const ended = traced(core, 'session_end')
  const destroyed = traced(core, 'destroy')
  await core.logout(owner)
  t.match(await ended, { client: 'owner' })
  t.match(await destroyed, { client: 'owner', queue: tmp })

  t.same(core.list('', false).map((q) => q.name).sort(), [kept, 'named'].sort())
  await t.rejects(core.ack(other, inTmp.id), MessageNotFoundError, 'its message went with the queue')
  await t.rejects(core.send(other, tmp, Buffer.from('late')), QueueNotFoundError)
  await core.ack(other, inNamed.id)
})

t.test('an ended session can neither create temporary queues nor long-poll', async (t) => {
  const core = startCore(t)
  const s = await core.login('gone')
  await core.logout(s)
  await t.rejects(core.createTemporaryQueue(s), SessionNotFoundError)
  await t.rejects(core.transfer(s, { after: 0, timeout: 10_000 }), SessionNotFoundError)
  t.same(core.list('', false), [], 'no queue was left behind for nobody to remove')
})

t.test('a session expires after its TTL, taking its temporary queues along', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { sessionTtl: 100, now: clock.now, timers: clock })
  const s = await core.login('idle')
  const { name } = await core.createTemporaryQueue(s)
  const sent = await core.send(s, name, Buffer.from('x'))
  const ending = traced(core, 'session_end', (event) => event.client === 'idle')
  clock.advance(125)
  const ended = await ending
  t.ok(ended)
  t.throws(() => core.enter(s.token), SessionNotFoundError)
  t.same(core.list('', false), [])
  t.same(core.diagnostics().sessions, [])
  const survivor = await core.login('survivor')
  await t.rejects(core.ack(survivor, sent.id), MessageNotFoundError)
})

t.test('a held session outlives its TTL; once released it expires', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { sessionTtl: 100, now: clock.now, timers: clock })
  const held = await core.login('held')
  const { name } = await core.createTemporaryQueue(held)
  core.enter(held.token)
  // A session logged in later, with no hold, expires first unless the hold is ignored (the sweep visits
  // sessions oldest first, so an ignored hold would end `held` no later than `control`).
  const control = await core.login('control')
  const cursor = core.trace.lastId
  const controlEnded = traced(core, 'session_end', (event) => event.client === 'control')
  clock.advance(1000)
  await controlEnded
  t.notOk(
    core.trace.since(cursor, 1000).some((event) => event.type === 'session_end' && event.client === 'held'),
    'the held session did not end'
  )
  t.equal(core.enter(held.token), held, 'it is still there')
  t.throws(() => core.enter(control.token), SessionNotFoundError)
  core.leave(held) // the enter just above
  t.same(core.list('', false).map((q) => q.name), [name])
  t.equal(core.diagnostics().sessions[0].inFlight, 1)

  const ended = traced(core, 'session_end', (event) => event.client === 'held')
  core.leave(held)
  clock.advance(125)
  await ended
  t.throws(() => core.enter(held.token), SessionNotFoundError)
  t.same(core.list('', false), [], 'its temporary queue went with it')
})

t.test('expiry ends the session\'s long-polls', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { sessionTtl: 100, now: clock.now, timers: clock })
  const s = await core.login('poller')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  // Without a hold (no HTTP request around it) the long-poll does not keep the lease.
  const polling = core.transfer(s, { after: 0, timeout: 60_000 })
  clock.advance(125)
  const result = await polling
  t.same(result, { messages: [], next: 0 })
  t.throws(() => core.enter(s.token), SessionNotFoundError)
})

t.test('a login may ask for its own lease, granted up to maxSessionTtl', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { sessionTtl: 100, maxSessionTtl: 1000, now: clock.now, timers: clock })
  const usual = await core.login('usual')
  const patient = await core.login('patient', undefined, 500)
  const greedy = await core.login('greedy', undefined, 60_000)
  t.equal(usual.ttl, 100, 'no ask: the default lease')
  t.equal(patient.ttl, 500, 'granted as asked')
  t.equal(greedy.ttl, 1000, 'capped at the longest allowed')
  await t.rejects(core.login('odd', undefined, 0), InvalidRequestError)

  const usualEnded = traced(core, 'session_end', (event) => event.client === 'usual')
  clock.advance(125)
  await usualEnded
  t.equal(core.enter(patient.token), patient, 'the longer lease outlives the default one')
  core.leave(patient)
  const patientEnded = traced(core, 'session_end', (event) => event.client === 'patient')
  clock.advance(625)
  await patientEnded
  t.equal(core.enter(greedy.token), greedy, 'the capped lease is still running')
  core.leave(greedy)
})

t.test('a queue whose last subscriber said goodbye (unsubscribe, logout) is not alive', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { sessionTtl: 100, now: clock.now, timers: clock })
  const alive = (): string[] => core.list('', true).map((queue) => queue.name)
  const left = (name: string): number | undefined => core.diagnostics().queues.find((queue) => queue.name === name)?.left
  const [a, b, crashed] = [await core.login('a'), await core.login('b'), await core.login('crashed')]
  for (const [session, name] of [[a, 'svc'], [b, 'svc'], [crashed, 'other']] as const) {
    await core.createQueue(session, name)
    await core.subscribe(session, name)
    await core.transfer(session, { after: 0, timeout: 0 })
  }
  t.same(alive(), ['other', 'svc'])
  await core.unsubscribe(a, 'svc')
  t.equal(left('svc'), undefined, 'b is still subscribed')
  clock.advance(10)
  await core.logout(b)
  t.equal(left('svc'), clock.now(), 'its last subscriber logged out')
  t.same(alive(), ['other'], 'no longer listed as alive')
  await core.transfer(a, { after: 0, timeout: 0, queues: ['svc'] })
  t.equal(left('svc'), undefined, 'polled again')
})
