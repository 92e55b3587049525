// Model-based test of the core: random command sequences run against a Switch and against a plain reference
// model, compared after every step. Every command acts the way the HTTP layer does: enter the session (which
// fails once it ended), act, leave. Lease expiry is driven by an injected clock and an explicit sweep.
import assert from 'node:assert/strict'
import t from 'tap'
import { seedFor } from '../../seed.js'
import fc from 'fast-check'
import { SwitchError } from '../../../server/core/errors.js'
import type { Session } from '../../../server/core/session.js'
import { Switch } from '../../../server/core/switch.js'
import { manualClock, type Clock } from './fixtures.js'

const TTL = 1000
const WINDOW = 1500
const NAMED = ['a', 'b', 'c']
// Limits small enough for random sequences to reach them.
const MAX_QUEUE_LENGTH = 3
const MAX_QUEUED_BYTES = 24
const MAX_SESSION_QUEUES = 1

type Op =
  | { kind: 'login' }
  | { kind: 'logout', s: number }
  | { kind: 'create', s: number, q: number }
  | { kind: 'createTemp', s: number }
  | { kind: 'subscribe', s: number, q: number }
  | { kind: 'unsubscribe', s: number, q: number }
  | { kind: 'send', s: number, q: number, key: string | undefined, payload: string }
  | { kind: 'reply', s: number, q: number, key: string | undefined, m: number }
  | { kind: 'transfer', s: number, fromStart: boolean, max: number | undefined }
  | { kind: 'ack', s: number, m: number }
  | { kind: 'destroy', s: number, q: number }
  | { kind: 'hold', s: number }
  | { kind: 'release', s: number }
  | { kind: 'elapse', ms: number }

const index = fc.nat({ max: 30 })
const key = fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined })
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'login' }),
  fc.record({ kind: fc.constant('logout' as const), s: index }),
  fc.record({ kind: fc.constant('create' as const), s: index, q: index }),
  fc.record({ kind: fc.constant('createTemp' as const), s: index }),
  { arbitrary: fc.record({ kind: fc.constant('subscribe' as const), s: index, q: index }), weight: 3 },
  fc.record({ kind: fc.constant('unsubscribe' as const), s: index, q: index }),
  { arbitrary: fc.record({ kind: fc.constant('send' as const), s: index, q: index, key, payload: fc.string({ maxLength: 4 }) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('reply' as const), s: index, q: index, key, m: index }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('transfer' as const), s: index, fromStart: fc.boolean(), max: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), s: index, m: index }), weight: 2 },
  fc.record({ kind: fc.constant('destroy' as const), s: index, q: index }),
  fc.record({ kind: fc.constant('hold' as const), s: index }),
  fc.record({ kind: fc.constant('release' as const), s: index }),
  fc.record({ kind: fc.constant('elapse' as const), ms: fc.integer({ min: 1, max: 700 }) })
)

// Two sessions and the named queues to start with, so that most random commands find something to act on.
const PRELUDE: Op[] = [
  { kind: 'login' }, { kind: 'login' }, ...NAMED.map((_, q) => ({ kind: 'create' as const, s: 0, q }))
]

interface ModelSession {
  real: Session
  alive: boolean
  subscriptions: Set<string>
  temporary: Set<string>
  lastActivity: number
  holds: number
  cursor: number
}

interface ModelQueue {
  kind: 'persistent' | 'temporary'
  owner?: ModelSession
  /** id -> payload, for the unacked messages. */
  messages: Map<number, string>
}

class Model {
  readonly sessions: ModelSession[] = []
  readonly queues = new Map<string, ModelQueue>()
  /** Every queue name ever used, so commands also aim at destroyed and ended ones. */
  readonly names = [...NAMED]
  /** Every id ever issued, so acks also aim at acked and destroyed messages. */
  readonly issued: number[] = []
  readonly keys = new Map<string, { id: number, expires: number }>()
  lastId = 0

  /** A queue name by index: named, temporary, live or not. */
  name (index: number): string {
    return this.names[index % this.names.length]
  }

  /** A message id by index: issued (acked or not), or one never issued. */
  id (index: number): number {
    const i = index % (this.issued.length + 1)
    return i === this.issued.length ? this.lastId + 1000 : this.issued[i]
  }

  /** Payload bytes of every message held. */
  bytes (): number {
    let total = 0
    for (const queue of this.queues.values()) {
      for (const payload of queue.messages.values()) total += Buffer.byteLength(payload)
    }
    return total
  }

  queueOf (id: number): ModelQueue | undefined {
    for (const queue of this.queues.values()) if (queue.messages.has(id)) return queue
    return undefined
  }

  removeQueue (name: string): void {
    const queue = this.queues.get(name)
    queue?.owner?.temporary.delete(name)
    this.queues.delete(name)
  }

  end (session: ModelSession): void {
    session.alive = false
    for (const name of session.temporary) this.queues.delete(name)
    session.temporary.clear()
  }
}

/** Another session's temporary queue: only its owner may receive from it, ack in it or destroy it. */
function foreign (queue: ModelQueue | undefined, session: ModelSession): boolean {
  return queue?.owner !== undefined && queue.owner !== session
}

async function failsWith (promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof SwitchError && error.code === code)
}

async function step (core: Switch, model: Model, op: Op, clock: Clock): Promise<void> {
  if (op.kind === 'elapse') {
    clock.advance(op.ms)
    expire(core, model, clock.now())
    return
  }
  const now = clock.now()
  if (op.kind === 'login') {
    const real = await core.login(`c${model.sessions.length}`)
    model.sessions.push({ real, alive: true, subscriptions: new Set(), temporary: new Set(), lastActivity: now, holds: 0, cursor: 0 })
    return
  }

  const session = model.sessions[op.s % model.sessions.length]
  if (!session.alive) {
    assert.throws(() => core.enter(session.real.token), (error: unknown) => error instanceof SwitchError && error.code === 'session_not_found')
    return
  }
  const real = core.enter(session.real.token)
  assert.equal(real, session.real)
  session.holds++
  try {
    await act(core, model, session, op, now)
  } finally {
    core.leave(real)
    session.holds--
    session.lastActivity = now
  }
}

async function act (core: Switch, model: Model, session: ModelSession, op: Exclude<Op, { kind: 'login' | 'elapse' }>, now: number): Promise<void> {
  const s = session.real
  const name = 'q' in op ? model.name(op.q) : ''
  const messageId = 'm' in op ? model.id(op.m) : 0
  switch (op.kind) {
    case 'logout':
      await core.logout(s)
      model.end(session)
      return
    case 'create': {
      const named = NAMED[op.q % NAMED.length]
      const existing = model.queues.get(named)
      assert.deepEqual(await core.createQueue(s, named), { name: named, kind: existing?.kind ?? 'persistent', created: existing === undefined })
      if (existing === undefined) model.queues.set(named, { kind: 'persistent', messages: new Map() })
      return
    }
    case 'createTemp': {
      if (session.temporary.size >= MAX_SESSION_QUEUES) { await failsWith(core.createTemporaryQueue(s), 'limit_exceeded'); return }
      const created = await core.createTemporaryQueue(s)
      assert.equal(created.kind, 'temporary')
      assert.ok(!model.queues.has(created.name) && !model.names.includes(created.name), 'a fresh name')
      model.queues.set(created.name, { kind: 'temporary', owner: session, messages: new Map() })
      session.temporary.add(created.name)
      model.names.push(created.name)
      return
    }
    case 'subscribe':
      if (!model.queues.has(name)) { await failsWith(core.subscribe(s, name), 'queue_not_found'); return }
      if (foreign(model.queues.get(name), session)) { await failsWith(core.subscribe(s, name), 'forbidden'); return }
      await core.subscribe(s, name)
      session.subscriptions.add(name)
      return
    case 'unsubscribe':
      await core.unsubscribe(s, name)
      session.subscriptions.delete(name)
      return
    case 'send':
    case 'reply': {
      const queue = model.queues.get(name)
      const payload = op.kind === 'send' ? op.payload : `reply to ${messageId}`
      const ack = op.kind === 'reply' ? messageId : undefined
      const sent = core.send(s, name, Buffer.from(payload), { idempotencyKey: op.key, ack })
      const request = ack === undefined ? undefined : model.queueOf(ack)
      if (queue === undefined && ack !== undefined && request !== undefined) {
        if (foreign(request, session)) { await failsWith(sent, 'forbidden'); return }
        // A reply to a queue that is gone: the request is acked, the reply dropped.
        assert.deepEqual(await sent, { dropped: true, acked: ack })
        request.messages.delete(ack)
        return
      }
      if (queue === undefined) { await failsWith(sent, 'queue_not_found'); return }
      const remembered = op.key === undefined ? undefined : model.keys.get(`${name}\u0000${op.key}`)
      if (remembered !== undefined && remembered.expires > now) {
        assert.deepEqual(await sent, { id: remembered.id, duplicate: true }, 'an idempotent retry enqueues nothing')
        return
      }
      if (ack !== undefined && request === undefined) { await failsWith(sent, 'message_not_found'); return }
      if (foreign(request, session)) { await failsWith(sent, 'forbidden'); return }
      if (queue.messages.size >= MAX_QUEUE_LENGTH || model.bytes() + Buffer.byteLength(payload) > MAX_QUEUED_BYTES) {
        await failsWith(sent, 'insufficient_storage')
        return
      }
      const id = ++model.lastId
      assert.deepEqual(await sent, { id, duplicate: false }, 'ids count up by one per enqueued message')
      model.issued.push(id)
      queue.messages.set(id, payload)
      if (op.key !== undefined) model.keys.set(`${name}\u0000${op.key}`, { id, expires: now + WINDOW })
      if (ack !== undefined) request?.messages.delete(ack)
      return
    }
    case 'transfer': {
      const after = op.fromStart ? 0 : session.cursor
      const expected: Array<{ id: number, queue: string, payload: string }> = []
      for (const subscribed of session.subscriptions) {
        for (const [id, payload] of model.queues.get(subscribed)?.messages ?? []) {
          if (id > after) expected.push({ id, queue: subscribed, payload })
        }
      }
      expected.sort((x, y) => x.id - y.id)
      expected.length = Math.min(expected.length, op.max ?? Infinity)
      const result = await core.transfer(s, { after, timeout: 0, max: op.max })
      const got = result.messages.map((m) => ({ id: m.id, queue: m.queue, payload: m.payload.toString() }))
      assert.equal(new Set(got.map((m) => m.id)).size, got.length, 'one transfer never returns a message twice')
      assert.deepEqual(got, expected, 'every unacked message of a subscribed queue, in id order, from the cursor')
      assert.equal(result.next, expected.length === 0 ? after : expected[expected.length - 1].id)
      session.cursor = result.next
      return
    }
    case 'ack': {
      const queue = model.queueOf(messageId)
      if (queue === undefined) { await failsWith(core.ack(s, messageId), 'message_not_found'); return }
      if (foreign(queue, session)) { await failsWith(core.ack(s, messageId), 'forbidden'); return }
      await core.ack(s, messageId)
      queue.messages.delete(messageId)
      return
    }
    case 'destroy':
      if (!model.queues.has(name)) { await failsWith(core.destroy(s, name), 'queue_not_found'); return }
      if (foreign(model.queues.get(name), session)) { await failsWith(core.destroy(s, name), 'forbidden'); return }
      await core.destroy(s, name)
      model.removeQueue(name)
      return
    case 'hold':
      core.enter(s.token) // a request left in flight: its lease holds
      session.holds++
      return
    case 'release':
      if (session.holds > 1) { // beyond this command's own
        core.leave(s)
        session.holds--
      }
  }
}

function expire (core: Switch, model: Model, now: number): void {
  // The switch's own sweep timer runs too, but reads the same clock, which moves only here.
  core.sweep()
  for (const session of model.sessions) {
    if (session.alive && session.holds === 0 && now - session.lastActivity > TTL) model.end(session)
  }
}

function compare (core: Switch, model: Model): void {
  const listed = core.list('', false)
  const expected = [...model.queues].map(([name, queue]) => ({ name, kind: queue.kind, length: queue.messages.size }))
  expected.sort((x, y) => x.name < y.name ? -1 : 1)
  assert.deepEqual(listed.map((q) => ({ name: q.name, kind: q.kind, length: q.length })), expected)
  for (const session of model.sessions) {
    if (session.alive) continue
    for (const name of session.real.queues) {
      assert.ok(!listed.some((q) => q.name === name), 'a temporary queue is gone once its session ended')
    }
  }
  const diagnostics = core.diagnostics()
  assert.equal(diagnostics.sessions.length, model.sessions.filter((session) => session.alive).length)
  assert.equal(diagnostics.limits?.queuedBytes.used, model.bytes(), 'the byte count follows every change')
  assert.equal(diagnostics.limits?.queues.used, model.queues.size)
}

t.test('the core behaves like its reference model', async (t) => {
  const switches: Switch[] = []
  t.teardown(async () => { await Promise.all(switches.map(async (core) => { await core.close() })) })
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 5, maxLength: 50, size: 'max' }), async (ops) => {
      const clock = manualClock()
      const core = new Switch({
        now: clock.now,
        sessionTtl: TTL,
        idempotencyWindow: WINDOW,
        maxTransfer: 100,
        maxQueueLength: MAX_QUEUE_LENGTH,
        maxQueuedBytes: MAX_QUEUED_BYTES,
        maxSessionQueues: MAX_SESSION_QUEUES
      })
      switches.push(core)
      try {
        const model = new Model()
        for (const op of [...PRELUDE, ...ops]) {
          await step(core, model, op, clock)
          compare(core, model)
        }
      } finally {
        await core.close()
      }
    }),
    { numRuns: 200, seed: seedFor(t, 1) }
  )
  t.pass('200 random command sequences matched the model')
})
