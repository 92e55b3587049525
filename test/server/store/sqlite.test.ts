import t, { type Test } from 'tap'
import { SqliteStore, type SqliteStoreOptions } from '../../../server/store/sqlite.js'
import type { Snapshot, StoreRecord } from '../../../server/store/store.js'
import { message, tempDir } from './fixtures.js'

function open (t: Test, dir: string, options?: SqliteStoreOptions): SqliteStore {
  const store = new SqliteStore(dir, options)
  t.teardown(() => store.close())
  return store
}

/** Writes the records in one turn and waits for them all. */
async function writeAll (store: SqliteStore, records: StoreRecord[]): Promise<void> {
  await Promise.all(records.map((record) => store.write(record)))
}

t.test('every kind of record comes back, also after reopening', async (t) => {
  const dir = tempDir(t)
  const store = open(t, dir)
  t.same((await store.load()), { lastId: 0, sessions: [], queues: [], messages: [], idempotencyKeys: [], bindings: [], retained: [], publishKeys: [] }, 'a new store is empty')

  const binary = Buffer.from([0, 255, 1, 254])
  await writeAll(store, [
    { type: 'session', token: 'tok-a', client: 'alice', principal: 'anonymous' },
    { type: 'session', token: 'tok-b', client: 'bob', principal: 'ops' },
    { type: 'queue', name: 'svc', kind: 'persistent' },
    { type: 'queue', name: 'gone', kind: 'persistent' },
    { type: 'queue', name: 'tmp-a', kind: 'temporary', owner: 'tok-a' },
    { type: 'queue', name: 'tmp-b', kind: 'temporary', owner: 'tok-b' },
    { type: 'subscribe', token: 'tok-a', queue: 'tmp-a' },
    { type: 'subscribe', token: 'tok-a', queue: 'svc' },
    { type: 'subscribe', token: 'tok-b', queue: 'svc' },
    { type: 'send', message: message(1, 'svc', 'request', { correlationId: 'c1', replyTo: 'tmp-a' }), idempotencyKey: 'k1', idempotencyExpires: 99_999 },
    { type: 'send', message: message(2, 'svc', binary, { error: true }) },
    { type: 'send', message: message(3, 'gone', 'lost with its queue') },
    { type: 'send', message: message(4, 'tmp-b', 'lost with its owner') },
    { type: 'send', message: message(5, 'svc', 'acked') }
  ])
  await writeAll(store, [
    { type: 'send', message: message(6, 'tmp-a', 'reply', { correlationId: 'c1' }), ack: 1 },
    { type: 'ack', id: 5 },
    { type: 'unsubscribe', token: 'tok-a', queue: 'svc' },
    { type: 'destroy', name: 'gone' },
    { type: 'session_end', token: 'tok-b' },
    // A request that still held bob's ended session: its subscription ends with the session.
    { type: 'subscribe', token: 'tok-b', queue: 'tmp-a' }
  ])

  const expected: Snapshot = {
    lastId: 6,
    sessions: [{ token: 'tok-a', client: 'alice', principal: 'anonymous', subscriptions: ['tmp-a'] }],
    queues: [{ name: 'svc', kind: 'persistent' }, { name: 'tmp-a', kind: 'temporary', owner: 'tok-a' }],
    messages: [message(2, 'svc', binary, { error: true }), message(6, 'tmp-a', 'reply', { correlationId: 'c1' })],
    idempotencyKeys: [{ queue: 'svc', key: 'k1', id: 1, expires: 99_999 }],
    bindings: [],
    retained: [],
    publishKeys: []
  }
  const sorted = (snapshot: Snapshot): Snapshot => ({ ...snapshot, queues: [...snapshot.queues].sort((a, b) => a.name.localeCompare(b.name)) })
  t.same(sorted((await store.load())), sorted(expected))
  await store.write({ type: 'session', token: 'tok-b', client: 'bob', principal: 'ops' })
  t.same((await store.load()).sessions[1], { token: 'tok-b', client: 'bob', principal: 'ops', subscriptions: [] }, 'a session with the same token starts afresh, with its principal')
  await store.write({ type: 'session_end', token: 'tok-b' })
  await store.close()
  t.same(sorted((await open(t, dir).load())), sorted(expected), 'the same after closing and opening again')
})

t.test('writes of one turn share one transaction; later turns get their own', async (t) => {
  const batches: number[] = []
  const store = open(t, tempDir(t), { beforeCommit: (records) => { batches.push(records) } })
  const writes: Array<Promise<void>> = []
  for (let id = 1; id <= 100; id++) writes.push(store.write({ type: 'send', message: message(id, 'q', `m${id}`) }))
  t.equal(new Set(writes).size, 1, 'the writes of a batch share its promise: nothing allocated per write')
  await Promise.all(writes)
  t.same(batches, [100])
  await store.write({ type: 'ack', id: 1 })
  await store.write({ type: 'ack', id: 2 })
  t.same(batches, [100, 1, 1])
  t.equal((await store.load()).lastId, 100)
})

t.test('a failed batch leaves nothing behind, and the next one commits', async (t) => {
  let failing = true
  const store = open(t, tempDir(t), {
    beforeCommit: () => { if (failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) }
  })
  failing = false
  await store.write({ type: 'queue', name: 'q', kind: 'persistent' })
  const before = (await store.load())
  failing = true
  const first = store.write({ type: 'send', message: message(1, 'q', 'one') })
  const second = store.write({ type: 'ack', id: 1 })
  await t.rejects(first, { message: 'database or disk is full' })
  await t.rejects(second, { message: 'database or disk is full' }, 'every write of the batch fails')
  t.same((await store.load()), before, 'nothing of the batch is stored, not even the last id')
  failing = false
  await store.write({ type: 'send', message: message(2, 'q', 'two') })
  t.same((await store.load()).messages.map((m) => m.id), [2])
  t.equal((await store.load()).lastId, 2)
})

t.test('closing commits what was written; writing after closing fails', async (t) => {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  const pending = store.write({ type: 'session', token: 'tok', client: 'c', principal: 'anonymous' })
  await store.close()
  await pending
  await t.rejects(store.write({ type: 'ack', id: 1 }), { code: 'store_closed' })
  await store.close()
  t.same((await open(t, dir).load()).sessions, [{ token: 'tok', client: 'c', principal: 'anonymous', subscriptions: [] }])
})

t.test('the last id survives the messages it numbered', async (t) => {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  await store.write({ type: 'send', message: message(41, 'q', 'x') })
  await store.write({ type: 'ack', id: 41 })
  await store.close()
  const again = (await open(t, dir).load())
  t.equal(again.lastId, 41)
  t.same(again.messages, [])
})

t.test('a keyed send forgets the keys that lapsed before it', async (t) => {
  const store = open(t, tempDir(t))
  await store.write({ type: 'send', message: message(1, 'q', 'a', { time: 100 }), idempotencyKey: 'old', idempotencyExpires: 150 })
  await store.write({ type: 'send', message: message(2, 'q', 'b', { time: 120 }), idempotencyKey: 'young', idempotencyExpires: 500 })
  t.same((await store.load()).idempotencyKeys.map((entry) => entry.key), ['old', 'young'])
  await store.write({ type: 'send', message: message(3, 'q', 'c', { time: 200 }), idempotencyKey: 'new', idempotencyExpires: 600 })
  t.same((await store.load()).idempotencyKeys.map((entry) => entry.key), ['young', 'new'])
})

t.test('keys lapse from the oldest made: one made after the clock stepped back waits for those before it', async (t) => {
  const store = open(t, tempDir(t))
  await store.write({ type: 'send', message: message(1, 'q', 'a', { time: 100 }), idempotencyKey: 'first', idempotencyExpires: 500 })
  await store.write({ type: 'send', message: message(2, 'q', 'b', { time: 50 }), idempotencyKey: 'stepped-back', idempotencyExpires: 150 })
  await store.write({ type: 'send', message: message(3, 'q', 'c', { time: 200 }), idempotencyKey: 'later', idempotencyExpires: 600 })
  t.same((await store.load()).idempotencyKeys.map((entry) => entry.key), ['first', 'stepped-back', 'later'],
    'kept behind a key still in its window, in the order made (the switch skips a lapsed one as it reads them back)')
  await store.write({ type: 'send', message: message(4, 'q', 'd', { time: 550 }), idempotencyKey: 'last', idempotencyExpires: 1000 })
  t.same((await store.load()).idempotencyKeys.map((entry) => entry.key), ['later', 'last'], 'then they go together')
})
