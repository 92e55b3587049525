// The 2013 protocol (the one the djs55/message-switch README describes), spoken by a client written from the
// reference: raw HTTP/1.1 over keep-alive sockets, two connections per client logged in with one id.
import t from 'tap'
import type { Diagnostics, TraceResponse } from '../../../protocol/wire.js'
import { advanceUntil, manualClock, traced } from '../core/fixtures.js'
import { ok, RawConnection, tcpTarget } from './raw-http.js'
import { loggedIn, start } from './scenarios.js'

t.test('the RPC pattern of the README: create, subscribe, send with reply-to, transfer, reply, ack', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  const server = await loggedIn(t, target, '100')
  t.equal(await ok(server, 'GET', '/create/foo'), 'foo')
  t.equal(await ok(server, 'GET', '/subscribe/foo'), '')
  server.send('GET', '/transfer/-1/5')

  const requests = await loggedIn(t, target, '200')
  const events = await loggedIn(t, target, '200')
  const replyTo = await ok(requests, 'GET', '/create')
  t.match(replyTo, /^tmp-[0-9a-z]+$/, 'a fresh name, as plain text')
  t.equal(await ok(requests, 'GET', `/subscribe/${replyTo}`), '', 'subscribed on one connection, for the session')
  t.equal(await ok(requests, 'GET', '/create/foo'), 'foo')
  const sent = await requests.request('POST', `/send/foo/7/${replyTo}`, 'hello')
  t.equal(sent.status, 200)
  t.equal(sent.body, '')
  t.equal(sent.headers['content-type'], undefined)

  const request = await server.response()
  t.equal(request.body, `{"messages":[[1,{"payload":"hello","correlation_id":7,"reply_to":"${replyTo}"}]]}`)

  events.send('GET', '/transfer/-1/5')
  t.equal(await ok(server, 'POST', `/send/${replyTo}/7`, 'HELLO'), '')
  t.equal(await ok(server, 'GET', '/ack/1'), '')
  t.equal((await events.response()).body, '{"messages":[[2,{"payload":"HELLO","correlation_id":7}]]}',
    'the other connection of the session receives the reply: no reply_to on it')
  t.equal(await ok(events, 'GET', '/ack/2'), '')

  t.equal(await ok(server, 'GET', '/transfer/1/0'), '{"messages":[]}', 'the acked request is gone')
  t.equal(await ok(server, 'GET', '/transfer/-1/0'), '{"messages":[]}')
  t.equal(await ok(server, 'GET', '/ack/1'), '', 'a second ack is no error')
  t.equal(await ok(server, 'GET', '/list/'), JSON.stringify(['foo', replyTo]))
  t.equal(await ok(server, 'GET', '/list/fo'), '["foo"]')
})

t.test('requests other than login, diagnostics and trace need a logged-in connection', async (t) => {
  const running = await start(t)
  const connection = await RawConnection.open(t, tcpTarget(running))
  const needSession: Array<[string, string, string?]> = [
    ['GET', '/create'], ['GET', '/create/q'], ['GET', '/subscribe/q'], ['POST', '/send/q/1', 'x'],
    ['POST', '/send/q/1/r', 'x'], ['GET', '/transfer/-1/0'], ['GET', '/ack/1'], ['GET', '/list/']
  ]
  for (const [method, path, body] of needSession) {
    const response = await connection.request(method, path, body)
    t.equal(response.status, 404, `${method} ${path}`)
    t.equal(response.body, 'Please log in.')
  }
  t.equal((await connection.request('GET', '/')).status, 200)
  t.equal(await ok(connection, 'GET', '/trace/-1/0'), '{"events":[]}')
})

t.test('a send to a missing queue is dropped, visibly in our trace', async (t) => {
  const running = await start(t)
  const c = await loggedIn(t, tcpTarget(running), '300')
  t.equal(await ok(c, 'POST', '/send/missing/1', 'lost'), '')
  const trace = await (await fetch(`${running.url}/v1/trace?after=0`)).json() as TraceResponse
  t.match(trace.events.filter((event) => event.type === 'drop'), [{ queue: 'missing', client: '300' }])
  const diagnostics = await (await fetch(`${running.url}/v1/diagnostics`)).json() as Diagnostics
  t.equal(diagnostics.dropped, 1)
})

t.test('subscribing to a missing queue is refused in plain text', async (t) => {
  const running = await start(t)
  const c = await loggedIn(t, tcpTarget(running), '301')
  const response = await c.request('GET', '/subscribe/nowhere')
  t.equal(response.status, 404)
  t.equal(response.body, 'queue "nowhere" does not exist')
})

t.test('a queue from GET /create goes once its connections have closed and the lease grace has passed', async (t) => {
  const clock = manualClock()
  const running = await start(t, { sessionTtl: 200, now: clock.now, timers: clock })
  const target = tcpTarget(running)
  const a = await loggedIn(t, target, '400')
  const b = await loggedIn(t, target, '400')
  const name = await ok(a, 'GET', '/create')
  const observer = await loggedIn(t, target, '401')
  t.equal(await ok(observer, 'GET', '/list/tmp-'), JSON.stringify([name]))
  const ended = traced(running.core, 'session_end', (event) => event.client === '400')
  await a.close()
  await b.close()
  await advanceUntil(clock, 50, ended)
  t.equal(await ok(observer, 'GET', '/list/tmp-'), '[]')
})
