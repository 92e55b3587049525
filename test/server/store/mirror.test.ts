// Random changes, several at once (so they share a transaction), some of whose transactions fail: after every
// step the switch's memory must be exactly what its store holds. Nothing of a failed change may stay, nothing
// answered as done may be missing, and ids only grow.
import assert from 'node:assert/strict'
import t from 'tap'
import { seedFor } from '../../seed.js'
import fc from 'fast-check'
import { SwitchError } from '../../../server/core/errors.js'
import type { Session } from '../../../server/core/session.js'
import { Switch } from '../../../server/core/switch.js'
import { SqliteStore } from '../../../server/store/sqlite.js'
import type { Store } from '../../../server/store/store.js'
import { tempDir } from './fixtures.js'

const NAMES = ['a', 'b', 'c']
const TOPICS = ['x', 'x/y', 'z']
const FILTERS = ['x', 'x/#', '+/y', '#']

type Op =
  | { kind: 'login' }
  | { kind: 'logout', s: number }
  | { kind: 'create', q: number }
  | { kind: 'createTemp', s: number }
  | { kind: 'subscribe', s: number, q: number }
  | { kind: 'unsubscribe', s: number, q: number }
  | { kind: 'send', s: number, q: number, key: string | undefined }
  | { kind: 'reply', s: number, q: number, m: number }
  | { kind: 'ack', s: number, m: number }
  | { kind: 'destroy', q: number }
  | { kind: 'publish', s: number, topic: number, retain: boolean, empty: boolean, key: string | undefined }
  | { kind: 'bind', s: number, q: number, filter: number }
  | { kind: 'unbind', q: number, filter: number }

const index = fc.nat({ max: 20 })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'login' }),
  fc.record({ kind: fc.constant('logout' as const), s: index }),
  fc.record({ kind: fc.constant('create' as const), q: index }),
  fc.record({ kind: fc.constant('createTemp' as const), s: index }),
  fc.record({ kind: fc.constant('subscribe' as const), s: index, q: index }),
  fc.record({ kind: fc.constant('unsubscribe' as const), s: index, q: index }),
  { arbitrary: fc.record({ kind: fc.constant('send' as const), s: index, q: index, key: fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('reply' as const), s: index, q: index, m: index }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), s: index, m: index }), weight: 2 },
  fc.record({ kind: fc.constant('destroy' as const), q: index }),
  {
    arbitrary: fc.record({
      kind: fc.constant('publish' as const), s: index, topic: index, retain: fc.boolean(), empty: fc.boolean(),
      key: fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined })
    }),
    weight: 3
  },
  { arbitrary: fc.record({ kind: fc.constant('bind' as const), s: index, q: index, filter: index }), weight: 2 },
  fc.record({ kind: fc.constant('unbind' as const), q: index, filter: index })
)
/** Changes started in one turn, and whether the transaction they land in fails. */
const step = fc.record({ ops: fc.array(op, { minLength: 1, maxLength: 4 }), fail: fc.boolean() })

class Run {
  readonly sessions: Session[] = []
  readonly names = [...NAMES]
  readonly ids: number[] = []
  lastId = 0

  constructor (readonly core: Switch) {}

  pick<T> (list: T[], i: number): T | undefined {
    return list.length === 0 ? undefined : list[i % list.length]
  }

  async apply (op: Op): Promise<void> {
    const { core } = this
    if (op.kind === 'login') { this.sessions.push(await core.login(`c${this.sessions.length}`)); return }
    if (op.kind === 'create') { await core.createQueue(this.sessions[0], NAMES[op.q % NAMES.length]); return }
    if (op.kind === 'destroy') { await core.destroy(undefined, this.names[op.q % this.names.length]); return }
    if (op.kind === 'unbind') { await core.unbind(undefined, this.names[op.q % this.names.length], FILTERS[op.filter % FILTERS.length]); return }
    const session = this.pick(this.sessions, op.s)
    if (session === undefined || !core.isCurrent(session)) return
    const name = 'q' in op ? this.names[op.q % this.names.length] : ''
    const id = 'm' in op ? this.pick(this.ids, op.m) ?? 0 : 0
    switch (op.kind) {
      case 'logout': await core.logout(session); return
      case 'createTemp': this.names.push((await core.createTemporaryQueue(session)).name); return
      case 'subscribe': await core.subscribe(session, name); return
      case 'unsubscribe': await core.unsubscribe(session, name); return
      case 'ack': await core.ack(session, id); return
      case 'bind': await core.bind(session, name, FILTERS[op.filter % FILTERS.length]); return
      case 'publish': {
        const payload = op.empty ? Buffer.alloc(0) : Buffer.from(`publish ${this.ids.length}`)
        const published = await core.publish(session, TOPICS[op.topic % TOPICS.length], payload, { retain: op.retain, idempotencyKey: op.key })
        if (!published.duplicate) this.ids.push(...published.ids)
        return
      }
      case 'send':
      case 'reply': {
        const sent = await core.send(session, name, Buffer.from(`${op.kind} ${this.ids.length}`), op.kind === 'send' ? { idempotencyKey: op.key } : { ack: id })
        // A reply to a queue that is gone acks its request and makes no message.
        if ('dropped' in sent) return
        if (!sent.duplicate) {
          if (sent.id <= this.lastId) throw new Error(`id ${sent.id} after ${this.lastId}`)
          this.lastId = sent.id
          this.ids.push(sent.id)
        }
      }
    }
  }
}

/** What a switch shows of its state, without what is live only (leases, long-polls, poll times). */
function view (core: Switch): unknown {
  const { queues, sessions, retained } = core.diagnostics()
  return {
    queues: queues.map((q) => [q.name, q.kind, q.owner, q.bindings, q.messages.map((m) => [m.id, m.preview, m.origin, m.replyTo])]).sort(),
    retained,
    sessions: sessions.map((s) => [s.id, s.client, [...s.subscriptions].sort(), [...s.queues].sort()]).sort()
  }
}

/** A switch started from what `store` holds now. */
async function fromDisk (store: SqliteStore): Promise<Switch> {
  const reader: Store = { kind: 'reader', load: () => store.load(), write: () => undefined, close: async () => {} }
  return await Switch.open({ store: reader })
}

t.test('memory is what the store holds, whatever fails', async (t) => {
  const outcomes = { done: 0, refused: 0, failed: 0 }
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
    let failNext = false
    const store = new SqliteStore(tempDir(t), {
      beforeCommit: () => {
        if (!failNext) return
        failNext = false
        throw new Error('disk I/O error')
      }
    })
    const core = await Switch.open({ store })
    try {
      const run = new Run(core)
      await run.apply({ kind: 'login' })
      for (const { ops, fail } of steps) {
        failNext = fail
        const results = await Promise.allSettled(ops.map(async (o) => { await run.apply(o) }))
        for (const result of results) {
          if (result.status === 'fulfilled') outcomes.done++
          else if (!(result.reason instanceof SwitchError)) throw result.reason
          else if (result.reason.code === 'storage_failed') outcomes.failed++
          else outcomes.refused++
        }
        const disk = await fromDisk(store)
        assert.deepEqual(view(core), view(disk))
        await disk.close()
      }
    } finally {
      await core.close()
    }
  }), { numRuns: 100, seed: seedFor(t, 1) })
  t.ok(outcomes.done > 0 && outcomes.failed > 0, `changes done ${outcomes.done}, refused ${outcomes.refused}, failed in storage ${outcomes.failed}`)
})
