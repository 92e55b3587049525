import t from 'tap'
import type { CreateQueueResponse, ListResponse, QueueInfo, TransferResponse } from '../../../protocol/wire.js'
import { codeOf, messageOf, startHttp, waitingOn } from './fixtures.js'

t.test('PUT creates a persistent queue: 201 the first time, 200 after', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  const first = await api.call('PUT', '/v1/queues/org.xen.xapi', { token })
  t.equal(first.status, 201)
  t.same(first.json, { name: 'org.xen.xapi', kind: 'persistent', created: true })
  const again = await api.call('PUT', '/v1/queues/org.xen.xapi', { token })
  t.equal(again.status, 200)
  t.same(again.json, { name: 'org.xen.xapi', kind: 'persistent', created: false })

  const info = await api.call('GET', '/v1/queues/org.xen.xapi')
  t.equal(info.status, 200)
  t.same(info.json, { name: 'org.xen.xapi', kind: 'persistent', length: 0, alive: false })
})

t.test('POST creates a temporary queue with a fresh name, owned by the session', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('rpc-client')
  const reply = await api.call('POST', '/v1/queues', { token })
  t.equal(reply.status, 201)
  const created = reply.json as CreateQueueResponse
  t.match(created, { name: /^tmp-[0-9a-z]{12}$/, kind: 'temporary', created: true })
  const other = (await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse
  t.not(other.name, created.name)
  t.match((await api.call('GET', `/v1/queues/${created.name}`)).json, { kind: 'temporary', owner: 'rpc-client' })
  t.equal(codeOf(await api.call('POST', '/v1/queues')), 'session_required')
})

t.test('queue names with / are percent-encoded in the path', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  const name = 'svc/a:b@c_d-e.f'
  const path = `/v1/queues/${encodeURIComponent(name)}`
  t.match((await api.call('PUT', path, { token })).json, { name, created: true })
  t.match((await api.call('GET', path)).json, { name })
  t.equal((await api.call('PUT', `/v1/session/subscriptions/${encodeURIComponent(name)}`, { token })).status, 204)
  t.equal((await api.call('POST', `${path}/messages`, { token, body: 'x' })).status, 201)
  const transfer = (await api.call('GET', '/v1/transfer', { token })).json as TransferResponse
  t.equal(transfer.messages[0].queue, name)
  t.equal((await api.call('DELETE', path, { token })).status, 204)
  t.equal(codeOf(await api.call('GET', path)), 'queue_not_found')
})

t.test('names of up to 200 characters work; longer or outside the charset are 400', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  const longest = 'q'.repeat(200)
  t.equal((await api.call('PUT', `/v1/queues/${longest}`, { token })).status, 201)
  t.equal((await api.call('GET', `/v1/queues/${longest}`)).status, 200)

  const tooLong = await api.call('PUT', `/v1/queues/${'q'.repeat(201)}`, { token })
  t.equal(tooLong.status, 400)
  t.equal(codeOf(tooLong), 'invalid_request')
  t.match(messageOf(tooLong), /200/)

  for (const bad of ['.hidden', '%2Fabs', 'with%20space', 'caf%C3%A9', 'semi%3Bcolon']) {
    const reply = await api.call('PUT', `/v1/queues/${bad}`, { token })
    t.equal(reply.status, 400, bad)
    t.equal(codeOf(reply), 'invalid_queue_name', bad)
  }
  t.same((await api.call('GET', '/v1/queues')).json, {
    queues: [{ name: longest, kind: 'persistent', length: 0, alive: false }]
  }, 'no bad name was created')

  const badEncoding = await api.call('GET', '/v1/queues/%zz')
  t.equal(badEncoding.status, 400)
  t.equal(codeOf(badEncoding), 'invalid_request')
})

t.test('GET and DELETE of a missing queue are 404 queue_not_found', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  const get = await api.call('GET', '/v1/queues/nope')
  t.equal(get.status, 404)
  t.equal(codeOf(get), 'queue_not_found')
  t.match(messageOf(get), /nope/)
  const del = await api.call('DELETE', '/v1/queues/nope', { token })
  t.equal(del.status, 404)
  t.equal(codeOf(del), 'queue_not_found')
  t.equal(codeOf(await api.call('DELETE', '/v1/queues/nope')), 'session_required')
  t.equal(codeOf(await api.call('PUT', '/v1/queues/nope')), 'session_required')
})

t.test('GET of one queue among 100,000 looks it up without listing them', async (t) => {
  const { api, running } = await startHttp(t)
  const token = await api.login('many')
  const session = running.core.enter(token)
  for (let i = 0; i < 99_999; i++) await running.core.createQueue(session, `q${i}`)
  running.core.leave(session)
  await api.call('PUT', '/v1/queues/q5', { token })
  await api.call('PUT', '/v1/queues/q5/bindings/x', { token })
  await api.call('POST', '/v1/queues/q5/messages', { token, body: 'x' })
  const listed = ((await api.call('GET', '/v1/queues?prefix=q5')).json as ListResponse).queues.find((queue) => queue.name === 'q5')
  running.core.list = () => { throw new Error('GET /v1/queues/{name} must not list') }
  const got = await api.call('GET', '/v1/queues/q5')
  t.equal(got.status, 200)
  t.same(got.json, listed, 'the same entry as list gives')
  t.match(got.json, { name: 'q5', kind: 'persistent', length: 1, bindings: ['x'] })
})

t.test('DELETE destroys a queue and its messages', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  await api.call('PUT', '/v1/queues/doomed', { token })
  const sent = await api.call('POST', '/v1/queues/doomed/messages', { token, body: 'x' })
  t.match((await api.call('GET', '/v1/queues/doomed')).json, { length: 1 })
  const reply = await api.call('DELETE', '/v1/queues/doomed', { token })
  t.equal(reply.status, 204)
  t.equal(reply.text, '')
  t.equal(codeOf(await api.call('DELETE', `/v1/messages/${(sent.json as { id: number }).id}`, { token })), 'message_not_found')
})

t.test('list: sorted, by prefix, alive only', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('lister')
  for (const name of ['b.two', 'a.one', 'b.one']) await api.call('PUT', `/v1/queues/${name}`, { token })
  const all = (await api.call('GET', '/v1/queues')).json as ListResponse
  t.same(all.queues.map((queue) => queue.name), ['a.one', 'b.one', 'b.two'])
  const some = (await api.call('GET', '/v1/queues?prefix=b.')).json as ListResponse
  t.same(some.queues.map((queue) => queue.name), ['b.one', 'b.two'])
  t.same((await api.call('GET', '/v1/queues?prefix=zzz')).json, { queues: [] })

  t.same((await api.call('GET', '/v1/queues?alive=true')).json, { queues: [] }, 'nobody polls yet')
  await api.call('PUT', '/v1/session/subscriptions/b.two', { token })
  const poll = api.call('GET', '/v1/transfer?timeout=30', { token })
  await waitingOn(api, 'b.two', 1)
  const alive = (await api.call('GET', '/v1/queues?alive=true')).json as ListResponse
  t.same(alive.queues.map((queue: QueueInfo) => [queue.name, queue.alive]), [['b.two', true]])
  t.same(((await api.call('GET', '/v1/queues?alive=false')).json as ListResponse).queues.length, 3, 'alive=false lists all')
  await api.call('POST', '/v1/queues/b.two/messages', { token: await api.login('sender'), body: 'wake' })
  t.equal((await poll).status, 200)
})

t.test('list refuses unknown, repeated and malformed query parameters', async (t) => {
  const { api } = await startHttp(t)
  const cases: Array<[string, RegExp]> = [
    ['/v1/queues?bogus=1', /querystring must NOT have additional properties/],
    ['/v1/queues?prefix=a&prefix=b', /querystring\/prefix/],
    ['/v1/queues?alive=maybe', /querystring\/alive/],
    ['/v1/queues?alive=true&alive=false', /querystring\/alive/],
    [`/v1/queues?prefix=${'p'.repeat(201)}`, /querystring\/prefix/]
  ]
  for (const [path, message] of cases) {
    const reply = await api.call('GET', path)
    t.equal(reply.status, 400, path)
    t.equal(codeOf(reply), 'invalid_request', path)
    t.match(messageOf(reply), message, path)
  }
})
