// The library's socket (framed as lines): rpc and serve carry their sends, acks and deliveries over GET /v1/socket,
// and a socket cut under them costs nothing: what it left unanswered goes over HTTP (idempotency keys kept), and
// deliveries resume.
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Agent } from 'undici'
import { SwitchSocket } from '../../lib/socket.js'
import { Transport } from '../../lib/transport.js'
import { clientOf, eventually, openSockets, portOf, runSwitch, socketPath } from './fixtures.js'

/** Requests the switch answered on the routes a send or an ack takes over HTTP, from its metrics. */
async function httpSendsAndAcks (url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let count = 0
  for (const line of text.split('\n')) {
    const match = /^switch_http_request_duration_seconds_count\{route="([^"]+)",method="([A-Z]+)"\} (\d+)$/.exec(line)
    if (match === null) continue
    const [, route, method, n] = match
    if ((method === 'POST' && ['/v1/queues/:name/messages', '/v1/messages', '/v1/acks'].includes(route)) || (method === 'DELETE' && route === '/v1/messages/:id')) count += Number(n)
  }
  return count
}

/**
 * A TCP relay to `port` whose connections can all be cut at once (new ones are relayed again). `sockets` counts the
 * connections that became sockets in use: upgraded (the switch's 101 went through) and written to by the client
 * since, so the client has its socket open.
 */
async function relay (t: Test, port: number): Promise<{ url: string, cut: () => void, accepted: () => number, sockets: () => number }> {
  const open = new Set<Socket>()
  let accepted = 0
  let sockets = 0
  const server = createServer((incoming) => {
    accepted++
    const outgoing = connect(port, '127.0.0.1')
    for (const socket of [incoming, outgoing]) {
      open.add(socket)
      socket.on('close', () => { open.delete(socket) })
      socket.on('error', () => { incoming.destroy(); outgoing.destroy() })
    }
    let upgraded = false
    outgoing.once('data', (chunk: Buffer) => { upgraded = chunk.toString('latin1').startsWith('HTTP/1.1 101') })
    const written = (): void => {
      if (!upgraded) return
      sockets++
      incoming.off('data', written)
    }
    incoming.on('data', written)
    incoming.pipe(outgoing).pipe(incoming)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of open) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => { for (const socket of open) socket.destroy() },
    accepted: () => accepted,
    sockets: () => sockets
  }
}

t.test('rpc and serve go over the socket: a few HTTP sends while it opens, then none', async (t) => {
  const { url } = await runSwitch(t, { host: '127.0.0.1' })
  const server = clientOf(t, url, { client: 'server' })
  const caller = clientOf(t, url, { client: 'caller' })
  const service = server.serve('upper', (request) => request.toString().toUpperCase(), { concurrency: 4 })
  t.equal((await caller.rpc('upper', 'first')).toString(), 'FIRST')
  await eventually('both sockets open', async () => await openSockets(url) === 2 ? true : undefined)
  const before = await httpSendsAndAcks(url)
  const replies = await Promise.all(Array.from({ length: 200 }, async (_, i) => (await caller.rpc('upper', `call ${i}`)).toString()))
  t.same(replies, Array.from({ length: 200 }, (_, i) => `CALL ${i}`))
  t.equal(await httpSendsAndAcks(url), before, 'no send, reply or ack went over HTTP')
  await service.stop()
})

t.test('over the switch\'s Unix socket, the socket opens on it too', async (t) => {
  const path = socketPath(t)
  await runSwitch(t, { listenTcp: false, socketPath: path })
  const server = clientOf(t, 'http://switch', { client: 'server', socketPath: path })
  const caller = clientOf(t, 'http://switch', { client: 'caller', socketPath: path })
  const service = server.serve('upper', (request) => request.toString().toUpperCase())
  t.equal((await caller.rpc('upper', 'unix')).toString(), 'UNIX')
  const agent = new Agent({ connect: { socketPath: path } })
  t.teardown(async () => { await agent.close() })
  await eventually('both sockets open', async () => await openSockets('http://switch', agent) === 2 ? true : undefined)
  t.equal((await caller.rpc('upper', 'again')).toString(), 'AGAIN')
  await service.stop()
})

t.test('sockets cut mid-flight: every call is answered once, each request handled once', async (t) => {
  const running = await runSwitch(t, { host: '127.0.0.1' })
  const { url, cut, accepted, sockets } = await relay(t, portOf(running.url))
  const server = clientOf(t, url, { client: 'server' })
  const caller = clientOf(t, url, { client: 'caller' })
  const handled = new Map<string, number>()
  const service = server.serve('echo', (request) => {
    const text = request.toString()
    handled.set(text, (handled.get(text) ?? 0) + 1)
    return `echo ${text}`
  }, { concurrency: 8 })
  await caller.rpc('echo', 'warm-up')
  await eventually('both sockets in use', async () => sockets() >= 2 ? true : undefined)
  const connections = accepted()
  const calls = Array.from({ length: 300 }, async (_, i) => (await caller.rpc('echo', `call ${i}`, { timeout: 20 })).toString())
  // Cut every connection (sockets and HTTP alike) while calls are on their way, three times.
  for (let round = 0; round < 3; round++) {
    await eventually('calls answered since the last cut', async () => handled.size > 50 * (round + 1) ? true : undefined)
    const before = sockets()
    cut()
    // Each cut finds both clients on sockets they use. Otherwise the server's queued requests alone could bring the
    // answers on while the caller lives through two cuts on one connection, and a cut in a handshake would send a
    // client to HTTP for a minute (see RETRY_AFTER_MS).
    await eventually('both sockets in use again', async () => sockets() >= before + 2 ? true : undefined)
  }
  const replies = await Promise.all(calls)
  t.same(replies, Array.from({ length: 300 }, (_, i) => `echo call ${i}`), 'every call answered with its own reply')
  const twice = [...handled].filter(([, n]) => n > 1)
  t.same(twice, [], 'no request handled twice')
  await eventually('the sockets open again', async () => await openSockets(running.url) === 2 ? true : undefined)
  t.ok(accepted() >= connections + 6, `the clients connected again after each cut (${accepted() - connections} connections)`)
  await service.stop()
})

t.test('requests made in one turn go as few frames, within the switch\'s limits on a frame', async (t) => {
  const { url } = await runSwitch(t, { host: '127.0.0.1' })
  const token = ((await (await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"joiner"}' })).json()) as { token: string }).token
  await fetch(`${url}/v1/queues/joined`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } })
  const transport = new Transport({ urls: [url], connections: 1, retryFor: 1000 })
  t.teardown(async () => { await transport.close() })
  const socket = await SwitchSocket.open(transport.socketTarget(), token, 1, () => {})
  t.teardown(() => { socket.close() })
  // More requests than one frame may hold, then payloads too large to share a frame: all in one turn.
  const small = Array.from({ length: 600 }, (_, i) => socket.sendQuietly([{ queue: 'joined', payload: String(i) }]))
  const large = Array.from({ length: 3 }, () => socket.sendQuietly([{ queue: 'joined', payload: 'x'.repeat(700 * 1024) }]))
  t.same(await Promise.all([...small, ...large]), Array.from({ length: 603 }, () => undefined), 'every one confirmed')
  t.equal(socket.closed, false, 'no frame broke a limit')
  const info = await (await fetch(`${url}/v1/queues/joined`, { headers: { authorization: `Bearer ${token}` } })).json() as { length: number }
  t.equal(info.length, 603)
})
