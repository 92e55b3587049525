import t from 'tap'
import type { TraceResponse, TransferResponse } from '../../../protocol/wire.js'
import { codeOf, eventually, messageOf, startHttp, waitingOn } from './fixtures.js'

t.test('a long-poll waits and is woken by a send through HTTP', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('worker')
  await api.call('PUT', '/v1/queues/jobs', { token })
  await api.call('PUT', '/v1/session/subscriptions/jobs', { token })
  const poll = api.call('GET', '/v1/transfer?after=0&timeout=60', { token })
  await waitingOn(api, 'jobs', 1)

  const sender = await api.login('producer')
  const sent = await api.call('POST', '/v1/queues/jobs/messages?correlationId=job-1', { token: sender, body: 'work' })
  t.equal(sent.status, 201)
  const reply = await poll
  t.equal(reply.status, 200)
  const body = reply.json as TransferResponse
  t.match(body, { messages: [{ id: 1, queue: 'jobs', payload: 'work', correlationId: 'job-1', origin: 'producer' }], next: 1 })
  await waitingOn(api, 'jobs', 0)
})

t.test('a long-poll that sees nothing answers empty after its timeout, with the same cursor', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('idle')
  await api.call('PUT', '/v1/queues/quiet', { token })
  await api.call('PUT', '/v1/session/subscriptions/quiet', { token })
  const reply = await api.call('GET', '/v1/transfer?after=41&timeout=0.1', { token })
  t.equal(reply.status, 200)
  t.same(reply.json, { messages: [], next: 41 })
  t.same((await api.call('GET', '/v1/transfer', { token })).json, { messages: [], next: 0 }, 'no timeout answers at once')

  const plain = await api.login('no-subscriptions')
  t.same((await api.call('GET', '/v1/transfer?timeout=0.05', { token: plain })).json, { messages: [], next: 0 })
})

t.test('a subscription made while a long-poll waits is honoured by it', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('late')
  const sender = await api.login('sender')
  await api.call('PUT', '/v1/queues/first', { token })
  await api.call('PUT', '/v1/queues/second', { token })
  await api.call('PUT', '/v1/session/subscriptions/first', { token })
  const poll = api.call('GET', '/v1/transfer?timeout=60', { token })
  await waitingOn(api, 'first', 1)
  await api.call('PUT', '/v1/session/subscriptions/second', { token })
  await api.call('POST', '/v1/queues/second/messages', { token: sender, body: 'via the new subscription' })
  t.match((await poll).json, { messages: [{ queue: 'second', payload: 'via the new subscription' }] })
})

t.test('max bounds the messages of one transfer; next continues from there', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('reader')
  await api.call('PUT', '/v1/queues/many', { token })
  await api.call('PUT', '/v1/session/subscriptions/many', { token })
  for (let i = 1; i <= 5; i++) await api.call('POST', '/v1/queues/many/messages', { token, body: `m${i}` })
  const first = (await api.call('GET', '/v1/transfer?after=0&max=2', { token })).json as TransferResponse
  t.same(first.messages.map((message) => message.payload), ['m1', 'm2'])
  t.equal(first.next, 2)
  const rest = (await api.call('GET', `/v1/transfer?after=${first.next}&max=10`, { token })).json as TransferResponse
  t.same(rest.messages.map((message) => message.payload), ['m3', 'm4', 'm5'])
  t.equal(rest.next, 5)
})

for (const route of ['/v1/transfer', '/v1/trace']) {
  t.test(`${route} refuses bad after, timeout and max with a 400 naming the field`, async (t) => {
    const { api } = await startHttp(t)
    const token = await api.login('picky')
    const cases: Array<[string, RegExp]> = [
      ['after=-1', /querystring\/after/],
      ['after=1.5', /querystring\/after/],
      ['after=abc', /querystring\/after/],
      ['after=', /querystring\/after/],
      ['after=9007199254740992', /querystring\/after/],
      ['after=1&after=2', /querystring\/after/],
      ['timeout=-1', /querystring\/timeout/],
      ['timeout=86401', /querystring\/timeout/],
      ['timeout=abc', /querystring\/timeout/],
      ['timeout=NaN', /querystring\/timeout/],
      ['timeout=1e309', /querystring\/timeout/],
      ['timeout=Infinity', /querystring\/timeout/],
      ['timeout=1&timeout=2', /querystring\/timeout/],
      ['max=0', /querystring\/max/],
      ['max=1.5', /querystring\/max/],
      ['max=1000001', /querystring\/max/],
      ['max=ten', /querystring\/max/],
      ['cursor=3', /additional properties/]
    ]
    for (const [query, message] of cases) {
      const reply = await api.call('GET', `${route}?${query}`, { token })
      t.equal(reply.status, 400, query)
      t.equal(codeOf(reply), 'invalid_request', query)
      t.match(messageOf(reply), message, query)
    }
    t.equal((await api.call('GET', `${route}?after=0&timeout=0.01&max=1`, { token })).status, 200, 'valid values pass')
  })
}

t.test('transfer needs a session', async (t) => {
  const { api } = await startHttp(t)
  t.equal(codeOf(await api.call('GET', '/v1/transfer')), 'session_required')
  t.equal(codeOf(await api.call('GET', '/v1/transfer', { token: 'forged' })), 'session_not_found')
})

t.test('a client that goes away mid long-poll releases it', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('impatient')
  await api.call('PUT', '/v1/queues/abandoned', { token })
  await api.call('PUT', '/v1/session/subscriptions/abandoned', { token })
  const controller = new AbortController()
  const poll = api.call('GET', '/v1/transfer?timeout=60', { token, signal: controller.signal })
  await waitingOn(api, 'abandoned', 1)
  const session = (await api.diagnostics()).sessions.find((candidate) => candidate.client === 'impatient')
  t.equal(session?.inFlight, 1)

  controller.abort()
  await t.rejects(poll, 'the client gave up')
  await waitingOn(api, 'abandoned', 0)
  await eventually('the lease to be released', async () => {
    const found = (await api.diagnostics()).sessions.find((candidate) => candidate.client === 'impatient')
    return found?.inFlight === 0 ? true : undefined
  })

  // A message sent now is not lost to the abandoned poll: the next transfer gets it.
  await api.call('POST', '/v1/queues/abandoned/messages', { token, body: 'kept' })
  t.match((await api.call('GET', '/v1/transfer', { token })).json, { messages: [{ payload: 'kept' }] })
})

t.test('trace long-polls too: it is woken by the next event', async (t) => {
  const { api } = await startHttp(t)
  const first = (await api.call('GET', '/v1/trace')).json as TraceResponse
  t.same(first, { events: [], next: 0 })
  const poll = api.call('GET', '/v1/trace?after=0&timeout=60')
  // Nothing reports a waiting trace reader, but the login below happens after the request is sent, and an
  // event recorded before the wait began is found by the wait's first look: both orders answer the same.
  await api.login('traced')
  const reply = await poll
  t.equal(reply.status, 200)
  t.match(reply.json, { events: [{ id: 1, type: 'login', client: 'traced', time: Number }], next: 1 })
  t.same((await api.call('GET', '/v1/trace?after=1&timeout=0.05')).json, { events: [], next: 1 })
})
