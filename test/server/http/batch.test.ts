import t from 'tap'
import type { BatchAckResponse, BatchSendResponse, QueueInfo, SendResponse, TransferResponse } from '../../../protocol/wire.js'
import { codeOf, messageOf, startHttp, type Harness } from './fixtures.js'

/** A switch with queues `q` and `service`, a receiver subscribed to both, and a sender. */
async function withQueues (t: Parameters<typeof startHttp>[0], maxPayload?: number): Promise<Harness & { token: string, sender: string }> {
  const harness = await startHttp(t, maxPayload === undefined ? {} : { maxPayload })
  const { api } = harness
  const token = await api.login('receiver')
  const sender = await api.login('sender')
  for (const queue of ['q', 'service']) {
    await api.call('PUT', `/v1/queues/${queue}`, { token })
    await api.call('PUT', `/v1/session/subscriptions/${queue}`, { token })
  }
  return { ...harness, token, sender }
}

async function transfer (harness: Harness & { token: string }): Promise<TransferResponse> {
  return (await harness.api.call('GET', '/v1/transfer?after=0', { token: harness.token })).json as TransferResponse
}

async function length (harness: Harness, queue: string): Promise<number> {
  return ((await harness.api.call('GET', `/v1/queues/${queue}`)).json as QueueInfo).length
}

t.test('a batch send applies every message in order and answers each one', async (t) => {
  const h = await withQueues(t)
  const reply = await h.api.call('POST', '/v1/messages', {
    token: h.sender,
    json: {
      messages: [
        { queue: 'q', payload: 'one', correlationId: 'c1', replyTo: 'service' },
        { queue: 'nowhere', payload: 'lost' },
        { queue: 'service', payload: Buffer.from([0xff, 0x00]).toString('base64'), encoding: 'base64', error: true },
        { queue: 'q', payload: 'bad reply-to', replyTo: '.hidden' },
        { queue: 'q', payload: 'four' }
      ]
    }
  })
  t.equal(reply.status, 200)
  const { results } = reply.json as BatchSendResponse
  t.same(results[0], { id: 1, duplicate: false })
  t.match(results[1], { error: { code: 'queue_not_found', message: /nowhere/ } })
  t.same(results[2], { id: 2, duplicate: false })
  t.match(results[3], { error: { code: 'invalid_queue_name', field: 'replyTo' } })
  t.same(results[4], { id: 3, duplicate: false }, 'a failed item takes no id and stops nothing')

  t.match((await transfer(h)).messages, [
    { id: 1, queue: 'q', payload: 'one', correlationId: 'c1', replyTo: 'service', origin: 'sender' },
    { id: 2, queue: 'service', payload: '/wA=', encoding: 'base64', error: true },
    { id: 3, queue: 'q', payload: 'four' }
  ])
})

t.test('idempotency keys work within a batch and across batches, as for single sends', async (t) => {
  const h = await withQueues(t)
  const send = async (messages: unknown[]): Promise<BatchSendResponse['results']> =>
    ((await h.api.call('POST', '/v1/messages', { token: h.sender, json: { messages } })).json as BatchSendResponse).results
  t.same(await send([
    { queue: 'q', payload: 'a', idempotencyKey: 'k1' },
    { queue: 'q', payload: 'a again', idempotencyKey: 'k1' },
    { queue: 'service', payload: 'same key, other queue', idempotencyKey: 'k1' }
  ]), [{ id: 1, duplicate: false }, { id: 1, duplicate: true }, { id: 2, duplicate: false }])
  // A batch retried after a lost answer: each message once.
  t.same(await send([{ queue: 'q', payload: 'a', idempotencyKey: 'k1' }, { queue: 'q', payload: 'b', idempotencyKey: 'k2' }]),
    [{ id: 1, duplicate: true }, { id: 3, duplicate: false }])
  const single = await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body: 'b', headers: { 'idempotency-key': 'k2' } })
  t.same(single.json as SendResponse, { id: 3, duplicate: true }, 'the single send sees the batch keys')
  t.same((await transfer(h)).messages.map((message) => message.payload), ['a', 'same key, other queue', 'b'])
})

t.test('reply-and-ack per item: each reply acks its own request, or is not sent', async (t) => {
  const h = await withQueues(t)
  const server = await h.api.login('server')
  const ids: number[] = []
  for (const body of ['r1', 'r2']) {
    ids.push(((await h.api.call('POST', '/v1/queues/service/messages?replyTo=q', { token: h.sender, body })).json as SendResponse).id)
  }
  const { results } = (await h.api.call('POST', '/v1/messages', {
    token: server,
    json: {
      messages: [
        { queue: 'q', payload: 'answer 1', ack: ids[0], correlationId: 'c1' },
        { queue: 'q', payload: 'answer 1 again', ack: ids[0] },
        { queue: 'q', payload: 'answer 2', ack: ids[1] }
      ]
    }
  })).json as BatchSendResponse
  t.match(results, [{ id: Number, duplicate: false }, { error: { code: 'message_not_found' } }, { id: Number, duplicate: false }])
  t.equal(await length(h, 'service'), 0, 'both requests acked')
  t.same((await transfer(h)).messages.filter((message) => message.queue === 'q').map((message) => message.payload), ['answer 1', 'answer 2'])
})

t.test('a batch reply to a queue that is gone acks its request and answers the drop; a bad name is refused', async (t) => {
  const h = await withQueues(t)
  const server = await h.api.login('server')
  const request = ((await h.api.call('POST', '/v1/queues/service/messages?replyTo=gone', { token: h.sender, body: 'r' })).json as SendResponse).id
  const { results } = (await h.api.call('POST', '/v1/messages', {
    token: server,
    json: {
      messages: [
        { queue: 'gone', payload: 'answer', ack: request },
        { queue: 'bad name!', payload: 'x' },
        { queue: 'q', payload: 'still sent' }
      ]
    }
  })).json as BatchSendResponse
  t.match(results, [
    { dropped: true, acked: request },
    { error: { code: 'invalid_queue_name', field: 'queue' } },
    { id: Number, duplicate: false }
  ])
  t.equal(await length(h, 'service'), 0, 'the request is acked')
  t.equal((await h.api.diagnostics()).dropped, 1)
})

t.test('batch send limits: payload size per item, validation of the whole body', async (t) => {
  const h = await withQueues(t, 8)
  const { results } = (await h.api.call('POST', '/v1/messages', {
    token: h.sender,
    json: { messages: [{ queue: 'q', payload: '12345678' }, { queue: 'q', payload: '123456789' }, { queue: 'q', payload: 'not base64!', encoding: 'base64' }] }
  })).json as BatchSendResponse
  t.same(results[0], { id: 1, duplicate: false }, 'exactly the limit')
  t.match(results[1], { error: { code: 'payload_too_large' } })
  t.match(results[2], { error: { code: 'invalid_request', field: 'payload', message: /messages\/2\/payload is not valid base64/ } })
  t.equal(await length(h, 'q'), 1)

  // A batch may be larger than one payload may: it carries many.
  const many = Array.from({ length: 1000 }, () => ({ queue: 'q', payload: '12345678' }))
  const big = await h.api.call('POST', '/v1/messages', { token: h.sender, json: { messages: many } })
  t.equal(big.status, 200)
  t.equal((big.json as BatchSendResponse).results.length, 1000)

  const invalid: Array<[unknown, RegExp]> = [
    [{ messages: [] }, /messages/],
    [{ messages: [...many, { queue: 'q', payload: 'x' }] }, /messages/],
    [{ messages: [{ queue: 'q' }] }, /payload/],
    [{ messages: [{ queue: 'q', payload: 'x', priority: 'high' }] }, /additional properties/],
    [{ messages: [{ queue: 'q', payload: 'x', ack: 0 }] }, /ack/],
    [{ messages: [{ queue: 'q', payload: 'x', encoding: 'hex' }] }, /encoding/],
    [{ messages: [{ queue: 'q', payload: 'x', idempotencyKey: '' }] }, /idempotencyKey/],
    [{}, /messages/]
  ]
  for (const [json, message] of invalid) {
    const reply = await h.api.call('POST', '/v1/messages', { token: h.sender, json })
    t.equal(reply.status, 400, JSON.stringify(json).slice(0, 80))
    t.equal(codeOf(reply), 'invalid_request')
    t.match(messageOf(reply), message)
  }
  t.equal(await length(h, 'q'), 1001, 'no invalid batch enqueued anything')
  t.equal(codeOf(await h.api.call('POST', '/v1/messages', { json: { messages: [{ queue: 'q', payload: 'x' }] } })), 'session_required')
  t.equal(codeOf(await h.api.call('POST', '/v1/messages', { token: h.sender, body: 'x', headers: { 'content-type': 'text/plain' } })), 'unsupported_media_type')
})

t.test('a batch ack acks what it can and reports the ids it could not', async (t) => {
  const h = await withQueues(t)
  for (const body of ['a', 'b', 'c']) await h.api.call('POST', '/v1/queues/q/messages', { token: h.sender, body })
  const reply = await h.api.call('POST', '/v1/acks', { token: h.token, json: { ids: [1, 99, 3, 1] } })
  t.equal(reply.status, 200)
  t.same(reply.json as BatchAckResponse, { acked: [1, 3], missing: [99, 1] }, 'an id twice: acked once, then missing')
  t.same((await transfer(h)).messages.map((message) => message.payload), ['b'])
  t.same((await h.api.call('POST', '/v1/acks', { token: h.token, json: { ids: [2] } })).json as BatchAckResponse, { acked: [2], missing: [] })

  t.equal(codeOf(await h.api.call('POST', '/v1/acks', { json: { ids: [1] } })), 'session_required')
  for (const json of [{ ids: [] }, { ids: [0] }, { ids: ['x'] }, { ids: Array.from({ length: 1001 }, (_, i) => i + 1) }, {}]) {
    t.equal(codeOf(await h.api.call('POST', '/v1/acks', { token: h.token, json })), 'invalid_request', JSON.stringify(json).slice(0, 40))
  }
})

t.test('a switch shutting down refuses a batch send as a whole', async (t) => {
  const h = await withQueues(t)
  h.running.core.shutdown()
  const reply = await h.api.call('POST', '/v1/messages', { token: h.sender, json: { messages: [{ queue: 'q', payload: 'late' }] } })
  t.equal(reply.status, 503)
  t.equal(codeOf(reply), 'shutting_down')
})

t.test('ttl and delay per batch item, by the single send\'s rules', async (t) => {
  const h = await withQueues(t)
  await h.api.call('PUT', '/v1/queues/jobs', { token: h.token, json: { mode: 'work' } })
  const { results } = (await h.api.call('POST', '/v1/messages', {
    token: h.sender,
    json: {
      messages: [
        { queue: 'jobs', payload: 'later', delay: 3600, ttl: 7200 },
        { queue: 'q', payload: 'not on a cursor queue', delay: 60 },
        { queue: 'q', payload: 'expiring', ttl: 0.5 },
        { queue: 'q', payload: 'no delay is no delay', delay: 0 }
      ]
    }
  })).json as BatchSendResponse
  t.match(results, [
    { id: 1, duplicate: false },
    { error: { code: 'invalid_request', field: 'delay', message: /work queue/ } },
    { id: 2, duplicate: false },
    { id: 3, duplicate: false }
  ])
  const later = h.running.core.message(1)
  t.equal(later?.notBefore, (later?.time ?? 0) + 3_600_000, 'delay in seconds')
  t.equal(later?.expires, (later?.time ?? 0) + 7_200_000, 'ttl in seconds')
  const expiring = h.running.core.message(2)
  t.equal(expiring?.expires, (expiring?.time ?? 0) + 500)

  const single = await h.api.call('POST', '/v1/queues/q/messages?delay=60', { token: h.sender, body: 'x' })
  t.same(single.json, { error: (results[1] as { error: unknown }).error }, 'the same error as the single send')
  for (const item of [{ ttl: 0 }, { ttl: 1209601 }, { delay: -1 }, { delay: 'soon' }]) {
    const reply = await h.api.call('POST', '/v1/messages', { token: h.sender, json: { messages: [{ queue: 'q', payload: 'x', ...item }] } })
    t.equal(codeOf(reply), 'invalid_request', JSON.stringify(item))
  }
})
