// Slow, stuck and too many clients cannot hold the switch: a request must arrive within its timeouts (a long-poll's
// wait is not counted), idle connections are closed, connections beyond the cap are refused, and everyone else
// is served meanwhile. The timeouts here are short so that the test is; nothing waits on the clock but the switch.
import t from 'tap'
import { eventually, startHttp, waitingOn } from './fixtures.js'
import { openSocket, parseReply, rawRequest, readAll } from './raw.js'

const TIMEOUTS = { headersTimeout: 200, requestTimeout: 400 }

t.test('a client that sends nothing, or its headers slowly, gets a 408 and is disconnected', async (t) => {
  const { api } = await startHttp(t, TIMEOUTS)
  const silent = await openSocket(api.url)
  const slow = await openSocket(api.url)
  slow.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Trickle: ')
  const answers = [readAll(silent), readAll(slow)]
  t.equal((await api.call('GET', '/v1/health')).status, 200, 'others are served meanwhile')
  for (const [what, answer] of [['silent', answers[0]], ['slow headers', answers[1]]] as const) {
    const { data, closed } = await answer
    const reply = parseReply(data, closed)
    t.equal(reply.status, 408, what)
    t.match(reply.json, { error: { code: 'request_timeout', message: /not received in time/ } }, what)
    t.ok(reply.closed, `${what}: disconnected`)
  }
})

t.test('a body that never completes is cut off, and nothing of it is enqueued', async (t) => {
  const { api } = await startHttp(t, TIMEOUTS)
  const token = await api.login('stuck')
  await api.call('PUT', '/v1/queues/q', { token })
  const socket = await openSocket(api.url)
  socket.write(`POST /v1/queues/q/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Length: 1000\r\n\r\nhalf a bo`)
  const { data, closed } = await readAll(socket)
  const reply = parseReply(data, closed)
  t.equal(reply.status, 408)
  t.match(reply.json, { error: { code: 'request_timeout' } })
  t.match((await api.call('GET', '/v1/queues/q')).json, { length: 0 })
  const sent = await api.call('POST', '/v1/queues/q/messages', { token, body: 'whole' })
  t.equal(sent.status, 201, 'the switch goes on taking sends')
})

t.test('a long-poll outlives the request timeout: only the receiving of a request is timed', async (t) => {
  const { api } = await startHttp(t, TIMEOUTS)
  const token = await api.login('patient')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  // Three times the request timeout, on a raw connection: nothing between the switch and us could retry it.
  const reply = await rawRequest(api.url, `GET /v1/transfer?timeout=1.2 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`)
  t.equal(reply.status, 200)
  t.same(reply.json, { messages: [], next: 0 }, 'it ended at its own timeout, empty')
})

t.test('idle long-polls all end cleanly at their timeout and leave nothing waiting', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('idle')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  const sessions = await Promise.all(Array.from({ length: 20 }, async (_, i) => await api.login(`idle-${i}`)))
  await Promise.all(sessions.map(async (session) => await api.call('PUT', '/v1/session/subscriptions/q', { token: session })))
  const replies = await Promise.all(sessions.flatMap((session) =>
    [0, 1, 2].map(async () => await api.call('GET', '/v1/transfer?after=0&timeout=0.3', { token: session }))))
  t.ok(replies.every((reply) => reply.status === 200 && JSON.stringify(reply.json) === '{"messages":[],"next":0}'), 'sixty empty answers')
  await waitingOn(api, 'q', 0)
  t.match((await api.diagnostics()).limits, { sessionPolls: { used: 0 } })
})

t.test('an idle keep-alive connection is closed after the keep-alive timeout', async (t) => {
  const { api } = await startHttp(t, { keepAliveTimeout: 50 })
  const socket = await openSocket(api.url)
  socket.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const { data, closed } = await readAll(socket)
  t.equal(parseReply(data, closed).status, 200, 'answered, and kept open for more')
  t.ok(closed, 'then closed by the switch')
})

t.test('connections beyond maxConnections are refused; the rest are served, and room comes back', async (t) => {
  const { api, running } = await startHttp(t, { maxConnections: 3 })
  const connections = async (): Promise<number> => await new Promise((resolve) => {
    running.app.server.getConnections((_error, count) => { resolve(count) })
  })
  const held = [await openSocket(api.url), await openSocket(api.url), await openSocket(api.url)]
  await eventually('three connections', async () => (await connections()) === 3 ? true : undefined)
  const refused = await rawRequest(api.url, 'GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
  t.equal(refused.status, 0, 'no answer')
  t.ok(refused.closed, 'closed at once')

  held[0].write('GET /v1/diagnostics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
  const { data, closed } = await readAll(held[0])
  t.match(parseReply(data, closed).json, { limits: { connections: { limit: 3, used: 3 } } }, 'diagnostics shows the cap and its use')
  await eventually('room for one more', async () => (await connections()) < 3 ? true : undefined)
  t.equal((await api.call('GET', '/v1/health')).status, 200, 'served once there is room')
  for (const socket of held) socket.destroy()
})

t.test('the switch serves others while many connections stall', async (t) => {
  const { api } = await startHttp(t, TIMEOUTS)
  const stalled = await Promise.all(Array.from({ length: 50 }, async () => {
    const socket = await openSocket(api.url)
    socket.write('POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{')
    return { answer: readAll(socket) }
  }))
  const token = await api.login('unhindered')
  t.equal((await api.call('PUT', '/v1/queues/q', { token })).status, 201)
  const answers = await Promise.all(stalled.map(async ({ answer }) => await answer))
  t.ok(answers.every(({ data, closed }) => closed && parseReply(data).status === 408), 'every stalled one cut off with a 408')
})
