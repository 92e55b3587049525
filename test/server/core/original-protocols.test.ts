// What the core offers the original protocols' compatibility layer: sessions named by the client's own token,
// temporary queues with chosen names, send-or-drop, acks naming their queue, transfers over named queues, and
// the messages behind trace events.
import t from 'tap'
import { InvalidQueueNameError, InvalidRequestError, MessageNotFoundError, SessionNotFoundError } from '../../../server/core/errors.js'
import { settle, startCore, traced, watch } from './fixtures.js'

t.test('loginWithToken finds the session of a token, or starts it with the token as client name', async (t) => {
  const core = startCore(t)
  const first = await core.loginWithToken('prog:12')
  t.equal(first.kind, 'original')
  t.equal(first.client, 'prog:12')
  t.throws(() => core.enter('prog:12'), SessionNotFoundError, 'its token is no /v1 token')
  t.throws(() => core.enter(first.token), SessionNotFoundError, 'nor is its key')
  core.leave(core.enter(first.token, 'original'))
  const v1 = await core.login('v1')
  t.not(await core.loginWithToken(v1.token), v1, 'a /v1 token starts an original session of its own')
  t.equal(await core.loginWithToken('prog:12'), first, 'a second login with the token joins the session')
  t.not(await core.loginWithToken('prog:13'), first)
  t.ok(core.isCurrent(first))
  await core.logout(first)
  t.notOk(core.isCurrent(first))
  const again = await core.loginWithToken('prog:12')
  t.not(again, first, 'after its end, a new session')
  t.ok(core.isCurrent(again))
  await t.rejects(core.loginWithToken(''), InvalidRequestError)
})

t.test('a temporary queue with a chosen name: owned by the session, an existing name left alone', async (t) => {
  const core = startCore(t)
  const owner = await core.loginWithToken('owner:1')
  const other = await core.loginWithToken('other:1')
  t.same(await core.createTemporaryQueue(owner, 'owner.reply'), { name: 'owner.reply', kind: 'temporary', created: true })
  t.same(await core.createTemporaryQueue(other, 'owner.reply'), { name: 'owner.reply', kind: 'temporary', created: false })
  await core.createQueue(owner, 'kept')
  t.same(await core.createTemporaryQueue(other, 'kept'), { name: 'kept', kind: 'persistent', created: false })
  await t.rejects(core.createTemporaryQueue(owner, '.hidden'), InvalidQueueNameError)
  t.match(core.list('owner.reply', false), [{ owner: owner.shownClient }], 'named without its token')
  await core.logout(other)
  t.equal(core.list('owner.reply', false).length, 1, 'the other session never owned it')
  await core.logout(owner)
  t.same(core.list('', false).map((queue) => queue.name), ['kept'])
})

t.test('sendOrDrop sends to a queue that exists and drops, traces and counts the rest', async (t) => {
  const core = startCore(t)
  const s = await core.login('sender')
  await core.createQueue(s, 'q')
  t.same(await core.sendOrDrop(s, 'q', Buffer.from('kept')), { id: 1, duplicate: false })
  const dropped = traced(core, 'drop')
  t.equal(await core.sendOrDrop(s, 'nowhere', Buffer.from('lost')), undefined)
  t.match(await dropped, { type: 'drop', client: 'sender', queue: 'nowhere' })
  t.equal(core.diagnostics().dropped, 1)
  t.same(core.list('', false).map((queue) => queue.name), ['q'])
})

t.test('an ack naming a queue acks only a message of that queue', async (t) => {
  const core = startCore(t)
  const s = await core.login('acker')
  await core.createQueue(s, 'a')
  await core.createQueue(s, 'b')
  const { id } = await core.send(s, 'a', Buffer.from('x'))
  await t.rejects(core.ack(s, id, 'b'), MessageNotFoundError)
  t.ok(core.message(id), 'still held')
  await core.ack(s, id, 'a')
  t.equal(core.message(id), undefined)
})

t.test('a transfer over named queues ignores the subscriptions, and waits for queues yet to exist', async (t) => {
  const core = startCore(t)
  const s = await core.login('poller')
  await core.createQueue(s, 'subscribed')
  await core.subscribe(s, 'subscribed')
  await core.createQueue(s, 'named')
  await core.send(s, 'subscribed', Buffer.from('not for this transfer'))
  const named = await core.send(s, 'named', Buffer.from('for it'))
  const once = await core.transfer(s, { after: 0, timeout: 0, queues: ['named', 'named'] })
  t.same(once.messages.map((message) => message.id), [named.id], 'named queues only, each once')
  t.ok((core.contents().find((queue) => queue.name === 'named')?.nextTransferExpected ?? 0) > 0, 'a named queue records its poll')

  const poll = watch(core.transfer(s, { after: named.id, timeout: 60_000, queues: ['later'] }))
  await core.createQueue(s, 'other')
  await core.subscribe(s, 'other')
  await core.send(s, 'other', Buffer.from('a new subscription does not concern it'))
  await core.send(s, 'subscribed', Buffer.from('nor does a subscribed queue'))
  await settle()
  t.notOk(poll.done, 'still waiting')
  await core.createQueue(s, 'later')
  const later = await core.send(s, 'later', Buffer.from('at last'))
  t.same((await poll.promise).messages.map((message) => message.id), [later.id])
})

t.test('trace events keep the message they are about while they stay in the buffer', async (t) => {
  const core = startCore(t, { traceCapacity: 4 })
  const s = await core.login('tracer')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  const { id } = await core.send(s, 'q', Buffer.from('remembered'))
  const sendEvent = core.trace.lastId
  await core.transfer(s, { after: 0, timeout: 0 })
  const deliverEvent = core.trace.lastId
  await core.ack(s, id)
  t.equal(core.message(id), undefined, 'acked')
  t.equal(core.trace.subject(sendEvent)?.payload.toString(), 'remembered', 'the send event still has its message')
  t.equal(core.trace.subject(deliverEvent)?.id, id)
  t.equal(core.trace.subject(core.trace.lastId), undefined, 'an ack event has none')
  for (let i = 0; i < 4; i++) await core.createQueue(s, `filler-${i}`)
  t.equal(core.trace.subject(sendEvent), undefined, 'gone with its event')
})
