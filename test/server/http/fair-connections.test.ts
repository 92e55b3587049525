// One client cannot take every connection: an address holds at most its share (3/4 of --max-connections unless
// told), one beyond it is answered 429 in the error shape, and a connection that never sends a request is closed
// after --idle-connection-timeout. The switch runs as users run it, `switch serve` with the flags.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import type { Diagnostics } from '../../../protocol/wire.js'
import { start, type Teardown } from '../../cli/spawn.js'
import { addressOf, readOne } from './raw.js'

async function serve (t: Teardown, flags: string[]): Promise<string> {
  const server = start(t, ['serve', '--port', '0', '--log-level', 'error', ...flags])
  const [, url] = await server.line(/^switch listening on (\S+)$/)
  return url
}

async function diagnostics (url: string): Promise<Diagnostics> {
  return await (await fetch(`${url}/v1/diagnostics`)).json() as Diagnostics
}

/**
 * `count` connections from the loopback address `from`, opened in batches, each reading what the switch says
 * into `said` (as a client would, so that a refused connection closes at once); each is closed at teardown.
 */
async function openFrom (t: Teardown, url: string, from: string, count: number, said?: Map<Socket, Buffer[]>): Promise<Socket[]> {
  const sockets: Socket[] = []
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  for (let opened = 0; opened < count; opened += 100) {
    const batch = Array.from({ length: Math.min(100, count - opened) }, () => {
      const socket = connect({ ...addressOf(url), localAddress: from })
      socket.on('error', () => {})
      if (said !== undefined) {
        const chunks: Buffer[] = []
        said.set(socket, chunks)
        socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      }
      sockets.push(socket)
      return once(socket, 'connect')
    })
    await Promise.all(batch)
  }
  return sockets
}

/** Resolves once `count` of `sockets` have closed (some may have already). */
async function closed (sockets: Socket[], count: number): Promise<void> {
  let left = count - sockets.filter((socket) => socket.closed).length
  if (left <= 0) return
  await new Promise<void>((resolve) => {
    for (const socket of sockets.filter((socket) => !socket.closed)) {
      socket.once('close', () => {
        if (--left === 0) resolve()
      })
    }
  })
}

t.test('one address opening 1,200 idle sockets under --max-connections 1000 leaves room for everyone else', async (t) => {
  // The idle timeout out of the way: it alone would free the connections in time.
  const url = await serve(t, ['--max-connections', '1000', '--idle-connection-timeout', '600'])
  const said = new Map<Socket, Buffer[]>()
  const sockets = await openFrom(t, url, '127.0.0.2', 1200, said)
  await closed(sockets, 450)
  const refused = sockets.filter((socket) => socket.closed)
  t.equal(refused.length, 450, 'every connection past 750 (3/4 of 1000) was closed, no other')
  const answer = Buffer.concat(said.get(refused[0]) ?? []).toString()
  t.match(answer, /^HTTP\/1\.1 429 /, 'after a 429')
  t.match(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), {
    error: { code: 'limit_exceeded', message: /127\.0\.0\.2 holds 750 connections.*maxConnectionsPerAddress/ }
  })

  const health = await fetch(`${url}/v1/health`)
  t.equal(health.status, 200, 'another client is answered')
  const { limits, connections } = await diagnostics(url)
  t.match(limits, { connectionsPerAddress: { limit: 750, used: 750 }, connections: { limit: 1000 } })
  t.match(connections, { refusedPerAddress: 450, closedIdle: 0 })
})

t.test('a connection past --max-connections-per-address gets its request answered with a 429, then closed', async (t) => {
  const url = await serve(t, ['--max-connections-per-address', '2'])
  await openFrom(t, url, '127.0.0.3', 2)
  const [third] = await openFrom(t, url, '127.0.0.3', 1)
  // The request is sent, as a client would, before the answer arrives: the answer must not be lost to a reset.
  third.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const reply = await readOne(third)
  t.equal(reply.status, 429)
  t.equal(reply.headers['content-type'], 'application/json; charset=utf-8')
  t.match(reply.json, { error: { code: 'limit_exceeded', message: /maxConnectionsPerAddress/ } })
  t.equal((await fetch(`${url}/v1/health`)).status, 200, 'another address is served')
})

t.test('sockets that never send a request are closed after --idle-connection-timeout; one that did stays', async (t) => {
  const url = await serve(t, ['--idle-connection-timeout', '1'])
  const [used] = await openFrom(t, url, '127.0.0.1', 1)
  used.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const first = await new Promise<string>((resolve) => { used.once('data', (chunk: Buffer) => { resolve(chunk.toString()) }) })
  t.match(first, /^HTTP\/1\.1 200 /)
  const idle = await openFrom(t, url, '127.0.0.4', 20)
  await closed(idle, 20)
  t.pass('all 20 idle sockets closed by the switch')
  t.notOk(used.destroyed, 'the connection that carried a request is kept alive')
  used.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const again = await new Promise<string>((resolve) => { used.once('data', (chunk: Buffer) => { resolve(chunk.toString()) }) })
  t.match(again, /^HTTP\/1\.1 200 /, 'and still answers')
  used.destroy()
  t.match((await diagnostics(url)).connections, { closedIdle: 20 })
})
