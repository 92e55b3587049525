import t, { type Test } from 'tap'
import type { CreateQueueResponse, QueueInfo, SendResponse, SessionInfo, TransferResponse } from '../../../protocol/wire.js'
import { Switch } from '../../../server/core/switch.js'
import { SqliteStore } from '../../../server/store/sqlite.js'
import { codeOf, startHttp, type Api } from '../http/fixtures.js'
import { tempDir } from './fixtures.js'

/** A core on a SQLite store whose transactions are counted, and that fails the next `failNext` of them. */
async function core (t: Test): Promise<{ core: Switch, commits: () => number, failNext: () => void }> {
  let commits = 0
  let failing = false
  const store = new SqliteStore(tempDir(t), {
    beforeCommit: () => {
      if (failing) {
        failing = false
        throw new Error('disk I/O error')
      }
      commits++
    }
  })
  const created = await Switch.open({ store })
  t.teardown(() => created.close())
  return { core: created, commits: () => commits, failNext: () => { failing = true } }
}

async function send (api: Api, token: string, queue: string, body: string, query = '', headers: Record<string, string> = {}): Promise<SendResponse> {
  const reply = await api.call('POST', `/v1/queues/${queue}/messages${query}`, { token, body, headers })
  if (reply.status !== 201) throw new Error(`send failed: ${reply.status} ${reply.text}`)
  return reply.json as SendResponse
}

t.test('a restart keeps sessions, queues, subscriptions, messages, idempotency keys and the last id', async (t) => {
  const dir = tempDir(t)
  const first = await startHttp(t, { dataDir: dir })
  let api = first.api
  const alice = await api.login('alice')
  const bob = await api.login('bob')
  const carol = await api.login('carol')
  const replyQueue = ((await api.call('POST', '/v1/queues', { token: alice })).json as CreateQueueResponse).name
  await api.call('PUT', `/v1/session/subscriptions/${replyQueue}`, { token: alice })
  await api.call('PUT', '/v1/queues/svc', { token: alice })
  await api.call('PUT', '/v1/session/subscriptions/svc', { token: bob })
  const request = await send(api, alice, 'svc', 'ping', `?correlationId=c1&replyTo=${replyQueue}`, { 'idempotency-key': 'k1' })
  const acked = await send(api, alice, 'svc', 'acked')
  t.equal((await api.call('DELETE', `/v1/messages/${acked.id}`, { token: bob })).status, 204)
  await api.call('PUT', '/v1/queues/doomed', { token: alice })
  const doomed = await send(api, alice, 'doomed', 'gone with its queue')
  t.equal((await api.call('DELETE', '/v1/queues/doomed', { token: alice })).status, 204)
  const carolQueue = ((await api.call('POST', '/v1/queues', { token: carol })).json as CreateQueueResponse).name
  await send(api, carol, carolQueue, 'gone with its owner')
  t.equal((await api.call('DELETE', '/v1/session', { token: carol })).status, 204)
  await first.running.stop()

  api = (await startHttp(t, { dataDir: dir })).api
  const info = (await api.call('GET', '/v1/session', { token: alice })).json as SessionInfo
  t.same({ client: info.client, subscriptions: info.subscriptions, queues: info.queues },
    { client: 'alice', subscriptions: [replyQueue], queues: [replyQueue] }, "alice's session, with its queue")
  t.equal(codeOf(await api.call('GET', '/v1/session', { token: carol })), 'session_not_found', 'a logged-out session stays out')
  const queues = ((await api.call('GET', '/v1/queues')).json as { queues: QueueInfo[] }).queues
  t.same(queues.map((queue) => [queue.name, queue.kind, queue.owner, queue.length]),
    [['svc', 'persistent', undefined, 1], [replyQueue, 'temporary', 'alice', 0]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))))
  const transfer = (await api.call('GET', '/v1/transfer?after=0&timeout=0', { token: bob })).json as TransferResponse
  t.equal(transfer.messages.length, 1)
  t.match(transfer.messages, [{ id: request.id, queue: 'svc', payload: 'ping', correlationId: 'c1', replyTo: replyQueue, origin: 'alice' }],
    "bob's subscription holds without subscribing again; the acked message stays acked")
  t.same(await send(api, alice, 'svc', 'ping', `?correlationId=c1&replyTo=${replyQueue}`, { 'idempotency-key': 'k1' }),
    { id: request.id, duplicate: true }, 'a retry after the restart is still a retry')
  const next = await send(api, alice, 'svc', 'new')
  t.ok(next.id > doomed.id, `ids go on from the last one (${next.id} > ${doomed.id})`)
})

t.test('concurrent changes commit in one transaction', async (t) => {
  const { core: sw, commits } = await core(t)
  const session = await sw.login('c')
  await sw.createQueue(session, 'q')
  const before = commits()
  const sent = await Promise.all(Array.from({ length: 50 }, async (_, i) => await sw.send(session, 'q', Buffer.from(`m${i}`))))
  t.equal(commits() - before, 1, '50 sends, one commit')
  t.same(sent.map((reply) => reply.id), Array.from({ length: 50 }, (_, i) => sent[0].id + i))
})

t.test('a retried send is answered only once the send it repeats is durable', async (t) => {
  const { core: sw, commits } = await core(t)
  const session = await sw.login('c')
  await sw.createQueue(session, 'q')
  const before = commits()
  const first = sw.send(session, 'q', Buffer.from('x'), { idempotencyKey: 'k' })
  const retry = sw.send(session, 'q', Buffer.from('x'), { idempotencyKey: 'k' })
  const answered = await retry
  t.equal(commits() - before, 1, 'the first send had committed when the retry was answered')
  t.same(answered, { id: (await first).id, duplicate: true })
})

t.test('a retry of a send that failed is sent afresh', async (t) => {
  const { core: sw, failNext } = await core(t)
  const session = await sw.login('c')
  await sw.createQueue(session, 'q')
  failNext()
  const first = sw.send(session, 'q', Buffer.from('x'), { idempotencyKey: 'k' })
  const retry = sw.send(session, 'q', Buffer.from('x'), { idempotencyKey: 'k' })
  await t.rejects(first, { code: 'storage_failed' })
  const answered = await retry
  t.equal(answered.duplicate, false)
  t.same(sw.diagnostics().queues[0].messages.map((m) => m.id), [answered.id], 'one message, the retry')
})

t.test('"exists already" waits for the creation, and creates the queue if the creation failed', async (t) => {
  const { core: sw, commits, failNext } = await core(t)
  const session = await sw.login('c')
  let before = commits()
  const creating = sw.createQueue(session, 'q')
  const again = await sw.createQueue(session, 'q')
  t.equal(commits() - before, 1)
  t.same([await creating, again], [{ name: 'q', kind: 'persistent', created: true }, { name: 'q', kind: 'persistent', created: false }])

  failNext()
  before = commits()
  const failing = sw.createQueue(session, 'r')
  const retried = sw.createQueue(session, 'r')
  await t.rejects(failing, { code: 'storage_failed' })
  t.same(await retried, { name: 'r', kind: 'persistent', created: true })
  t.equal(commits() - before, 1)
})

t.test('"already subscribed" waits for the subscription to be durable', async (t) => {
  const { core: sw, failNext } = await core(t)
  const session = await sw.login('c')
  await sw.createQueue(session, 'q')
  failNext()
  const failing = sw.subscribe(session, 'q')
  const again = sw.subscribe(session, 'q')
  await t.rejects(failing, { code: 'storage_failed' })
  await again
  t.same(sw.diagnostics().sessions[0].subscriptions, ['q'], 'the second subscribe made it')
})
