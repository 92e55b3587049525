import t from 'tap'
import type { CreateQueueResponse, LoginResponse, SessionInfo, TransferResponse } from '../../../protocol/wire.js'
import { codeOf, eventually, messageOf, startHttp, waitingOn } from './fixtures.js'
import { manualClock } from '../core/fixtures.js'

t.test('login answers 201 with a token, the client name and the TTL in seconds', async (t) => {
  const { api } = await startHttp(t, { sessionTtl: 45_000 })
  const reply = await api.call('POST', '/v1/sessions', { json: { client: 'alice' } })
  t.equal(reply.status, 201)
  const body = reply.json as LoginResponse
  t.match(body, { token: String, client: 'alice', ttl: 45 })
  t.ok(body.token.length >= 16, 'the token is long enough not to be guessed')
  const other = await api.login('alice')
  t.not(other, body.token, 'every login is a new session')
})

t.test('login may ask for a longer lease: the answer says what was granted, up to the maximum', async (t) => {
  const clock = manualClock()
  const { api } = await startHttp(t, { sessionTtl: 30_000, maxSessionTtl: 600_000, now: clock.now, timers: clock })
  const asked = await api.call('POST', '/v1/sessions', { json: { client: 'by-hand', ttl: 300 } })
  t.equal(asked.status, 201)
  const { token, ttl } = asked.json as LoginResponse
  t.equal(ttl, 300, 'granted as asked')
  const capped = await api.call('POST', '/v1/sessions', { json: { client: 'greedy', ttl: 86_400 } })
  t.equal((capped.json as LoginResponse).ttl, 600, 'capped at --max-session-ttl')
  const zero = await api.call('POST', '/v1/sessions', { json: { client: 'zero', ttl: 0 } })
  t.equal(zero.status, 400)
  t.match(messageOf(zero), /ttl/)

  clock.advance(60_000)
  t.equal((await api.call('GET', '/v1/session', { token })).status, 200, 'alive after twice the default TTL')
  clock.advance(380_000)
  t.equal(codeOf(await api.call('GET', '/v1/session', { token })), 'session_not_found', 'ended by 1.25 leases')
})

t.test('login refuses bad bodies with 400, naming the field', async (t) => {
  const { api } = await startHttp(t)
  const malformed = await api.call('POST', '/v1/sessions', { body: '{"client":', headers: { 'content-type': 'application/json' } })
  t.equal(malformed.status, 400)
  t.equal(codeOf(malformed), 'invalid_request')
  t.match(messageOf(malformed), /JSON/)

  const missing = await api.call('POST', '/v1/sessions')
  t.equal(missing.status, 400)
  t.match(messageOf(missing), /body/)

  const empty = await api.call('POST', '/v1/sessions', { json: { client: '' } })
  t.equal(empty.status, 400)
  t.match(messageOf(empty), /body\/client/)

  const long = await api.call('POST', '/v1/sessions', { json: { client: 'x'.repeat(201) } })
  t.equal(long.status, 400)
  t.match(messageOf(long), /body\/client/)

  const extra = await api.call('POST', '/v1/sessions', { json: { client: 'a', admin: true } })
  t.equal(extra.status, 400)
  t.match(messageOf(extra), /additional properties/)

  const wrongType = await api.call('POST', '/v1/sessions', { json: { client: ['a', 'b'] } })
  t.equal(wrongType.status, 400)
  t.match(messageOf(wrongType), /body\/client/)
})

t.test('login takes JSON only: another content type is a 415', async (t) => {
  const { api } = await startHttp(t)
  for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
    const reply = await api.call('POST', '/v1/sessions', { body: '{"client":"a"}', headers: { 'content-type': type } })
    t.equal(reply.status, 415, type)
    t.equal(codeOf(reply), 'unsupported_media_type', type)
  }
})

t.test('session routes need a bearer token: 401 session_required, or session_not_found', async (t) => {
  const { api } = await startHttp(t)
  const none = await api.call('GET', '/v1/session')
  t.equal(none.status, 401)
  t.equal(codeOf(none), 'session_required')
  t.match(messageOf(none), /Authorization: Bearer/)

  for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer two tokens']) {
    const reply = await api.call('GET', '/v1/session', { headers: { authorization: header } })
    t.equal(codeOf(reply), 'session_required', header)
  }

  const unknown = await api.call('GET', '/v1/session', { token: 'no-such-token' })
  t.equal(unknown.status, 401)
  t.equal(codeOf(unknown), 'session_not_found')

  const token = await api.login('a')
  const lowercase = await api.call('GET', '/v1/session', { headers: { authorization: `bearer ${token}` } })
  t.equal(lowercase.status, 200, 'the scheme is case-insensitive')
})

t.test('GET /v1/session describes the session', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('bob')
  t.equal((await api.call('PUT', '/v1/queues/jobs', { token })).status, 201)
  t.equal((await api.call('PUT', '/v1/session/subscriptions/jobs', { token })).status, 204)
  const tmp = (await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse

  const reply = await api.call('GET', '/v1/session', { token })
  t.equal(reply.status, 200)
  const info = reply.json as SessionInfo
  t.same(info, {
    token,
    client: 'bob',
    subscriptions: ['jobs'],
    queues: [tmp.name],
    lastActivity: info.lastActivity,
    inFlight: 1
  }, 'this request is the one in flight')
  t.ok(Math.abs(Date.now() - info.lastActivity) < 60_000, 'lastActivity is in ms since the epoch')
})

t.test('logout ends the session at once and takes its temporary queues', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('carol')
  const tmp = (await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse
  t.equal((await api.call('GET', `/v1/queues/${tmp.name}`)).status, 200)

  const out = await api.call('DELETE', '/v1/session', { token })
  t.equal(out.status, 204)
  t.equal(out.text, '')

  t.equal(codeOf(await api.call('GET', '/v1/session', { token })), 'session_not_found')
  t.equal(codeOf(await api.call('GET', `/v1/queues/${tmp.name}`)), 'queue_not_found')
  t.equal(codeOf(await api.call('DELETE', '/v1/session', { token })), 'session_not_found', 'a second logout')
})

t.test('a session without requests expires after its TTL', async (t) => {
  const clock = manualClock()
  const { api } = await startHttp(t, { sessionTtl: 30_000, now: clock.now, timers: clock })
  const reply = await api.call('POST', '/v1/sessions', { json: { client: 'short-lived' } })
  const { token, ttl } = reply.json as LoginResponse
  t.equal(ttl, 30)
  const created = await api.call('POST', '/v1/queues', { token })
  t.equal(created.status, 201, 'the session made a temporary queue')
  const tmp = created.json as CreateQueueResponse
  t.equal((await api.call('GET', `/v1/queues/${tmp.name}`)).status, 200)

  clock.advance(30_000)
  t.ok((await api.diagnostics()).sessions.some((session) => session.client === 'short-lived'), 'alive at one TTL')
  clock.advance(7_500)
  const after = await api.call('GET', '/v1/session', { token })
  t.equal(after.status, 401, 'ended by 1.25 TTLs')
  t.equal(codeOf(after), 'session_not_found')
  t.equal(codeOf(await api.call('GET', `/v1/queues/${tmp.name}`)), 'queue_not_found', 'its temporary queue went with it')
})

t.test('a waiting long-poll keeps its session alive past the TTL', async (t) => {
  const clock = manualClock()
  const { api } = await startHttp(t, { sessionTtl: 1000, now: clock.now, timers: clock })
  const token = await api.login('poller')
  await api.call('PUT', '/v1/queues/lease', { token })
  await api.call('PUT', '/v1/session/subscriptions/lease', { token })
  const poll = api.call('GET', '/v1/transfer?after=0&timeout=30', { token })
  await waitingOn(api, 'lease', 1)

  clock.advance(10_000)
  const session = (await api.diagnostics()).sessions.find((candidate) => candidate.client === 'poller')
  t.match(session, { inFlight: 1 }, 'ten TTLs on, the long-poll holds the lease')

  const sender = await api.login('sender')
  t.equal((await api.call('POST', '/v1/queues/lease/messages', { token: sender, body: 'still there?' })).status, 201)
  const reply = await poll
  t.equal(reply.status, 200)
  t.match(reply.json as TransferResponse, { messages: [{ queue: 'lease', payload: 'still there?', origin: 'sender' }] })
})
