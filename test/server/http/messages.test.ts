import t from 'tap'
import type { QueueInfo, SendResponse, TransferResponse } from '../../../protocol/wire.js'
import { codeOf, messageOf, startHttp, type Harness } from './fixtures.js'

/** A switch with one queue `q`, a session subscribed to it, and a session to send from. */
async function withQueue (t: Parameters<typeof startHttp>[0], maxPayload?: number): Promise<Harness & { token: string, sender: string }> {
  const harness = await startHttp(t, maxPayload === undefined ? {} : { maxPayload })
  const { api } = harness
  const token = await api.login('receiver')
  const sender = await api.login('sender')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  return { ...harness, token, sender }
}

async function transfer (harness: Harness & { token: string }, after = 0): Promise<TransferResponse> {
  const reply = await harness.api.call('GET', `/v1/transfer?after=${after}`, { token: harness.token })
  if (reply.status !== 200) throw new Error(`transfer: ${reply.status} ${reply.text}`)
  return reply.json as TransferResponse
}

t.test('send answers 201 with the id; transfer returns the message as sent', async (t) => {
  const h = await withQueue(t)
  const reply = await h.api.call('POST', '/v1/queues/q/messages?correlationId=req-7&replyTo=tmp-abc', {
    token: h.sender, body: 'hello', headers: { 'content-type': 'text/plain' }
  })
  t.equal(reply.status, 201)
  t.same(reply.json, { id: 1, duplicate: false })
  const second = (await h.api.call('POST', '/v1/queues/q/messages?error=true', { token: h.sender, body: '' })).json as SendResponse
  t.equal(second.id, 2, 'ids come from one counter')

  const { messages, next } = await transfer(h)
  t.equal(next, 2)
  t.match(messages, [
    { id: 1, queue: 'q', payload: 'hello', correlationId: 'req-7', replyTo: 'tmp-abc', origin: 'sender', time: Number },
    { id: 2, queue: 'q', payload: '', error: true, origin: 'sender' }
  ])
  t.notOk('encoding' in messages[0], 'text payloads carry no encoding')
  t.notOk('error' in messages[0], 'error is only set on failure replies')
})

t.test('the payload is the raw body, whatever the content type', async (t) => {
  const h = await withQueue(t)
  const bodies: Array<[string, string]> = [
    ['application/json', '{"not": valid json'],
    ['application/x-www-form-urlencoded', 'a=1&b=2'],
    ['image/png', 'not really a png'],
    ['', 'no content type at all']
  ]
  for (const [type, body] of bodies) {
    const headers: Record<string, string> = type === '' ? {} : { 'content-type': type }
    t.equal((await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body, headers })).status, 201, type)
  }
  t.same((await transfer(h)).messages.map((message) => message.payload), bodies.map(([, body]) => body))
})

t.test('a payload that is not UTF-8 comes back in base64 with its encoding', async (t) => {
  const h = await withQueue(t)
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41])
  await h.api.call('POST', '/v1/queues/q/messages', {
    token: h.sender, body: bytes, headers: { 'content-type': 'application/octet-stream' }
  })
  const [message] = (await transfer(h)).messages
  t.equal(message.encoding, 'base64')
  t.same(Buffer.from(message.payload, 'base64'), bytes)
})

t.test('a payload over maxPayload is a 413 and nothing is enqueued', async (t) => {
  const h = await withQueue(t, 16)
  t.equal((await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'x'.repeat(16) })).status, 201, 'exactly the limit')
  const reply = await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'x'.repeat(17) })
  t.equal(reply.status, 413)
  t.equal(codeOf(reply), 'payload_too_large')
  t.match((await h.api.call('GET', '/v1/queues/q')).json as QueueInfo, { length: 1 })
})

t.test('send errors: no session, missing queue, bad reply-to, bad parameters', async (t) => {
  const h = await withQueue(t)
  t.equal(codeOf(await h.api.call('POST', '/v1/queues/q/messages', { body: 'x' })), 'session_required')

  const missing = await h.api.call('POST', '/v1/queues/nowhere/messages', { token: h.sender, body: 'x' })
  t.equal(missing.status, 404)
  t.equal(codeOf(missing), 'queue_not_found')

  const badReplyTo = await h.api.call('POST', '/v1/queues/q/messages?replyTo=.hidden', { token: h.sender, body: 'x' })
  t.equal(badReplyTo.status, 400)
  t.equal(codeOf(badReplyTo), 'invalid_queue_name')

  const cases: Array<[string, RegExp]> = [
    ['?ack=0', /querystring\/ack/],
    ['?ack=abc', /querystring\/ack/],
    ['?error=perhaps', /querystring\/error/],
    [`?correlationId=${'c'.repeat(201)}`, /querystring\/correlationId/],
    ['?correlationId=a&correlationId=b', /querystring\/correlationId/],
    ['?priority=high', /additional properties/]
  ]
  for (const [query, message] of cases) {
    const reply = await h.api.call('POST', `/v1/queues/q/messages${query}`, { token: h.sender, body: 'x' })
    t.equal(reply.status, 400, query)
    t.equal(codeOf(reply), 'invalid_request', query)
    t.match(messageOf(reply), message, query)
  }
  t.match((await h.api.call('GET', '/v1/queues/q')).json as QueueInfo, { length: 0 }, 'no failed send enqueued anything')
})

t.test('an Idempotency-Key makes a retried send a duplicate of the first', async (t) => {
  const h = await withQueue(t)
  const send = async (key: string, body: string): Promise<SendResponse> => {
    const reply = await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body, headers: { 'idempotency-key': key } })
    t.equal(reply.status, 201)
    return reply.json as SendResponse
  }
  t.same(await send('k1', 'first'), { id: 1, duplicate: false })
  t.same(await send('k1', 'first, again'), { id: 1, duplicate: true })
  t.same(await send('k2', 'second'), { id: 2, duplicate: false })
  t.same((await transfer(h)).messages.map((message) => message.payload), ['first', 'second'])

  const empty = await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'x', headers: { 'idempotency-key': '' } })
  t.equal(empty.status, 400)
  t.match(messageOf(empty), /idempotency-key/)
})

t.test('ack removes a message; acking it again is 404 message_not_found', async (t) => {
  const h = await withQueue(t)
  await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'once' })
  const [message] = (await transfer(h)).messages
  const reply = await h.api.call('DELETE', `/v1/messages/${message.id}`, { token: h.token })
  t.equal(reply.status, 204)
  t.equal(reply.text, '')
  t.same((await transfer(h)).messages, [], 'gone for good')

  const again = await h.api.call('DELETE', `/v1/messages/${message.id}`, { token: h.token })
  t.equal(again.status, 404)
  t.equal(codeOf(again), 'message_not_found')
  t.equal(codeOf(await h.api.call('DELETE', '/v1/messages/999', { token: h.token })), 'message_not_found')
  t.equal(codeOf(await h.api.call('DELETE', `/v1/messages/${message.id}`)), 'session_required')
  for (const bad of ['0', 'abc', '1.5', '-3']) {
    const invalid = await h.api.call('DELETE', `/v1/messages/${bad}`, { token: h.token })
    t.equal(invalid.status, 400, bad)
    t.match(messageOf(invalid), /params\/id/, bad)
  }
})

t.test('unacked messages are delivered again from an earlier cursor', async (t) => {
  const h = await withQueue(t)
  await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'a' })
  await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'b' })
  const first = await transfer(h)
  t.same(await transfer(h, first.next), { messages: [], next: first.next }, 'nothing after the cursor')
  await h.api.call('DELETE', `/v1/messages/${first.messages[0].id}`, { token: h.token })
  t.same((await transfer(h)).messages.map((message) => message.payload), ['b'], 'the unacked one again')
})

t.test('reply-and-ack: a send with ack=<id> acks that message in the same step', async (t) => {
  const h = await withQueue(t)
  const server = await h.api.login('server')
  await h.api.call('PUT', '/v1/queues/service', { token: server })
  await h.api.call('PUT', '/v1/session/subscriptions/service', { token: server })
  const request = (await h.api.call('POST', '/v1/queues/service/messages?replyTo=q&correlationId=c1', { token: h.sender, body: 'ping' })).json as SendResponse

  const reply = await h.api.call('POST', `/v1/queues/q/messages?ack=${request.id}&correlationId=c1`, { token: server, body: 'pong' })
  t.equal(reply.status, 201)
  t.match((await h.api.call('GET', '/v1/queues/service')).json as QueueInfo, { length: 0 }, 'the request is acked')
  t.match((await transfer(h)).messages, [{ payload: 'pong', correlationId: 'c1', origin: 'server' }])

  const twice = await h.api.call('POST', `/v1/queues/q/messages?ack=${request.id}`, { token: server, body: 'pong again' })
  t.equal(twice.status, 404)
  t.equal(codeOf(twice), 'message_not_found')
  t.equal((await transfer(h)).messages.length, 1, 'a reply whose ack fails is not sent')
})

t.test('a reply to a caller whose session expired is 200 dropped, and its request is acked', async (t) => {
  const h = await withQueue(t)
  const server = await h.api.login('server')
  await h.api.call('PUT', '/v1/queues/service', { token: server })
  await h.api.call('PUT', '/v1/session/subscriptions/service', { token: server })
  const caller = await h.api.login('caller')
  const replies = (await h.api.call('POST', '/v1/queues', { token: caller })).json as { name: string }
  const request = (await h.api.call('POST', `/v1/queues/service/messages?replyTo=${replies.name}&correlationId=c7`, { token: caller, body: 'ping' })).json as SendResponse
  // The caller's session ends as an expiry would end it; its temporary queue goes with it.
  t.equal((await h.api.call('DELETE', '/v1/session', { token: caller })).status, 204)

  const reply = await h.api.call('POST', `/v1/queues/${replies.name}/messages?ack=${request.id}&correlationId=c7`, { token: server, body: 'pong' })
  t.equal(reply.status, 200, 'not 201: no message was made')
  t.same(reply.json, { dropped: true, acked: request.id })
  t.match((await h.api.call('GET', '/v1/queues/service')).json as QueueInfo, { length: 0 }, 'the request is acked')
  const polled = (await h.api.call('GET', '/v1/transfer?after=0', { token: server })).json as TransferResponse
  t.same(polled.messages, [], 'and is not delivered again')
  const diagnostics = await h.api.diagnostics()
  t.equal(diagnostics.dropped, 1, 'the drop is counted')
  const trace = (await h.api.call('GET', '/v1/trace?after=0')).json as { events: Array<{ type: string, queue?: string, messageId?: number }> }
  t.match(trace.events.slice(-2), [{ type: 'ack', messageId: request.id }, { type: 'drop', queue: replies.name }], 'and traced')

  const again = await h.api.call('POST', `/v1/queues/${replies.name}/messages?ack=${request.id}`, { token: server, body: 'pong' })
  t.equal(again.status, 404, 'once the request is acked, a reply to a missing queue is 404 as any send')
  t.equal(codeOf(again), 'queue_not_found')
})

t.test('subscribe and unsubscribe', async (t) => {
  const h = await withQueue(t)
  await h.api.call('PUT', '/v1/queues/other', { token: h.token })
  await h.api.call('POST', '/v1/queues/other/messages', { token: h.sender, body: 'elsewhere' })
  t.same((await transfer(h)).messages, [], 'not subscribed to other')

  const subscribe = await h.api.call('PUT', '/v1/session/subscriptions/other', { token: h.token })
  t.equal(subscribe.status, 204)
  t.equal(subscribe.text, '')
  t.equal((await h.api.call('PUT', '/v1/session/subscriptions/other', { token: h.token })).status, 204, 'idempotent')
  t.same((await transfer(h)).messages.map((message) => message.payload), ['elsewhere'])

  const unsubscribe = await h.api.call('DELETE', '/v1/session/subscriptions/other', { token: h.token })
  t.equal(unsubscribe.status, 204)
  t.same((await transfer(h)).messages, [])
  t.equal((await h.api.call('DELETE', '/v1/session/subscriptions/other', { token: h.token })).status, 204, 'idempotent')
  t.equal((await h.api.call('DELETE', '/v1/session/subscriptions/never-there', { token: h.token })).status, 204)

  const missing = await h.api.call('PUT', '/v1/session/subscriptions/nowhere', { token: h.token })
  t.equal(missing.status, 404)
  t.equal(codeOf(missing), 'queue_not_found')
  t.equal(codeOf(await h.api.call('PUT', '/v1/session/subscriptions/.bad', { token: h.token })), 'invalid_queue_name')
  t.equal(codeOf(await h.api.call('PUT', '/v1/session/subscriptions/q')), 'session_required')
  t.equal(codeOf(await h.api.call('DELETE', '/v1/session/subscriptions/q')), 'session_required')
})
