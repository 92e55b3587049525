import t from 'tap'
import type { Diagnostics, HealthResponse, TraceResponse } from '../../../protocol/wire.js'
import { startHttp, waitingOn } from './fixtures.js'

t.test('diagnostics shows queues, their messages and waiters, and sessions without their tokens', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('diag')
  await api.call('PUT', '/v1/queues/held', { token })
  await api.call('PUT', '/v1/queues/watched', { token })
  await api.call('PUT', '/v1/session/subscriptions/watched', { token })
  await api.call('POST', '/v1/queues/held/messages?correlationId=c9&replyTo=watched', { token, body: 'a'.repeat(100) })
  const poll = api.call('GET', '/v1/transfer?timeout=60', { token })
  await waitingOn(api, 'watched', 1)

  const reply = await api.call('GET', '/v1/diagnostics')
  t.equal(reply.status, 200)
  const diagnostics = reply.json as Diagnostics
  t.match(diagnostics, {
    startTime: Number,
    now: Number,
    store: { kind: 'memory' },
    queues: [
      {
        name: 'held',
        kind: 'persistent',
        waiting: 0,
        messages: [{ id: 1, origin: 'diag', correlationId: 'c9', replyTo: 'watched', size: 100, age: Number, time: Number }]
      },
      { name: 'watched', kind: 'persistent', waiting: 1, messages: [], lastTransfer: Number, nextTransferExpected: Number }
    ],
    sessions: [{ client: 'diag', subscriptions: ['watched'], queues: [], inFlight: 1 }]
  })
  const [held] = diagnostics.queues
  t.ok(held.messages[0].preview.length < 100, 'the preview is a prefix of the payload')
  t.match(diagnostics.sessions[0].id, /^[0-9a-f]{8}$/, 'a short id tells sessions apart')
  t.notOk(JSON.stringify(diagnostics).includes(token.slice(0, 6)), 'no part of a token')

  await api.call('POST', '/v1/queues/watched/messages', { token, body: 'done' })
  t.equal((await poll).status, 200)
})

t.test('the trace records sends, deliveries and acks with processing times', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('tracer')
  await api.call('PUT', '/v1/queues/traced', { token })
  await api.call('PUT', '/v1/session/subscriptions/traced', { token })
  await api.call('POST', '/v1/queues/traced/messages?correlationId=r1', { token, body: 'request' })
  await api.call('GET', '/v1/transfer', { token })
  await api.call('POST', '/v1/queues/traced/messages?ack=1', { token, body: 'reply' })

  const trace = (await api.call('GET', '/v1/trace?after=0&max=100')).json as TraceResponse
  t.match(trace.events.map((event) => event.type), ['login', 'create', 'send', 'deliver', 'send', 'ack'])
  t.match(trace.events[2], { type: 'send', client: 'tracer', queue: 'traced', messageId: 1, correlationId: 'r1' })
  t.match(trace.events[5], { type: 'ack', messageId: 1, processingTime: Number })
  t.equal(trace.next, trace.events[trace.events.length - 1].id)
  const page = (await api.call('GET', '/v1/trace?after=2&max=2')).json as TraceResponse
  t.same(page.events.map((event) => event.id), [3, 4])
  t.equal(page.next, 4)
})

t.test('health answers ok with an uptime', async (t) => {
  const { api } = await startHttp(t)
  const reply = await api.call('GET', '/v1/health')
  t.equal(reply.status, 200)
  const health = reply.json as HealthResponse
  t.equal(health.status, 'ok')
  t.ok(Number.isInteger(health.uptime) && health.uptime >= 0)
})

t.test('shutdown answers 202, ends waiting long-polls with an empty list, and the switch stops', async (t) => {
  const { api, running } = await startHttp(t)
  const token = await api.login('last')
  await api.call('PUT', '/v1/queues/final', { token })
  await api.call('PUT', '/v1/session/subscriptions/final', { token })
  const poll = api.call('GET', '/v1/transfer?after=0&timeout=60', { token })
  const tracePoll = api.call('GET', '/v1/trace?after=1000&timeout=60')
  await waitingOn(api, 'final', 1)

  const reply = await api.call('POST', '/v1/shutdown')
  t.equal(reply.status, 202)
  t.same(reply.json, { status: 'shutting_down' })
  const answered = await poll
  t.equal(answered.status, 200)
  t.same(answered.json, { messages: [], next: 0 })
  t.equal((await tracePoll).status, 200, 'a trace long-poll is answered too')
  await running.stopped
  t.ok(running.core.shuttingDown)
  await t.rejects(api.call('GET', '/v1/health'), 'the listener is closed')
})
