// The limits over HTTP: 429 limit_exceeded for queues and long-polls, 507 insufficient_storage for a send the
// switch has no room for, and diagnostics showing each limit against its use.
import t from 'tap'
import type { CreateQueueResponse, Diagnostics } from '../../../protocol/wire.js'
import { codeOf, messageOf, startHttp, waitingOn } from './fixtures.js'

const LIMITS = { maxQueues: 3, maxSessionQueues: 1, maxQueueLength: 2, maxQueuedBytes: 10, maxSessionPolls: 1 }

t.test('queues beyond maxQueues or maxSessionQueues are a 429 limit_exceeded', async (t) => {
  const { api } = await startHttp(t, LIMITS)
  const token = await api.login('greedy')
  const other = await api.login('other')
  t.equal((await api.call('POST', '/v1/queues', { token })).status, 201)
  const second = await api.call('POST', '/v1/queues', { token })
  t.equal(second.status, 429)
  t.equal(codeOf(second), 'limit_exceeded')
  t.match(messageOf(second), /owns 1 temporary queues/)
  t.equal((await api.call('PUT', '/v1/queues/a', { token })).status, 201)
  t.equal((await api.call('POST', '/v1/queues', { token: other })).status, 201)
  const full = await api.call('PUT', '/v1/queues/b', { token })
  t.equal(full.status, 429)
  t.equal(codeOf(full), 'limit_exceeded')
  t.equal((await api.call('PUT', '/v1/queues/a', { token })).status, 200, 'an existing queue is still fine')
  await api.call('DELETE', '/v1/session', { token: other })
  t.equal((await api.call('PUT', '/v1/queues/b', { token })).status, 201, 'room again once a session ended')
})

t.test('a send beyond maxQueueLength or maxQueuedBytes is a 507 insufficient_storage', async (t) => {
  const { api } = await startHttp(t, LIMITS)
  const token = await api.login('sender')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/queues/r', { token })
  t.equal((await api.call('POST', '/v1/queues/q/messages', { token, body: '12345' })).status, 201)
  t.equal((await api.call('POST', '/v1/queues/q/messages', { token, body: '1' })).status, 201)
  const long = await api.call('POST', '/v1/queues/q/messages', { token, body: '' })
  t.equal(long.status, 507)
  t.equal(codeOf(long), 'insufficient_storage')
  t.match(messageOf(long), /queue "q" holds 2 unacked messages/)
  const heavy = await api.call('POST', '/v1/queues/r/messages', { token, body: '12345' })
  t.equal(heavy.status, 507)
  t.match(messageOf(heavy), /holds 6 bytes of messages and may hold 10/)
  t.equal((await api.call('POST', '/v1/queues/r/messages', { token, body: '1234' })).status, 201, 'exactly the limit')
  await api.call('DELETE', '/v1/messages/1', { token })
  t.equal((await api.call('POST', '/v1/queues/r/messages', { token, body: '12345' })).status, 201, 'room again after an ack')
  const diagnostics = await api.diagnostics()
  t.match(diagnostics.limits, {
    payload: { limit: 1024 * 1024 },
    queues: { limit: 3, used: 2 },
    queueLength: { limit: 2, used: 2 },
    queuedBytes: { limit: 10, used: 10 }
  })
})

t.test('a long-poll beyond maxSessionPolls is a 429; the first one still gets its message', async (t) => {
  const { api } = await startHttp(t, LIMITS)
  const token = await api.login('poller')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  const first = api.call('GET', '/v1/transfer?timeout=30', { token })
  await waitingOn(api, 'q', 1)
  const second = await api.call('GET', '/v1/transfer?timeout=30', { token })
  t.equal(second.status, 429)
  t.equal(codeOf(second), 'limit_exceeded')
  t.match(messageOf(second), /1 long-polls waiting/)
  t.equal((await api.call('GET', '/v1/transfer', { token })).status, 200, 'a transfer that does not wait is fine')
  t.match((await api.diagnostics()).limits, { sessionPolls: { limit: 1, used: 1 } })
  await api.call('POST', '/v1/queues/q/messages', { token, body: 'hello' })
  t.match((await first).json, { messages: [{ payload: 'hello' }] })
})

t.test('diagnostics shows every limit against its use, the defaults included', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('observer')
  const { name } = (await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse
  await api.call('POST', `/v1/queues/${name}/messages`, { token, body: 'four' })
  const { limits } = await api.diagnostics() as Required<Diagnostics>
  t.same(Object.keys(limits).sort(), [
    'answerBytes', 'connections', 'connectionsPerAddress', 'payload', 'queueLength', 'queuedBytes', 'queues', 'sessionPolls',
    'sessionQueues', 'timeout', 'transfer', 'unreadBytes'
  ])
  t.match(limits, {
    queues: { limit: 100_000, used: 1 },
    sessionQueues: { limit: 100, used: 1 },
    queueLength: { limit: 1_000_000, used: 1 },
    queuedBytes: { limit: 256 * 1024 * 1024, used: 4 },
    sessionPolls: { limit: 100, used: 0 },
    transfer: { limit: 1000 },
    answerBytes: { limit: 4 * 1024 * 1024 },
    timeout: { limit: 300 },
    connections: { limit: 20_000 },
    connectionsPerAddress: { limit: 15_000 },
    unreadBytes: { limit: 64 * 1024 * 1024, used: 0 }
  })
  t.ok((limits.connections?.used ?? 0) >= 1, 'this connection at least')
})
