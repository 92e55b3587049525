// Whole exchanges of the original protocols, as their clients make them, for more than one transport.
import type { Test } from 'tap'
import { startSwitch, type RunningSwitch, type ServerConfig } from '../../../server/index.js'
import { ok, RawConnection, type Target } from './raw-http.js'

/** Opens a connection and logs it in with `token`, as every original client does first. */
export async function loggedIn (t: Test, target: Target, token: string): Promise<RawConnection> {
  const connection = await RawConnection.open(t, target)
  t.equal(await ok(connection, 'GET', `/login/${token}`), '', 'login answers an empty body')
  return connection
}

const PING = '{"method":"ping","params":[],"id":1}'
const PONG = '{"result":"pong","id":1}'

/**
 * The xapi RPC pattern of the reference, on a fresh switch (ids start at 1): a server long-polls "svc"; a caller,
 * two connections logged in with one token, one for requests and one for its transfer loop, sends a request
 * with a transient reply queue; the server answers and acks; the caller receives the response and acks it.
 * Every body is compared byte for byte with the observed exchanges.
 */
export async function xapiRpc (t: Test, target: Target): Promise<void> {
  const server = await loggedIn(t, target, 'server_main.exe:99')
  t.equal(await ok(server, 'GET', '/persistent/svc'), 'svc')

  const requests = await loggedIn(t, target, 'client_unix_main.exe:1487')
  const events = await loggedIn(t, target, 'client_unix_main.exe:1487')
  t.equal(await ok(requests, 'GET', '/transient/demo.reply'), 'demo.reply')
  t.equal(await ok(requests, 'GET', '/persistent/svc'), 'svc', 'creating an existing queue is fine')

  // The server's long-poll is waiting before the request is sent: the send wakes it.
  server.send('POST', '/transfer', '{"from":"-1","timeout":5.0,"queues":["svc"]}')
  const sent = await requests.request('POST', '/request/svc/demo.reply', PING)
  t.equal(sent.status, 200)
  t.equal(sent.body, '[["svc",1]]')
  t.equal(sent.headers['content-type'], undefined, 'no content type, as the original')
  t.equal(sent.headers['content-length'], '11')

  const delivered = await server.response()
  t.equal(delivered.body,
    '{"messages":[[["svc",1],{"payload":"{\\"method\\":\\"ping\\",\\"params\\":[],\\"id\\":1}","kind":["Request","demo.reply"]}]],"next":"1"}')

  events.send('POST', '/transfer', '{"from":"-1","timeout":5.0,"queues":["demo.reply"]}')
  t.equal(await ok(server, 'POST', '/response/demo.reply/svc/1', PONG), '[["demo.reply",2]]')
  t.equal(await ok(server, 'GET', '/ack/svc/1'), '')

  const response = await events.response()
  t.equal(response.status, 200)
  t.equal(response.body,
    '{"messages":[[["demo.reply",2],{"payload":"{\\"result\\":\\"pong\\",\\"id\\":1}","kind":["Response",["svc",1]]}]],"next":"2"}')
  t.equal(await ok(events, 'GET', '/ack/demo.reply/2'), '')

  t.equal(await ok(server, 'POST', '/transfer', '{"from":"1","timeout":0.0,"queues":["svc"]}'), '{"messages":[],"next":"1"}',
    'nothing new after the acked request')
  t.equal(await ok(events, 'POST', '/transfer', '{"timeout":0.0,"queues":["demo.reply"]}'), '{"messages":[],"next":"-1"}',
    'an absent "from" is -1, and the acked response is gone')
}

/** A switch for one test, stopped with it. */
export async function start (t: Test, config: ServerConfig = {}): Promise<RunningSwitch> {
  const running = await startSwitch({ port: 0, ...config })
  t.teardown(async () => { await running.stop() })
  return running
}
