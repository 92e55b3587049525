// One core behind every API: a message sent through one protocol is received through the others, with one id
// counter. Our JSON API is spoken with plain fetch.
import t from 'tap'
import type { CreateQueueResponse, LoginResponse, SendResponse, TransferResponse } from '../../../protocol/wire.js'
import type { RunningSwitch } from '../../../server/index.js'
import { ok, tcpTarget } from './raw-http.js'
import { loggedIn, start } from './scenarios.js'

/** A client of our JSON API, logged in. */
async function jsonClient (running: RunningSwitch, client: string): Promise<(method: string, path: string, body?: string) => Promise<unknown>> {
  const login = await fetch(`${running.url}/v1/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client })
  })
  const { token } = await login.json() as LoginResponse
  return async (method, path, body) => {
    const response = await fetch(`${running.url}/v1${path}`, { method, headers: { authorization: `Bearer ${token}` }, body })
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    return response.status === 204 ? undefined : await response.json()
  }
}

t.test('xapi caller, JSON API server: the request arrives, the reply (by convention) comes back as its response', async (t) => {
  const running = await start(t)
  const json = await jsonClient(running, 'json-server')
  await json('PUT', '/queues/svc')
  await json('PUT', '/session/subscriptions/svc')

  const caller = await loggedIn(t, tcpTarget(running), 'caller:1')
  await ok(caller, 'GET', '/transient/caller.reply')
  t.equal(await ok(caller, 'POST', '/request/svc/caller.reply', 'from-xapi'), '[["svc",1]]')

  const received = await json('GET', '/transfer?after=0') as TransferResponse
  t.match(received.messages, [{ id: 1, queue: 'svc', payload: 'from-xapi', replyTo: 'caller.reply', origin: 'caller:1' }])
  t.equal(received.messages[0].correlationId, undefined)

  // A xapi response names the request it answers; through our API that is the correlation id "<queue>/<id>".
  const reply = await json('POST', `/queues/caller.reply/messages?correlationId=${encodeURIComponent('svc/1')}&ack=1`, 'from-json') as SendResponse
  t.equal(reply.id, 2, 'one id counter')
  t.equal(await ok(caller, 'POST', '/transfer', '{"from":"-1","timeout":5.0,"queues":["caller.reply"]}'),
    '{"messages":[[["caller.reply",2],{"payload":"from-json","kind":["Response",["svc",1]]}]],"next":"2"}')
  t.match(JSON.parse(await ok(caller, 'GET', '/')), { permanent_queues: { svc: { queue_contents: [] } } }, 'acked through our API')
})

t.test('JSON API caller, xapi server: the response carries the caller\'s correlation id', async (t) => {
  const running = await start(t)
  const server = await loggedIn(t, tcpTarget(running), 'server:2')
  await ok(server, 'GET', '/persistent/svc')

  const json = await jsonClient(running, 'json-caller')
  const { name: replyTo } = await json('POST', '/queues') as CreateQueueResponse
  await json('PUT', `/session/subscriptions/${replyTo}`)
  const sent = await json('POST', `/queues/svc/messages?correlationId=c-1&replyTo=${replyTo}`, 'ping') as SendResponse

  t.equal(await ok(server, 'POST', '/transfer', '{"from":"-1","timeout":5.0,"queues":["svc"]}'),
    `{"messages":[[["svc",${sent.id}],{"payload":"ping","kind":["Request","${replyTo}"]}]],"next":"${sent.id}"}`)
  t.equal(await ok(server, 'POST', `/response/${replyTo}/svc/${sent.id}`, 'pong'), `[["${replyTo}",${sent.id + 1}]]`)
  t.equal(await ok(server, 'GET', `/ack/svc/${sent.id}`), '')

  const received = await json('GET', '/transfer?after=0&timeout=5') as TransferResponse
  t.match(received.messages, [{ id: sent.id + 1, payload: 'pong', correlationId: 'c-1', origin: 'server:2' }])
})

t.test('2013 caller, JSON API server, and a xapi server: integer correlation ids carry across', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  const caller = await loggedIn(t, target, '500')
  const replyTo = await ok(caller, 'GET', '/create')
  await ok(caller, 'GET', `/subscribe/${replyTo}`)
  await ok(caller, 'GET', '/create/svc')
  await ok(caller, 'POST', `/send/svc/42/${replyTo}`, 'to-json')

  const json = await jsonClient(running, 'json-server')
  await json('PUT', '/session/subscriptions/svc')
  const received = await json('GET', '/transfer?after=0') as TransferResponse
  t.match(received.messages, [{ id: 1, payload: 'to-json', correlationId: '42', replyTo }])
  await json('POST', `/queues/${replyTo}/messages?correlationId=42&ack=1`, 'from-json')
  t.equal(await ok(caller, 'GET', '/transfer/-1/5'), '{"messages":[[2,{"payload":"from-json","correlation_id":42}]]}')
  await ok(caller, 'GET', '/ack/2')

  // The same request answered by a xapi server: the response keeps the 2013 correlation id.
  await ok(caller, 'POST', `/send/svc/43/${replyTo}`, 'to-xapi')
  const server = await loggedIn(t, target, 'xapi-server:3')
  t.equal(await ok(server, 'POST', '/transfer', '{"from":"2","timeout":5.0,"queues":["svc"]}'),
    `{"messages":[[["svc",3],{"payload":"to-xapi","kind":["Request","${replyTo}"]}]],"next":"3"}`)
  await ok(server, 'POST', `/response/${replyTo}/svc/3`, 'from-xapi')
  await ok(server, 'GET', '/ack/svc/3')
  t.equal(await ok(caller, 'GET', '/transfer/2/5'), '{"messages":[[4,{"payload":"from-xapi","correlation_id":43}]]}')
})

t.test('JSON API and xapi callers, 2013 server: a reply echoing the id shown as correlation id reaches the caller', async (t) => {
  const running = await start(t)
  const target = tcpTarget(running)
  // A 2013 server (the Python client's Server, say) answers with the correlation id it saw.
  const server = await loggedIn(t, target, 'legacy-server')
  await ok(server, 'GET', '/create/svc')
  await ok(server, 'GET', '/subscribe/svc')

  const json = await jsonClient(running, 'json-caller')
  const { name: replyTo } = await json('POST', '/queues') as CreateQueueResponse
  await json('PUT', `/session/subscriptions/${replyTo}`)
  await json('POST', `/queues/svc/messages?correlationId=c-1&replyTo=${replyTo}`, 'ping')
  t.equal(await ok(server, 'GET', '/transfer/-1/5'),
    `{"messages":[[1,{"payload":"ping","correlation_id":1,"reply_to":"${replyTo}"}]]}`,
    'a correlation id that is not an integer is shown as the message id')
  await ok(server, 'POST', `/send/${replyTo}/1`, 'pong')
  await ok(server, 'GET', '/ack/1')
  await ok(server, 'POST', `/send/${replyTo}/77`, 'unrelated')
  const received = await json('GET', '/transfer?after=0&timeout=5') as TransferResponse
  t.match(received.messages, [
    { id: 2, payload: 'pong', correlationId: 'c-1', origin: 'legacy-server' },
    { id: 3, payload: 'unrelated', correlationId: '77' }
  ], 'the reply carries the caller\'s correlation id; another integer is kept as it came')

  const caller = await loggedIn(t, target, 'xapi-caller:4')
  await ok(caller, 'GET', '/transient/caller.reply')
  t.equal(await ok(caller, 'POST', '/request/svc/caller.reply', 'ping2'), '[["svc",4]]')
  t.equal(await ok(server, 'GET', '/transfer/1/5'), '{"messages":[[4,{"payload":"ping2","correlation_id":4,"reply_to":"caller.reply"}]]}')
  await ok(server, 'POST', '/send/caller.reply/4', 'pong2')
  await ok(server, 'GET', '/ack/4')
  t.equal(await ok(caller, 'POST', '/transfer', '{"from":"-1","timeout":5.0,"queues":["caller.reply"]}'),
    '{"messages":[[["caller.reply",5],{"payload":"pong2","kind":["Response",["svc",4]]}]],"next":"5"}',
    'the xapi caller sees the response to its request')
})
