// The topic routes over real sockets: publish, bind, unbind, list bindings; fan-out to many subscribers.
import t from 'tap'
import type { CreateQueueResponse, Diagnostics, QueueInfo, TransferResponse } from '../../../protocol/wire.js'
import type { BindingsResponse, BindResponse, PublishResponse } from '../../../protocol/topics.js'
import { codeOf, messageOf, startHttp, type Api } from './fixtures.js'

const enc = encodeURIComponent

async function publish (api: Api, token: string, topic: string, body: string | Buffer, query = ''): Promise<PublishResponse> {
  const reply = await api.call('POST', `/v1/topics/${enc(topic)}/messages${query}`, { token, body })
  if (reply.status !== 201) throw new Error(`publish failed: ${reply.status} ${reply.text}`)
  return reply.json as PublishResponse
}

t.test('publish, bind, unbind and list bindings', async (t) => {
  const { api } = await startHttp(t, { maxPayload: 1024 })
  const token = await api.login('sensor')
  await api.call('PUT', '/v1/queues/temps', { token })
  const retained = await publish(api, token, 'site/rack1/temp', '21.5', '?retain=true')
  t.same(retained, { ids: [], count: 0, duplicate: false }, 'nobody listens yet: a success with no deliveries')

  const bound = await api.call('PUT', `/v1/queues/temps/bindings/${enc('site/+/temp')}`, { token })
  t.equal(bound.status, 201)
  t.same(bound.json as BindResponse, { queue: 'temps', filter: 'site/+/temp', created: true, retained: 1 }, 'the retained message came with it')
  const again = await api.call('PUT', `/v1/queues/temps/bindings/${enc('site/+/temp')}`, { token })
  t.same([again.status, (again.json as BindResponse).created], [200, false], 'binding again: 200')
  await api.call('PUT', `/v1/queues/temps/bindings/${enc('#')}`, { token })
  await api.call('PUT', `/v1/queues/temps/bindings/${enc('/finance')}`, { token })
  t.same((await api.call('GET', '/v1/queues/temps/bindings')).json as BindingsResponse, { queue: 'temps', filters: ['#', '/finance', 'site/+/temp'] })
  const listed = ((await api.call('GET', '/v1/queues')).json as { queues: QueueInfo[] }).queues
  t.same(listed[0].bindings, ['#', '/finance', 'site/+/temp'], 'the queue list shows the bindings')

  const keyed = await api.call('POST', `/v1/topics/${enc('/finance')}/messages`, { token, body: Buffer.from([0xff]), headers: { 'idempotency-key': 'k' } })
  t.same(keyed.status, 201)
  const { ids } = keyed.json as PublishResponse
  t.equal(ids.length, 1, 'matched by two bindings, delivered once')
  const retry = await api.call('POST', `/v1/topics/${enc('/finance')}/messages`, { token, body: Buffer.from([0xff]), headers: { 'idempotency-key': 'k' } })
  t.same(retry.json, { ids, count: 1, duplicate: true }, 'a retry with the same key is a duplicate')

  await api.call('PUT', '/v1/session/subscriptions/temps', { token })
  const { messages } = (await api.call('GET', '/v1/transfer?after=0', { token })).json as TransferResponse
  t.match(messages, [
    { queue: 'temps', topic: 'site/rack1/temp', payload: '21.5', retained: true, origin: 'sensor' },
    { queue: 'temps', topic: '/finance', payload: '/w==', encoding: 'base64' }
  ])
  t.equal(messages[1].retained, undefined, 'a live publish is not flagged retained')

  t.equal((await api.call('DELETE', `/v1/queues/temps/bindings/${enc('#')}`, { token })).status, 204)
  t.equal((await api.call('DELETE', `/v1/queues/temps/bindings/${enc('#')}`, { token })).status, 204, 'idempotent')
  t.same(((await api.call('GET', '/v1/queues/temps/bindings')).json as BindingsResponse).filters, ['/finance', 'site/+/temp'])
  const diagnostics = (await api.call('GET', '/v1/diagnostics')).json as Diagnostics
  t.same(diagnostics.retained, { count: 1, topics: ['site/rack1/temp'] })
  t.same(diagnostics.queues[0].bindings, ['/finance', 'site/+/temp'])
})

t.test('bad topics and filters are refused with the field named', async (t) => {
  const { api } = await startHttp(t, { maxPayload: 16 })
  const token = await api.login('c')
  await api.call('PUT', '/v1/queues/q', { token })
  const refusals: Array<[string, string, string, string, RegExp]> = [
    ['POST', `/v1/topics/${enc('a/+/b')}/messages`, 'invalid_request', 'topic', /may not hold \+ or #/],
    ['POST', `/v1/topics/${enc('a/#')}/messages`, 'invalid_request', 'topic', /may not hold \+ or #/],
    ['POST', `/v1/topics/${enc('a\u0001')}/messages`, 'invalid_request', 'topic', /control characters/],
    ['POST', '/v1/topics/a/messages?retain=maybe', 'invalid_request', 'retain', /boolean/],
    ['POST', '/v1/topics/a/messages?colour=blue', 'invalid_request', 'colour', /additional/],
    ['PUT', `/v1/queues/q/bindings/${enc('a/#/b')}`, 'invalid_request', 'filter', /# may only be the last level/],
    ['PUT', `/v1/queues/q/bindings/${enc('a+')}`, 'invalid_request', 'filter', /whole levels/],
    ['DELETE', `/v1/queues/q/bindings/${enc('#/a')}`, 'invalid_request', 'filter', /# may only be the last level/],
    ['PUT', `/v1/queues/.q/bindings/${enc('a')}`, 'invalid_queue_name', 'name', /may not start with/]
  ]
  for (const [method, path, code, field, message] of refusals) {
    const reply = await api.call(method as 'POST', path, { token, body: method === 'POST' ? 'x' : undefined })
    t.equal(reply.status, 400, `${method} ${path}: 400`)
    t.match(reply.json, { error: { code, field } }, `${method} ${path}: ${code} on ${field}`)
    t.match(messageOf(reply), message)
  }
  t.equal((await api.call('POST', `/v1/topics/${'a'.repeat(201)}/messages`, { token, body: 'x' })).status, 400, 'an overlong topic')
  t.equal(codeOf(await api.call('PUT', `/v1/queues/missing/bindings/${enc('a')}`, { token })), 'queue_not_found')
  t.equal(codeOf(await api.call('GET', '/v1/queues/missing/bindings')), 'queue_not_found')
  t.equal(codeOf(await api.call('POST', '/v1/topics/a/messages', { body: 'x' })), 'session_required')
  t.equal(codeOf(await api.call('PUT', '/v1/queues/q/bindings/a')), 'session_required')
  t.equal(codeOf(await api.call('POST', '/v1/topics/a/messages', { token, body: 'x'.repeat(17) })), 'payload_too_large')
})

t.test('fan-out: many temporary subscribers each receive every message exactly once, and nothing after acking', async (t) => {
  const { api } = await startHttp(t)
  const SUBSCRIBERS = 25
  const MESSAGES = 8
  const subscribers = await Promise.all(Array.from({ length: SUBSCRIBERS }, async (_, i) => {
    const token = await api.login(`subscriber-${i}`)
    const { name } = (await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse
    // Two overlapping filters: a message matching both still arrives once.
    await api.call('PUT', `/v1/queues/${name}/bindings/${enc('news/#')}`, { token })
    await api.call('PUT', `/v1/queues/${name}/bindings/${enc('news/+')}`, { token })
    await api.call('PUT', `/v1/session/subscriptions/${name}`, { token })
    return { token, name }
  }))
  const publisher = await api.login('publisher')
  const sent: string[] = []
  const receiving = subscribers.map(async ({ token }) => {
    const payloads: string[] = []
    let after = 0
    while (payloads.length < MESSAGES) {
      const page = (await api.call('GET', `/v1/transfer?after=${after}&timeout=10`, { token })).json as TransferResponse
      for (const message of page.messages) {
        payloads.push(message.payload)
        t.equal((await api.call('DELETE', `/v1/messages/${message.id}`, { token })).status, 204)
      }
      after = page.next
    }
    const rest = (await api.call('GET', '/v1/transfer?after=0&timeout=0', { token })).json as TransferResponse
    return { payloads, rest: rest.messages }
  })
  for (let i = 0; i < MESSAGES; i++) {
    const topic = i % 2 === 0 ? `news/${i}` : `news/deep/${i}`
    const body = `notice ${i}`
    sent.push(body)
    t.equal((await publish(api, publisher, topic, body)).count, SUBSCRIBERS)
  }
  for (const { payloads, rest } of await Promise.all(receiving)) {
    t.same(payloads, sent, 'every message, once, in order')
    t.same(rest, [], 'acked: nothing comes again')
  }
  const left = (await api.diagnostics()).queues.filter((queue) => queue.messages.length > 0)
  t.same(left, [], 'no queue holds anything')
})
