import t from 'tap'
import {
  InvalidQueueNameError,
  MessageNotFoundError,
  PayloadTooLargeError,
  QueueNotFoundError,
  ShuttingDownError
} from '../../../server/core/errors.js'
import type { SendResponse } from '../../../protocol/wire.js'
import { manualClock, startCore } from './fixtures.js'

t.test('createQueue is idempotent and says whether it created', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  t.same(await core.createQueue(s, 'org.xen.xapi'), { name: 'org.xen.xapi', kind: 'persistent', created: true })
  t.same(await core.createQueue(s, 'org.xen.xapi'), { name: 'org.xen.xapi', kind: 'persistent', created: false })
  const { name } = await core.createTemporaryQueue(s)
  t.same(await core.createQueue(s, name), { name, kind: 'temporary', created: false }, 'an existing temporary queue')
  t.equal(core.list('', false).length, 2)
})

t.test('createQueue refuses invalid names', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  const invalid = ['', 'x'.repeat(201), 'has space', 'semi;colon', 'ü', 'a?b', 'a#b', '.hidden', '/rooted', 'tab\t']
  for (const name of invalid) {
    await t.rejects(core.createQueue(s, name), InvalidQueueNameError, JSON.stringify(name))
  }
  const valid = ['x'.repeat(200), 'A-Z_a:z@0/9.x', 'client-3:7', '_', '-', 'a/b/c', 'a.']
  for (const name of valid) t.ok((await core.createQueue(s, name)).created, JSON.stringify(name))
  t.equal(core.list('', false).length, valid.length)
})

t.test('createQueue and send refuse once shutting down', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  core.shutdown()
  await t.rejects(core.createQueue(s, 'r'), ShuttingDownError)
  await t.rejects(core.createTemporaryQueue(s), ShuttingDownError)
  await t.rejects(core.send(s, 'q', Buffer.from('x')), ShuttingDownError)
})

t.test('send: ids strictly increase across queues', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'a')
  await core.createQueue(s, 'b')
  const ids: number[] = []
  for (let i = 0; i < 10; i++) {
    const result = await core.send(s, i % 3 === 0 ? 'a' : 'b', Buffer.from(String(i)))
    t.equal(result.duplicate, false)
    ids.push(result.id)
  }
  t.same(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

t.test('send refuses a missing queue, an oversized payload and a bad replyTo, and enqueues nothing', async (t) => {
  const core = startCore(t, { maxPayload: 8 })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await t.rejects(core.send(s, 'nope', Buffer.from('x')), QueueNotFoundError)
  await t.rejects(core.send(s, 'q', Buffer.alloc(9)), PayloadTooLargeError)
  await t.rejects(core.send(s, 'q', Buffer.from('x'), { replyTo: '/bad' }), InvalidQueueNameError)
  t.equal(core.list('q', false)[0].length, 0)
  t.same(await core.send(s, 'q', Buffer.alloc(8)), { id: 1, duplicate: false }, 'no id was used up; exactly the limit fits')
})

t.test('send keeps the payload and its metadata', async (t) => {
  const core = startCore(t)
  const s = await core.login('sender')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  await core.send(s, 'q', Buffer.from([0xff, 0x00]), { correlationId: 'c-1', replyTo: 'back', error: true })
  const [message] = (await core.transfer(s, { after: 0, timeout: 0 })).messages
  t.match(message, { id: 1, queue: 'q', correlationId: 'c-1', replyTo: 'back', error: true, origin: 'sender' })
  t.same([...message.payload], [0xff, 0x00])
})

t.test('an idempotency key returns the first id, enqueues nothing, per queue, within the window', async (t) => {
  const clock = manualClock()
  const core = startCore(t, { now: clock.now, idempotencyWindow: 1000 })
  const s = await core.login('c')
  await core.createQueue(s, 'a')
  await core.createQueue(s, 'b')
  const first = await core.send(s, 'a', Buffer.from('1'), { idempotencyKey: 'k' })
  t.same(first, { id: 1, duplicate: false })
  clock.advance(999)
  t.same(await core.send(s, 'a', Buffer.from('retry'), { idempotencyKey: 'k' }), { id: 1, duplicate: true })
  t.equal(core.list('a', false)[0].length, 1, 'the retry enqueued nothing')
  t.same(await core.send(s, 'b', Buffer.from('1'), { idempotencyKey: 'k' }), { id: 2, duplicate: false }, 'keys are per queue')
  t.same(await core.send(s, 'a', Buffer.from('1'), { idempotencyKey: 'other' }), { id: 3, duplicate: false })
  t.same(await core.send(s, 'a', Buffer.from('1')), { id: 4, duplicate: false }, 'no key, no deduplication')

  clock.advance(1) // the first send of k on a is now exactly one window old
  t.same(await core.send(s, 'a', Buffer.from('again'), { idempotencyKey: 'k' }), { id: 5, duplicate: false })
  t.same(await core.send(s, 'a', Buffer.from('again'), { idempotencyKey: 'k' }), { id: 5, duplicate: true }, 'the new send is remembered')
  core.sweep() // pruning keeps what is still inside its window
  t.same(await core.send(s, 'a', Buffer.from('again'), { idempotencyKey: 'k' }), { id: 5, duplicate: true })
  t.same(await core.send(s, 'b', Buffer.from('1'), { idempotencyKey: 'k' }), { id: 2, duplicate: true })
  t.equal(core.list('a', false)[0].length, 4)
})

t.test('an idempotent retry of a reply-and-ack is a duplicate, not a missing-message error', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'requests')
  await core.createQueue(s, 'replies')
  const request = await core.send(s, 'requests', Buffer.from('req'))
  const reply = await core.send(s, 'replies', Buffer.from('rep'), { ack: request.id, idempotencyKey: 'r1' }) as SendResponse
  t.same(await core.send(s, 'replies', Buffer.from('rep'), { ack: request.id, idempotencyKey: 'r1' }), { id: reply.id, duplicate: true })
})

t.test('reply-and-ack: a send with ack removes the acked message in the same step', async (t) => {
  const core = startCore(t)
  const server = await core.login('server')
  await core.createQueue(server, 'svc')
  await core.createQueue(server, 'replies')
  await core.subscribe(server, 'svc')
  const request = await core.send(server, 'svc', Buffer.from('request'))
  const reply = await core.send(server, 'replies', Buffer.from('reply'), { ack: request.id, correlationId: 'c' }) as SendResponse
  t.equal(reply.duplicate, false)
  t.same(await core.transfer(server, { after: 0, timeout: 0 }), { messages: [], next: 0 }, 'the request is gone')
  t.same(core.list('', false).map((q) => [q.name, q.length]), [['replies', 1], ['svc', 0]])
  await t.rejects(core.ack(server, request.id), MessageNotFoundError)
  const acks = core.trace.since(0, 100).filter((event) => event.type === 'ack')
  t.match(acks, [{ messageId: request.id, queue: 'svc', client: 'server' }])
  t.type(acks[0].processingTime, 'number')
})

t.test('reply-and-ack with an unknown id fails and enqueues nothing', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await t.rejects(core.send(s, 'q', Buffer.from('x'), { ack: 42 }), MessageNotFoundError)
  t.equal(core.list('q', false)[0].length, 0)
  const { id } = await core.send(s, 'q', Buffer.from('x'))
  t.equal(id, 1, 'the failed send used no id')
})

t.test('a reply to a caller that is gone acks its request, drops the reply, and traces and counts the drop', async (t) => {
  const core = startCore(t)
  const server = await core.login('server')
  const caller = await core.login('caller')
  await core.createQueue(server, 'svc')
  await core.subscribe(server, 'svc')
  const { name: replies } = await core.createTemporaryQueue(caller)
  const request = await core.send(caller, 'svc', Buffer.from('ping'), { replyTo: replies, correlationId: 'c9' })
  await core.logout(caller)
  const mark = core.trace.lastId
  t.same(await core.send(server, replies, Buffer.from('pong'), { ack: request.id, correlationId: 'c9' }), { dropped: true, acked: request.id })
  t.match(core.trace.since(mark, 10), [
    { type: 'ack', messageId: request.id, queue: 'svc', client: 'server' },
    { type: 'drop', queue: replies, client: 'server', correlationId: 'c9' }
  ])
  t.equal(core.trace.lastId, mark + 2, 'no send event: nothing was sent')
  t.equal(core.diagnostics().dropped, 1)
  t.same(await core.transfer(server, { after: 0, timeout: 0 }), { messages: [], next: 0 }, 'the request is not delivered again')
  t.same(core.list('', false).map((q) => q.name), ['svc'], 'no queue was made for the reply')
  await t.rejects(core.send(server, replies, Buffer.from('pong'), { ack: request.id }), QueueNotFoundError,
    'a second reply finds neither queue nor request')
  await t.rejects(core.send(server, 'nowhere!', Buffer.from('pong'), { ack: 1 }), InvalidQueueNameError, 'a bad name is still refused')
  t.equal(core.diagnostics().dropped, 1)
  const { id } = await core.send(server, 'svc', Buffer.from('next'))
  t.equal(id, request.id + 1, 'the drop spent no id')
})

t.test('send, destroy and queueInfo refuse an invalid name, whether or not it exists', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  for (const name of ['bad name!', '', '.hidden', 'x'.repeat(201)]) {
    await t.rejects(core.send(s, name, Buffer.from('x')), { code: 'invalid_queue_name', field: 'name' }, `send ${name.slice(0, 10)}`)
    await t.rejects(core.destroy(s, name), { code: 'invalid_queue_name', field: 'name' })
    t.throws(() => core.queueInfo(name), { code: 'invalid_queue_name', field: 'name' })
  }
  t.throws(() => core.queueInfo('missing'), QueueNotFoundError)
})

t.test('queueInfo is the queue\'s entry of list, found without listing', async (t) => {
  const core = startCore(t)
  const s = await core.login('owner')
  await core.createQueue(s, 'a')
  await core.createQueue(s, 'ab')
  await core.bind(s, 'ab', 'x/#')
  const { name: temporary } = await core.createTemporaryQueue(s)
  await core.send(s, 'ab', Buffer.from('x'))
  await core.subscribe(s, 'a')
  const polling = core.transfer(s, { after: 0, timeout: 60_000 })
  for (const name of ['a', 'ab', temporary]) t.same(core.queueInfo(name), core.list('', false).find((q) => q.name === name))
  t.match(core.queueInfo('a'), { alive: true })
  t.match(core.queueInfo(temporary), { kind: 'temporary', owner: 'owner', alive: false })
  t.match(core.queueInfo('ab'), { length: 1, bindings: ['x/#'] })
  core.list = () => { throw new Error('queueInfo must not list') }
  t.equal(core.queueInfo('ab').name, 'ab')
  core.shutdown()
  await polling
})

t.test('ack removes a message once; unknown ids are not found', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  const { id } = await core.send(s, 'q', Buffer.from('x'))
  const other = await core.login('d')
  await core.ack(other, id) // any session may ack
  await t.rejects(core.ack(s, id), MessageNotFoundError)
  await t.rejects(core.ack(s, 999), { code: 'message_not_found' })
})

t.test('destroy removes a queue and its messages; a missing queue is not found', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  const { id } = await core.send(s, 'q', Buffer.from('x'))
  await core.destroy(s, 'q')
  t.same(core.list('', false), [])
  await t.rejects(core.ack(s, id), MessageNotFoundError)
  await t.rejects(core.destroy(s, 'q'), QueueNotFoundError)
  await t.rejects(core.send(s, 'q', Buffer.from('x')), QueueNotFoundError)
})

t.test('destroying a temporary queue frees it from its owner; another session may not destroy it', async (t) => {
  const core = startCore(t)
  const owner = await core.login('owner')
  const other = await core.login('other')
  const { name } = await core.createTemporaryQueue(owner)
  await t.rejects(core.destroy(other, name), { code: 'forbidden' })
  await core.destroy(owner, name)
  t.same([...owner.queues], [])
  t.match(core.trace.since(0, 100).filter((event) => event.type === 'destroy'), [{ queue: name, client: 'owner' }])
})

t.test('subscriptions are kept by name: a re-created queue is seen by the same session', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  await core.send(s, 'q', Buffer.from('old'))
  await core.destroy(s, 'q')
  t.same(await core.transfer(s, { after: 0, timeout: 0 }), { messages: [], next: 0 })
  t.same([...s.subscriptions], ['q'])
  await core.createQueue(s, 'q')
  const { id } = await core.send(s, 'q', Buffer.from('new'))
  const result = await core.transfer(s, { after: 0, timeout: 0 })
  t.same(result.messages.map((m) => [m.id, m.payload.toString()]), [[id, 'new']])
})

t.test('subscribe needs an existing queue and a valid name; unsubscribe is idempotent', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await t.rejects(core.subscribe(s, 'missing'), QueueNotFoundError)
  await t.rejects(core.subscribe(s, '.bad'), InvalidQueueNameError)
  await t.rejects(core.unsubscribe(s, '.bad'), InvalidQueueNameError)
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  await core.subscribe(s, 'q')
  t.same([...s.subscriptions], ['q'])
  await core.unsubscribe(s, 'q')
  await core.unsubscribe(s, 'q')
  t.same([...s.subscriptions], [])
})
