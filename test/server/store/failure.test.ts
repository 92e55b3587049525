// A store that cannot write (a full disk, a file system gone read-only) fails the request that needed the write
// with 503 storage_failed and undoes it, in memory too; reads go on, and writes work again once the store does.
// Root may write anywhere, so the failure is injected into the commit itself, where a full disk would strike.
import t, { type Test } from 'tap'
import type { CreateQueueResponse, Diagnostics, QueueInfo, SendResponse, SessionInfo, TransferResponse } from '../../../protocol/wire.js'
import { SqliteStore } from '../../../server/store/sqlite.js'
import type { Snapshot, Store, StoreRecord } from '../../../server/store/store.js'
import { codeOf, messageOf, startHttp, waitingOn, type Api, type Reply } from '../http/fixtures.js'
import { tempDir } from './fixtures.js'

interface Disk {
  api: Api
  stop: () => Promise<void>
  full: boolean
}

async function start (t: Test, dir = tempDir(t)): Promise<Disk> {
  const disk = { full: false } as Disk
  const store = new SqliteStore(dir, {
    beforeCommit: () => {
      if (disk.full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
    }
  })
  const { api, running } = await startHttp(t, { store })
  disk.api = api
  disk.stop = running.stop
  return disk
}

function failed (t: Test, reply: Reply, what: string): void {
  t.equal(reply.status, 503, `${what}: 503`)
  t.equal(codeOf(reply), 'storage_failed')
  t.match(messageOf(reply), /could not be stored, so it was not made \(database or disk is full\)/)
}

async function send (api: Api, token: string, queue: string, body: string, query = ''): Promise<Reply> {
  return await api.call('POST', `/v1/queues/${queue}/messages${query}`, { token, body })
}

async function contents (api: Api): Promise<Record<string, number[]>> {
  const diagnostics = (await api.call('GET', '/v1/diagnostics')).json as Diagnostics
  return Object.fromEntries(diagnostics.queues.map((queue) => [queue.name, queue.messages.map((m) => m.id)]))
}

t.test('a send that cannot be stored is not made, and wakes no long-poll', async (t) => {
  const disk = await start(t)
  const { api } = disk
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  const polling = api.call('GET', '/v1/transfer?after=0&timeout=30', { token })
  await waitingOn(api, 'q', 1)

  disk.full = true
  failed(t, await send(api, token, 'q', 'lost'), 'the send')
  t.same(await contents(api), { q: [] })
  disk.full = false
  const kept = (await send(api, token, 'q', 'kept')).json as SendResponse
  const delivered = (await polling).json as TransferResponse
  t.same(delivered.messages.map((m) => [m.id, m.payload]), [[kept.id, 'kept']], 'the long-poll saw only the stored message')
})

t.test('a reply-and-ack that cannot be stored neither replies nor acks', async (t) => {
  const disk = await start(t)
  const { api } = disk
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/svc', { token })
  await api.call('PUT', '/v1/queues/replies', { token })
  const request = (await send(api, token, 'svc', 'ping', '?replyTo=replies')).json as SendResponse

  disk.full = true
  failed(t, await send(api, token, 'replies', 'pong', `?ack=${request.id}`), 'the reply')
  t.same(await contents(api), { svc: [request.id], replies: [] }, 'the request is still there, no reply')
  failed(t, await api.call('DELETE', `/v1/messages/${request.id}`, { token }), 'an ack')
  t.same(await contents(api), { svc: [request.id], replies: [] }, 'the request is still there')

  disk.full = false
  const reply = (await send(api, token, 'replies', 'pong', `?ack=${request.id}`)).json as SendResponse
  t.same(await contents(api), { svc: [], replies: [reply.id] }, 'the retry does both')
})

t.test('sessions, queues and subscriptions that cannot be stored are not made', async (t) => {
  const disk = await start(t)
  const { api } = disk
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/q', { token })

  disk.full = true
  failed(t, await api.call('POST', '/v1/sessions', { json: { client: 'late' } }), 'a login')
  failed(t, await api.call('PUT', '/v1/queues/other', { token }), 'a create')
  failed(t, await api.call('POST', '/v1/queues', { token }), 'a temporary create')
  failed(t, await api.call('PUT', '/v1/session/subscriptions/q', { token }), 'a subscribe')
  failed(t, await api.call('DELETE', '/v1/queues/q', { token }), 'a destroy')
  failed(t, await api.call('DELETE', '/v1/session', { token }), 'a logout')

  const queues = ((await api.call('GET', '/v1/queues')).json as { queues: QueueInfo[] }).queues
  t.same(queues.map((queue) => queue.name), ['q'], 'no new queue, and q is still there')
  const session = (await api.call('GET', '/v1/session', { token })).json as SessionInfo
  t.same([session.subscriptions, session.queues], [[], []], 'the session is still there, unchanged')
  const diagnostics = (await api.call('GET', '/v1/diagnostics')).json as Diagnostics
  t.same(diagnostics.sessions.map((s) => s.client), ['c'], 'no session for the failed login')
})

t.test('reads go on while writes fail, and writes work again once the disk has room', async (t) => {
  const disk = await start(t)
  const { api } = disk
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  const stored = (await send(api, token, 'q', 'stored')).json as SendResponse

  disk.full = true
  failed(t, await send(api, token, 'q', 'lost'), 'a send')
  for (const path of ['/v1/health', '/v1/queues', '/v1/queues/q', '/v1/diagnostics', '/v1/trace?after=0&timeout=0']) {
    t.equal((await api.call('GET', path)).status, 200, `GET ${path}`)
  }
  const transfer = (await api.call('GET', '/v1/transfer?after=0&timeout=0', { token })).json as TransferResponse
  t.same(transfer.messages.map((m) => m.id), [stored.id])

  disk.full = false
  const created = (await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse
  const after = (await send(api, token, created.name, 'works')).json as SendResponse
  t.ok(after.id > stored.id, 'ids go on growing')
  t.same(await contents(api), { q: [stored.id], [created.name]: [after.id] })
})

t.test('after failures, a restart finds exactly what was answered as done', async (t) => {
  const dir = tempDir(t)
  const disk = await start(t, dir)
  const { api } = disk
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/q', { token })
  const kept = (await send(api, token, 'q', 'kept')).json as SendResponse
  disk.full = true
  const attempts = await Promise.all([send(api, token, 'q', 'a'), send(api, token, 'q', 'b'), api.call('DELETE', `/v1/messages/${kept.id}`, { token })])
  t.same(attempts.map((reply) => reply.status), [503, 503, 503])
  const before = await contents(api)
  t.same(before, { q: [kept.id] })
  await disk.stop()
  const again = await start(t, dir)
  t.same(await contents(again.api), before)
})

/**
 * A store that fails only the write that carries an ack, as a disk filling up between two commits would: a
 * reply-and-ack made as two writes (the reply, then the ack) would keep its reply.
 */
class AcksFail implements Store {
  readonly kind = 'sqlite'
  constructor (private readonly inner: SqliteStore) {}

  async load (): Promise<Snapshot> {
    return await this.inner.load()
  }

  write (record: StoreRecord): Promise<void> | undefined {
    if (record.type === 'ack' || (record.type === 'send' && record.ack !== undefined)) {
      // Reported in a turn of its own, as the store's contract says.
      return new Promise((resolve, reject) => {
        setImmediate(() => { reject(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })) })
      })
    }
    return this.inner.write(record)
  }

  async close (): Promise<void> {
    await this.inner.close()
  }
}

t.test('a reply-and-ack is one write: failing only its ack leaves nothing of the reply', async (t) => {
  const dir = tempDir(t)
  const { api, running } = await startHttp(t, { store: new AcksFail(new SqliteStore(dir)) })
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/svc', { token })
  await api.call('PUT', '/v1/queues/replies', { token })
  const request = (await send(api, token, 'svc', 'ping', '?replyTo=replies')).json as SendResponse

  failed(t, await send(api, token, 'replies', 'pong', `?ack=${request.id}&correlationId=c1`), 'the reply')
  t.same(await contents(api), { svc: [request.id], replies: [] }, 'no reply in memory, and the request is still there')
  await running.stop()
  const again = await startHttp(t, { dataDir: dir })
  t.same(await contents(again.api), { svc: [request.id], replies: [] }, 'nor on disk')
})
