// The limits on what the switch holds: each refuses with a clear error once reached, frees up as things go, and
// is reported with its use in diagnostics.
import t from 'tap'
import { InsufficientStorageError, LimitExceededError, StorageFailedError } from '../../../server/core/errors.js'
import { DEFAULT_LIMITS } from '../../../server/core/limits.js'
import { Switch } from '../../../server/core/switch.js'
import { SqliteStore } from '../../../server/store/sqlite.js'
import { tempDir } from '../store/fixtures.js'
import { startCore, watch } from './fixtures.js'

const bytes = (n: number): Buffer => Buffer.alloc(n, 'x')

t.test('the defaults are the documented ones', async (t) => {
  t.same(DEFAULT_LIMITS, {
    maxQueues: 100_000, maxSessionQueues: 100, maxQueueLength: 1_000_000, maxQueuedBytes: 256 * 1024 * 1024, maxSessionPolls: 100
  })
  const core = startCore(t)
  t.same(core.diagnostics().limits, {
    payload: { limit: 1024 * 1024 },
    queues: { limit: 100_000, used: 0 },
    sessionQueues: { limit: 100, used: 0 },
    queueLength: { limit: 1_000_000, used: 0 },
    queuedBytes: { limit: 256 * 1024 * 1024, used: 0 },
    sessionPolls: { limit: 100, used: 0 },
    transfer: { limit: 1000 },
    answerBytes: { limit: 4 * 1024 * 1024 },
    timeout: { limit: 300 }
  })
})

t.test('maxQueues counts persistent and temporary queues; a destroyed one frees its place', async (t) => {
  const core = startCore(t, { maxQueues: 2 })
  const s = await core.login('c')
  await core.createQueue(s, 'a')
  const { name } = await core.createTemporaryQueue(s)
  await t.rejects(core.createQueue(s, 'b'), LimitExceededError)
  await t.rejects(core.createTemporaryQueue(s), { code: 'limit_exceeded', message: /holds 2 queues.*maxQueues/ })
  t.same(await core.createQueue(s, 'a'), { name: 'a', kind: 'persistent', created: false }, 'an existing queue is no new one')
  t.match(core.diagnostics().limits, { queues: { limit: 2, used: 2 } })
  await core.destroy(s, name)
  t.ok((await core.createQueue(s, 'b')).created)
  t.same(core.list('', false).map((q) => q.name), ['a', 'b'])
})

t.test('maxSessionQueues is per session and frees up with its queues', async (t) => {
  const core = startCore(t, { maxSessionQueues: 2 })
  const first = await core.login('first')
  const other = await core.login('other')
  const { name } = await core.createTemporaryQueue(first)
  await core.createTemporaryQueue(first)
  await t.rejects(core.createTemporaryQueue(first), { code: 'limit_exceeded', message: /owns 2 temporary queues/ })
  t.ok((await core.createTemporaryQueue(other)).created, 'another session has its own allowance')
  t.ok((await core.createQueue(first, 'persistent')).created, 'persistent queues are not counted')
  t.match(core.diagnostics().limits, { sessionQueues: { limit: 2, used: 2 } })
  await core.destroy(first, name)
  t.ok((await core.createTemporaryQueue(first)).created)
})

t.test('maxQueueLength refuses the send with insufficient_storage until an ack makes room', async (t) => {
  const core = startCore(t, { maxQueueLength: 2 })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.createQueue(s, 'other')
  const first = await core.send(s, 'q', bytes(1))
  await core.send(s, 'q', bytes(1), { idempotencyKey: 'k' })
  await t.rejects(core.send(s, 'q', bytes(1)), InsufficientStorageError)
  await t.rejects(core.send(s, 'q', bytes(1)), { code: 'insufficient_storage', message: /queue "q" holds 2 unacked messages/ })
  t.same(await core.send(s, 'q', bytes(1), { idempotencyKey: 'k' }), { id: 2, duplicate: true }, 'a retry of an accepted send still answers')
  await core.send(s, 'other', bytes(1))
  t.match(core.diagnostics().limits, { queueLength: { limit: 2, used: 2 } })
  await core.ack(s, first.id)
  t.same(await core.send(s, 'q', bytes(1)), { id: 4, duplicate: false }, 'no id was spent on the refusals')
})

t.test('maxQueuedBytes counts every queue and follows acks, replies, destroys and session ends', async (t) => {
  const core = startCore(t, { maxQueuedBytes: 100 })
  const s = await core.login('c')
  await core.createQueue(s, 'a')
  await core.createQueue(s, 'b')
  const used = (): number | undefined => core.diagnostics().limits?.queuedBytes.used

  const request = await core.send(s, 'a', bytes(60))
  await t.rejects(core.send(s, 'b', bytes(41)), { code: 'insufficient_storage', message: /holds 60 bytes of messages and may hold 100/ })
  await core.send(s, 'b', bytes(40))
  t.equal(used(), 100, 'exactly the limit')
  await t.rejects(core.send(s, 'b', bytes(1)), InsufficientStorageError)
  t.same(await core.send(s, 'b', bytes(0)), { id: 3, duplicate: false }, 'an empty payload takes no room')

  await core.ack(s, request.id)
  t.equal(used(), 40)
  await core.send(s, 'a', bytes(10), { ack: 2 })
  t.equal(used(), 10, 'a reply-and-ack frees the acked message')
  await core.destroy(s, 'a')
  t.equal(used(), 0, 'a destroyed queue frees its messages')

  const owner = await core.login('owner')
  const { name } = await core.createTemporaryQueue(owner)
  await core.send(s, name, bytes(70))
  t.equal(used(), 70)
  await core.logout(owner)
  t.equal(used(), 0, 'a temporary queue ended with its session frees its messages')
})

t.test('maxQueuedBytes is restored from the store and survives a rolled-back send', async (t) => {
  const dir = tempDir(t)
  let full = false
  const store = (): SqliteStore => new SqliteStore(dir, {
    beforeCommit: () => { if (full) throw new Error('disk full') }
  })
  const first = await Switch.open({ store: store(), maxQueuedBytes: 100 })
  const s = await first.login('c')
  await first.createQueue(s, 'q')
  await first.send(s, 'q', bytes(30))
  full = true
  await t.rejects(first.send(s, 'q', bytes(50)), StorageFailedError)
  full = false
  t.equal(first.diagnostics().limits?.queuedBytes.used, 30, 'the failed send is not counted')
  await first.close()

  const second = await Switch.open({ store: store(), maxQueuedBytes: 100 })
  t.teardown(() => second.close())
  t.equal(second.diagnostics().limits?.queuedBytes.used, 30, 'counted again at start-up')
  const again = await second.login('c')
  await t.rejects(second.send(again, 'q', bytes(71)), InsufficientStorageError)
  t.ok(await second.send(again, 'q', bytes(70)))
})

t.test('maxSessionPolls refuses one long-poll too many; a poll that need not wait is not counted', async (t) => {
  const core = startCore(t, { maxSessionPolls: 2 })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  const controller = new AbortController()
  const polls = [1, 2].map(() => watch(core.transfer(s, { after: 0, timeout: 60_000, signal: controller.signal })))
  t.match(core.diagnostics().limits, { sessionPolls: { limit: 2, used: 2 } })
  await t.rejects(core.transfer(s, { after: 0, timeout: 60_000 }), { code: 'limit_exceeded', message: /2 long-polls waiting/ })
  t.same(await core.transfer(s, { after: 0, timeout: 0 }), { messages: [], next: 0 }, 'a poll that does not wait is answered')
  const other = await core.login('other')
  const elsewhere = watch(core.transfer(other, { after: 0, timeout: 60_000, signal: controller.signal }))
  t.notOk(polls.some((poll) => poll.done) || elsewhere.done, 'all still waiting')

  await core.send(s, 'q', bytes(1))
  t.equal((await polls[0].promise).messages.length, 1)
  await polls[1].promise
  t.match(core.diagnostics().limits, { sessionPolls: { used: 1 } }, 'only the other session waits now')
  const again = watch(core.transfer(s, { after: 1, timeout: 60_000, signal: controller.signal }))
  controller.abort()
  t.same((await again.promise).messages, [])
  await elsewhere.promise
})
