// The 2013 protocol as the original Python client (xen-api's python/message_switch.py) speaks it, replayed from
// an exchange observed between that client and our switch: request heads with a content length and nothing
// else (no Host header, which Node refuses by default), two connections per process logged in with one id, the
// receive loop's transfer already waiting before anything is subscribed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { RawConnection, tcpTarget, type RawResponse, type Target } from './raw-http.js'
import { start } from './scenarios.js'

/** The Python client raises on any status but 200 and on a response without a content length. */
async function answered (t: Test, exchange: Promise<RawResponse>): Promise<string> {
  const response = await exchange
  t.equal(response.status, 200)
  t.not(response.headers['content-length'], undefined, 'a content length, even on an empty body')
  return response.body
}

/** A connection logged in with the client's bare request heads; the switch answers 200 with an empty body. */
async function pythonConnection (t: Test, target: Target, id: string): Promise<RawConnection> {
  const connection = await RawConnection.open(t, target, 'python')
  t.equal(await answered(t, connection.request('GET', `/login/${id}`)), '')
  return connection
}

/** `Switch(...)` of message_switch.py: a connection for requests, one for the receiver thread's transfer loop. */
async function pythonSwitch (t: Test, target: Target, id: string): Promise<{ requests: RawConnection, events: RawConnection }> {
  const requests = await pythonConnection(t, target, id)
  const events = await pythonConnection(t, target, id)
  events.send('GET', '/transfer/-1/5')
  return { requests, events }
}

async function rpc (t: Test, target: Target): Promise<void> {
  // `message_switch.py --listen --service demo.svc`
  const server = await pythonSwitch(t, target, 'py-server')
  t.equal(await answered(t, server.requests.request('GET', '/create/demo.svc')), 'demo.svc')
  t.equal(await answered(t, server.requests.request('GET', '/subscribe/demo.svc')), '')

  // `message_switch.py --service demo.svc`: connect, then rpc("hello")
  const caller = await pythonSwitch(t, target, 'py-client')
  t.equal(await answered(t, caller.requests.request('GET', '/create/demo.svc')), 'demo.svc')
  const replyQueue = await answered(t, caller.requests.request('GET', '/create'))
  t.match(replyQueue, /^tmp-[0-9a-z]+$/)
  t.equal(await answered(t, caller.requests.request('GET', `/subscribe/${replyQueue}`)), '')
  t.equal(await answered(t, caller.requests.request('POST', `/send/demo.svc/0/${replyQueue}`, 'hello')), '')

  // The server's receiver dispatches the request (its Server echoes it), replies and acks, on its events connection.
  t.equal(await answered(t, server.events.response()),
    `{"messages":[[1,{"payload":"hello","correlation_id":0,"reply_to":"${replyQueue}"}]]}`)
  t.equal(await answered(t, server.events.request('POST', `/send/${replyQueue}/0`, 'hello')), '')
  t.equal(await answered(t, server.events.request('GET', '/ack/1')), '')

  // The caller's receiver, waiting since before the subscription, gets the reply by its correlation id.
  t.equal(await answered(t, caller.events.response()), '{"messages":[[2,{"payload":"hello","correlation_id":0}]]}')
  t.equal(await answered(t, server.events.request('GET', '/transfer/1/0')), '{"messages":[]}',
    'the server loop polls on from the highest id it saw: the acked request is gone')
}

t.test('the Python client\'s RPC pattern over TCP', async (t) => {
  const running = await start(t)
  await rpc(t, tcpTarget(running))
})

t.test('the same over a Unix socket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switch-python-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'sock')
  await start(t, { listenTcp: false, socketPath: path })
  await rpc(t, { path })
})
