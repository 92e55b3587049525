// Stream tickets: what a browser's EventSource (which cannot send the bearer header) opens GET /v1/stream with.
import t from 'tap'
import type { StreamTicketResponse } from '../../../protocol/wire.js'
import { StreamTickets } from '../../../server/http/stream-tickets.js'
import { EventStream } from './event-stream.js'
import { codeOf, startHttp } from './fixtures.js'

t.test('a ticket stands for its token once, until it expires (a manual clock)', async (t) => {
  let now = 1_000_000
  const tickets = new StreamTickets({ ttl: 30_000, max: 2, now: () => now })
  const first = tickets.issue('token-a')
  t.equal(first.expires, now + 30_000)
  t.not(first.ticket, 'token-a', 'the ticket is not the token')
  t.equal(tickets.redeem(first.ticket), 'token-a')
  t.throws(() => tickets.redeem(first.ticket), { code: 'ticket_not_found' }, 'a second use is refused')

  const late = tickets.issue('token-a')
  now += 30_000
  t.throws(() => tickets.redeem(late.ticket), { code: 'ticket_not_found' }, 'an expired ticket is refused')
  t.throws(() => tickets.redeem('made-up'), { code: 'ticket_not_found' }, 'an unknown one too')

  tickets.issue('token-a')
  tickets.issue('token-b')
  t.throws(() => tickets.issue('token-c'), { code: 'limit_exceeded' }, 'outstanding tickets are capped')
  now += 30_000
  t.ok(tickets.issue('token-c').ticket, 'expired ones make room')
})

t.test('GET /v1/stream?ticket= opens the session\'s stream once, without the bearer header', async (t) => {
  let now = Date.now()
  // The switch's clock is the tickets' clock; sessions live long enough not to end when it jumps.
  const { api } = await startHttp(t, { now: () => now, sessionTtl: 3600_000 })
  const token = await api.login('browser')
  await api.call('PUT', '/v1/queues/feed', { token })
  await api.call('PUT', '/v1/session/subscriptions/feed', { token })
  t.equal(codeOf(await api.call('POST', '/v1/stream/tickets')), 'session_required', 'a ticket needs a session')

  const issued = await api.call('POST', '/v1/stream/tickets', { token })
  t.equal(issued.status, 201)
  const { ticket, expires } = issued.json as StreamTicketResponse
  t.equal(expires, now + 30_000, 'valid for 30 seconds')

  const stream = await EventStream.open(api.url, { query: `?ticket=${ticket}` })
  t.teardown(() => { stream.close() })
  t.equal(stream.status, 200)
  t.equal(await stream.next(), ': connected')
  await api.call('POST', '/v1/queues/feed/messages', { token, body: 'hello' })
  const [event] = await stream.messages(1)
  t.equal(event.message.payload, 'hello', 'the stream is the session\'s')

  const again = await api.call('GET', `/v1/stream?ticket=${ticket}`)
  t.equal(again.status, 401)
  t.equal(codeOf(again), 'ticket_not_found', 'a second use is refused')

  const late = (await api.call('POST', '/v1/stream/tickets', { token })).json as StreamTicketResponse
  now += 30_000
  t.equal(codeOf(await api.call('GET', `/v1/stream?ticket=${late.ticket}`)), 'ticket_not_found', 'an expired ticket is refused')
  t.equal(codeOf(await api.call('GET', `/v1/stream?ticket=${token}`)), 'ticket_not_found', 'the session token is no ticket')
  t.equal(codeOf(await api.call('GET', `/v1/queues?ticket=${ticket}`)), 'invalid_request', 'tickets open the stream only')

  const orphan = (await api.call('POST', '/v1/stream/tickets', { token })).json as StreamTicketResponse
  await api.call('DELETE', '/v1/session', { token })
  t.equal(codeOf(await api.call('GET', `/v1/stream?ticket=${orphan.ticket}`)), 'session_not_found', 'the session it stood for is gone')
})
