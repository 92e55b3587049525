// Each number the README and the option docs promise, checked at its edge on a clock the test moves: the
// idempotency window, the key cap, and when an idle session ends. The defaults are used as they ship.
import t from 'tap'
import { DEFAULT_SWITCH_OPTIONS } from '../../../server/core/switch.js'
import { manualClock, startCore } from './fixtures.js'

const text = (value: string): Buffer => Buffer.from(value)

t.test('an idempotency key is remembered for 60 s, by default, for sends and publishes', async (t) => {
  t.equal(DEFAULT_SWITCH_OPTIONS.idempotencyWindow, 60_000, 'the documented window')
  const clock = manualClock()
  const core = startCore(t, { now: clock.now, timers: clock })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.createQueue(s, 'copies')
  await core.bind(s, 'copies', 'news')
  const sent = await core.send(s, 'q', text('1'), { idempotencyKey: 'k' })
  const published = await core.publish(s, 'news', text('1'), { idempotencyKey: 'k' })
  // The sweeper runs on the way (a timer of the same clock): pruning keeps what is inside the window.
  clock.advance(59_999)
  t.same(await core.send(s, 'q', text('retry'), { idempotencyKey: 'k' }), { ...sent, duplicate: true }, 'a send retried at 59.999 s')
  t.same(await core.publish(s, 'news', text('retry'), { idempotencyKey: 'k' }), { ...published, duplicate: true }, 'a publish too')
  clock.advance(1)
  t.match(await core.send(s, 'q', text('new'), { idempotencyKey: 'k' }), { duplicate: false }, 'at 60 s the key is forgotten')
  t.match(await core.publish(s, 'news', text('new'), { idempotencyKey: 'k' }), { duplicate: false }, 'for publishes too')
})

t.test('at most 200,000 send keys are remembered: past that the oldest goes early', async (t) => {
  const cap = DEFAULT_SWITCH_OPTIONS.maxIdempotencyKeys
  t.equal(cap, 200_000, 'the documented cap')
  const clock = manualClock()
  const core = startCore(t, { now: clock.now, timers: clock })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  const payload = text('')
  await Promise.all(Array.from({ length: cap }, async (_, key) => await core.send(s, 'q', payload, { idempotencyKey: String(key) })))
  t.match(await core.send(s, 'q', payload, { idempotencyKey: '0' }), { id: 1, duplicate: true }, 'all 200,000 are remembered')
  t.match(await core.send(s, 'q', payload, { idempotencyKey: 'one more' }), { id: cap + 1, duplicate: false })
  t.match(await core.send(s, 'q', payload, { idempotencyKey: '0' }), { duplicate: false }, 'the oldest, key 0, is forgotten')
  t.match(await core.send(s, 'q', payload, { idempotencyKey: '2' }), { id: 3, duplicate: true }, 'the next ones are not')
})

t.test('an idle session ends between 1 and 1.25 TTLs after its last request', async (t) => {
  t.equal(DEFAULT_SWITCH_OPTIONS.sessionTtl, 30_000, 'the documented default')
  for (const ttl of [200, 1000, DEFAULT_SWITCH_OPTIONS.sessionTtl, 3_600_000]) {
    const clock = manualClock()
    const core = startCore(t, { now: clock.now, timers: clock, sessionTtl: ttl })
    const clients = (): string[] => core.diagnostics().sessions.map((session) => session.client)
    const s = await core.login('idle')
    clock.advance(ttl / 2)
    core.leave(core.enter(s.token)) // a request renews the lease
    clock.advance(ttl)
    t.same(clients(), ['idle'], `TTL ${ttl} ms: alive one TTL after its last request`)
    clock.advance(ttl / 4)
    t.same(clients(), [], `TTL ${ttl} ms: ended by 1.25 TTLs after it`)

    // A request in flight (a long-poll) holds the lease however long it lasts.
    const busy = await core.login('busy')
    core.enter(busy.token)
    clock.advance(3 * ttl)
    t.same(clients(), ['busy'], `TTL ${ttl} ms: a session with a request in flight stays`)
    core.leave(busy)
    clock.advance(ttl * 1.25)
    t.same(clients(), [], `TTL ${ttl} ms: and ends by 1.25 TTLs after that request`)
  }
})
