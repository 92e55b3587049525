// The xapi-project protocol, spoken by a client written from the reference (raw HTTP/1.1, keep-alive).
import t from 'tap'
import type { Diagnostics, TraceResponse } from '../../../protocol/wire.js'
import { advanceUntil, manualClock, traced } from '../core/fixtures.js'
import { ok, RawConnection, tcpTarget } from './raw-http.js'
import { loggedIn, start, xapiRpc } from './scenarios.js'

/** Times vary from run to run; everything else is compared byte for byte. */
function withoutTimes (body: string): string {
  return body.replace(/"(time|current_time|next_transfer_expected|processing_time)":[0-9.]+/g, '"$1":T')
}

t.test('the RPC pattern: server loop, caller with a transient reply queue, request, response, acks', async (t) => {
  const running = await start(t)
  await xapiRpc(t, tcpTarget(running))
})

t.test('connections that log in with one token share one session, which holds while they are open', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  await loggedIn(t, target, 'twice:1')
  await loggedIn(t, target, 'twice:1')
  const diagnostics = await (await fetch(`${running.url}/v1/diagnostics`)).json() as Diagnostics
  const sessions = diagnostics.sessions.filter((session) => session.client.startsWith('original protocol client '))
  t.equal(sessions.length, 1)
  t.notOk(JSON.stringify(diagnostics).includes('twice:1'), '/v1 diagnostics show no token')
  t.equal(sessions[0].inFlight, 2, 'each open connection holds the lease')
})

t.test('requests other than login, diagnostics and trace need a logged-in connection', async (t) => {
  const running = await start(t)
  const connection = await RawConnection.open(t, tcpTarget(running))
  const needSession: Array<[string, string, string?]> = [
    ['GET', '/persistent/q'], ['GET', '/transient/q'], ['GET', '/destroy/q'], ['POST', '/request/q/r', 'x'],
    ['POST', '/response/q/r/1', 'x'], ['POST', '/transfer', '{"timeout":0.0,"queues":["q"]}'], ['GET', '/ack/q/1'],
    ['GET', '/list/'], ['GET', '/list/alive/'], ['POST', '/shutdown']
  ]
  for (const [method, path, body] of needSession) {
    const response = await connection.request(method, path, body)
    t.equal(response.status, 404, `${method} ${path}`)
    t.equal(response.body, 'Please log in.')
    t.equal(response.headers['content-type'], undefined)
  }
  t.match(JSON.parse(await ok(connection, 'GET', '/')), { start_time: 0 }, 'diagnostics need no login')
  t.equal(await ok(connection, 'GET', '/trace/-1/0'), '{"events":[]}', 'nor does the trace')
  t.equal(await ok(connection, 'GET', '/login/late:1'), '')
  t.equal(await ok(connection, 'GET', '/persistent/q'), 'q', 'and once logged in, the connection may act')
  t.equal((await connection.request('GET', '/no/such/path')).status, 404, 'unknown paths are 404')
})

t.test('list, list/alive and destroy', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  const c = await loggedIn(t, target, 'lister:1')
  for (const name of ['a', 'ab', 'b']) t.equal(await ok(c, 'GET', `/persistent/${name}`), name)
  t.equal(await ok(c, 'GET', '/list/'), '["a","ab","b"]')
  t.equal(await ok(c, 'GET', '/list/a'), '["a","ab"]')
  t.equal(await ok(c, 'GET', '/list/alive/'), '[]', 'no queue has been polled')
  t.equal(await ok(c, 'POST', '/transfer', '{"from":"-1","timeout":0.0,"queues":["ab"]}'), '{"messages":[],"next":"-1"}')
  t.equal(await ok(c, 'GET', '/list/alive/'), '["ab"]', 'a polled queue is alive')
  t.equal(await ok(c, 'GET', '/list/alive/b'), '[]')
  t.equal(await ok(c, 'GET', '/destroy/ab'), '')
  t.equal(await ok(c, 'GET', '/list/'), '["a","b"]')
  t.equal(await ok(c, 'GET', '/destroy/ab'), '', 'destroying a missing queue is no error, as in the original')
})

t.test('a send to a missing queue answers [] and drops the message, visibly in our trace', async (t) => {
  const running = await start(t)
  const c = await loggedIn(t, tcpTarget(running), 'dropper:1')
  t.equal(await ok(c, 'POST', '/request/missing/reply', 'lost'), '[]')
  t.equal(await ok(c, 'POST', '/response/missing/svc/1', 'lost'), '[]')
  const trace = await (await fetch(`${running.url}/v1/trace?after=0`)).json() as TraceResponse
  const drops = trace.events.filter((event) => event.type === 'drop')
  t.equal(drops.length, 2)
  t.match(drops[0], { type: 'drop', queue: 'missing', client: 'dropper:1' })
  const diagnostics = await (await fetch(`${running.url}/v1/diagnostics`)).json() as Diagnostics
  t.equal(diagnostics.dropped, 2, 'and counted in our diagnostics')
  t.equal(await ok(c, 'GET', '/list/'), '[]', 'nothing was created')
})

t.test('diagnostics at GET /: queue contents, origins, nanosecond times, next_transfer_expected', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  const diag = await loggedIn(t, target, 'diag')
  t.equal(await ok(diag, 'GET', '/persistent/svc'), 'svc')
  t.equal(await ok(diag, 'GET', '/transient/diag.reply'), 'diag.reply')
  t.equal(await ok(diag, 'POST', '/request/svc/diag.reply', 'hello'), '[["svc",1]]')
  const server = await loggedIn(t, target, 'svc-server')
  // A transfer that answers at once still sets the deadline of its 5 s long-poll.
  t.match(await ok(server, 'POST', '/transfer', '{"from":"-1","timeout":5.0,"queues":["svc"]}'), /"next":"1"/)
  const body = await ok(diag, 'GET', '/')
  t.equal(withoutTimes(body),
    '{"start_time":0,"current_time":T,"permanent_queues":{"svc":{"next_transfer_expected":T,"queue_contents":' +
    '[[["svc",1],{"origin":["Name","diag"],"time":T,"message":{"payload":"hello","kind":["Request","diag.reply"]}}]]}},' +
    '"transient_queues":{"diag.reply":{"queue_contents":[]}}}')
  const parsed = JSON.parse(body)
  const svc = parsed.permanent_queues.svc
  const sentAt: number = svc.queue_contents[0][1].time
  t.ok(sentAt >= 0 && sentAt <= parsed.current_time, 'times are nanoseconds since the switch started')
  const ahead = svc.next_transfer_expected - parsed.current_time
  t.ok(ahead > 0 && ahead <= 5e9, 'the poller is expected back within its 5 s timeout')
  t.equal(parsed.transient_queues['diag.reply'].next_transfer_expected, undefined, 'absent when never polled')
})

t.test('trace: message, delivery and ack events, from an inclusive cursor, long-polled', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  const diag = await loggedIn(t, target, 'diag')
  const server = await loggedIn(t, target, 'svc-server')
  await ok(diag, 'GET', '/persistent/svc')
  await ok(diag, 'GET', '/transient/diag.reply')
  t.equal(await ok(diag, 'POST', '/request/svc/diag.reply', 'hello'), '[["svc",1]]')
  await ok(server, 'POST', '/transfer', '{"from":"-1","timeout":0.0,"queues":["svc"]}')

  const message = '["Message",["svc",1],{"payload":"hello","kind":["Request","diag.reply"]}]'
  const all = await ok(diag, 'GET', '/trace/-1/5')
  const ids = (JSON.parse(all) as { events: Array<[number, unknown]> }).events.map(([id]) => id)
  t.equal(ids.length, 2, 'logins and queue creations have no xapi form')
  t.ok(ids[0] < ids[1])
  t.equal(withoutTimes(all),
    `{"events":[[${ids[0]},{"time":T,"input":"diag","queue":"svc","message":${message}}],` +
    `[${ids[1]},{"time":T,"queue":"svc","output":"svc-server","message":${message}}]]}`)
  t.equal(withoutTimes(await ok(diag, 'GET', `/trace/${ids[1]}/0`)),
    `{"events":[[${ids[1]},{"time":T,"queue":"svc","output":"svc-server","message":${message}}]]}`,
    'the cursor is inclusive, as the originals count')
  t.equal(withoutTimes(await ok(diag, 'GET', '/trace')), withoutTimes(all), 'GET /trace is from -1')

  // A long-poll from past the last event: a login is no event it can show, so it keeps waiting; the ack ends it.
  diag.send('GET', `/trace/${ids[1] + 1}/5`)
  await loggedIn(t, target, 'bystander')
  t.equal(await ok(server, 'GET', '/ack/svc/1'), '')
  const acked = await diag.response()
  const ackId = (JSON.parse(acked.body) as { events: Array<[number, unknown]> }).events[0][0]
  t.equal(withoutTimes(acked.body),
    `{"events":[[${ackId},{"time":T,"input":"svc-server","queue":"svc","message":["Ack",["svc",1]],"processing_time":T}]]}`)
  t.equal(await ok(diag, 'GET', `/trace/${ackId + 1}/0.05`), '{"events":[]}', 'an empty answer after the timeout')
})

t.test('transient queues go once the last connection of their session has closed, after the lease grace', async (t) => {
  // Leases on a clock the test moves: it stands still while the reconnect below comes back.
  const clock = manualClock()
  const running = await start(t, { sessionTtl: 300, now: clock.now, timers: clock })
  const target = tcpTarget(running)
  const requests = await loggedIn(t, target, 'caller:7')
  const events = await loggedIn(t, target, 'caller:7')
  t.equal(await ok(requests, 'GET', '/transient/caller.reply'), 'caller.reply')
  const observer = await loggedIn(t, target, 'observer:1')

  // One connection closes; a witness session, closed at the same time, shows when a lease grace has passed.
  const witness = await loggedIn(t, target, 'witness:1')
  const graceOver = traced(running.core, 'session_end', (event) => event.client === 'witness:1')
  await requests.close()
  await witness.close()
  await advanceUntil(clock, 100, graceOver)
  t.equal(await ok(observer, 'GET', '/list/caller'), '["caller.reply"]', 'one open connection keeps the session')

  // Every connection closes, and one comes back within the grace: the reply queue is still there.
  const witness2 = await loggedIn(t, target, 'witness:2')
  const graceOver2 = traced(running.core, 'session_end', (event) => event.client === 'witness:2')
  await events.close()
  const back = await loggedIn(t, target, 'caller:7')
  await witness2.close()
  await advanceUntil(clock, 100, graceOver2)
  t.equal(await ok(observer, 'GET', '/list/caller'), '["caller.reply"]', 'a brief reconnect loses nothing')

  const ended = traced(running.core, 'session_end', (event) => event.client === 'caller:7')
  await back.close()
  await advanceUntil(clock, 100, ended)
  t.equal(await ok(observer, 'GET', '/list/caller'), '[]', 'gone with the session')
  const listed = await (await fetch(`${running.url}/v1/queues?prefix=caller`)).json() as { queues: unknown[] }
  t.same(listed.queues, [], 'for the JSON API too')
})

t.test('an original session\'s token is no /v1 bearer token, and a /v1 token joins no /v1 session', async (t) => {
  const running = await start(t)
  const c = await loggedIn(t, tcpTarget(running), 'relogin:1')
  t.equal(await ok(c, 'GET', '/transient/relogin.a'), 'relogin.a')
  for (const token of ['relogin:1', 'original:relogin:1']) {
    const logout = await fetch(`${running.url}/v1/session`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
    t.equal(logout.status, 401, `${token} is refused on /v1`)
    t.match(await logout.json(), { error: { code: 'session_not_found' } })
  }
  t.equal(await ok(c, 'GET', '/list/relogin'), '["relogin.a"]', 'its temporary queue stays')
  const listed = await (await fetch(`${running.url}/v1/queues?prefix=relogin`)).json() as { queues: unknown[] }
  t.match(listed.queues, [{ name: 'relogin.a', kind: 'temporary', owner: /^original protocol client [0-9a-f]{8}$/ }], 'the owner shown is not the token')

  const login = await (await fetch(`${running.url}/v1/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client: 'v1-client' })
  })).json() as { token: string }
  const own = await (await fetch(`${running.url}/v1/queues`, { method: 'POST', headers: { authorization: `Bearer ${login.token}` } })).json() as { name: string }
  const other = await loggedIn(t, tcpTarget(running), login.token)
  const destroy = await other.request('GET', `/destroy/${own.name}`)
  t.equal(destroy.status, 403, 'the /v1 session\'s temporary queue is not its own')
  const info = await fetch(`${running.url}/v1/queues/${own.name}`)
  t.equal(info.status, 200, 'and stays')
})

t.test('a logged-in connection is not closed for idling; others are', async (t) => {
  const running = await start(t)
  running.app.server.keepAliveTimeout = 10
  const target = tcpTarget(running)
  const bound = await loggedIn(t, target, 'idler:1')
  const anonymous = await RawConnection.open(t, target)
  await ok(anonymous, 'GET', '/trace/-1/0')
  await anonymous.closed
  t.equal(await ok(bound, 'GET', '/persistent/still-here'), 'still-here', 'idle longer, and still open')
})

t.test('POST /shutdown stops the switch after answering', async (t) => {
  const running = await start(t)
  const c = await loggedIn(t, tcpTarget(running), 'admin:1')
  const response = await c.request('POST', '/shutdown')
  t.equal(response.status, 200)
  t.equal(response.body, '')
  await running.stopped
  t.ok(running.core.shuttingDown)
})

t.test('malformed requests are refused in plain text', async (t) => {
  const running = await start(t)
  const c = await loggedIn(t, tcpTarget(running), 'sloppy:1')
  for (const [path, body] of [['/transfer', 'not json'], ['/transfer', '{"from":"x","timeout":1,"queues":[]}'], ['/transfer', '{"timeout":1}']]) {
    const response = await c.request('POST', path, body)
    t.equal(response.status, 400, body)
    t.equal(response.headers['content-type'], undefined)
    t.notOk(response.body.startsWith('{'), 'not our JSON error shape')
  }
  t.equal((await c.request('GET', '/ack/q/notanumber')).status, 400)
  t.equal((await c.request('GET', '/persistent/.bad')).status, 400, 'queue names follow our rules')
})
