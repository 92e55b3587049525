// Clients that ask for big answers and never read them cannot run the switch out of memory: past
// --max-unread-bytes the connections holding the most are reset, the count shows in diagnostics, everyone else
// is answered, and the process stays within the README's worst-case memory for the limits it runs with.
// The stalled readers come through the switch's Unix socket (the same HTTP server as TCP): on loopback TCP the
// kernel takes up to some 4 MiB of each unread answer off the switch's hands, more than a whole answer of the
// default --max-answer-bytes, which would leave nothing for the cap to see.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Diagnostics, LoginResponse } from '../../../protocol/wire.js'
import { start, type Teardown } from '../../cli/spawn.js'
import { eventually } from '../../eventually.js'
import { readAll, parseReply } from './raw.js'

const MiB = 1024 * 1024

interface Switch {
  url: string
  socket: string
  pid: number
  token: string
}

/** `switch serve` with `flags`, and a session subscribed to queue q holding `messages` payloads of 1 MiB. */
async function serveWithMessages (t: Teardown, flags: string[], messages: number): Promise<Switch> {
  const dir = mkdtempSync(join(tmpdir(), 'switch-slow-'))
  const socket = join(dir, 'switch.sock')
  const server = start(t, ['serve', '--port', '0', '--socket', socket, '--log-level', 'error', '--session-ttl', '600', ...flags])
  t.teardown(async () => {
    await server.kill()
    rmSync(dir, { recursive: true, force: true })
  })
  const [, url] = await server.line(/^switch listening on (\S+) and /)
  const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"filler"}' })
  const { token } = await login.json() as LoginResponse
  const call = async (method: string, path: string, body?: string): Promise<void> => {
    const response = await fetch(`${url}/v1${path}`, { method, body, headers: { authorization: `Bearer ${token}` } })
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  }
  await call('PUT', '/queues/q')
  await call('PUT', '/session/subscriptions/q')
  const payload = 'a'.repeat(MiB)
  for (let i = 0; i < messages; i++) await call('POST', '/queues/q/messages', payload)
  return { url, socket, pid: server.child.pid ?? 0, token }
}

async function diagnostics (url: string): Promise<Diagnostics> {
  return await (await fetch(`${url}/v1/diagnostics`)).json() as Diagnostics
}

async function unread (url: string): Promise<{ used: number, closed: number }> {
  const { limits, connections } = await diagnostics(url)
  return { used: limits?.unreadBytes?.used ?? 0, closed: connections?.closedSlowReaders ?? 0 }
}

/** A raw connection that asks for the first `max` messages and reads nothing (until told to); closed at teardown. */
async function stalledReader (t: Teardown, sw: Switch, max: number): Promise<Socket> {
  const socket = connect(sw.socket)
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await once(socket, 'connect')
  socket.write(`GET /v1/transfer?after=0&max=${max} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${sw.token}\r\nConnection: close\r\n\r\n`)
  return socket
}

function kib (pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? Number.NaN)
}

t.test('past --max-unread-bytes the connection holding the most is reset; the others get all of theirs', async (t) => {
  const sw = await serveWithMessages(t, ['--max-unread-bytes', String(4 * MiB)], 3)
  const big = await stalledReader(t, sw, 3)
  await eventually('the 3 MiB answer waiting', async () => { const u = await unread(sw.url); return u.used > 3 * MiB ? u : undefined })
  const first = await stalledReader(t, sw, 2)
  const { used } = await eventually('the largest reset', async () => { const u = await unread(sw.url); return u.closed === 1 ? u : undefined })
  t.ok(used > 2 * MiB && used < 3 * MiB, `the 2 MiB answer is all that waits (${used} bytes)`)
  const second = await stalledReader(t, sw, 1)
  await eventually('the 2 and 1 MiB answers waiting', async () => { const u = await unread(sw.url); return u.used > 3 * MiB ? u : undefined })
  t.equal((await fetch(`${sw.url}/v1/health`)).status, 200, 'others are answered meanwhile')
  t.match(await unread(sw.url), { closed: 1 }, 'under the cap, no other was closed')

  const [cut, one, two] = await Promise.all([big, first, second].map(async (socket) => await readAll(socket)))
  t.ok(cut.closed && cut.data.length < 3 * MiB, `the 3 MiB answer was cut off (${cut.data.length} bytes came)`)
  for (const [{ data, closed }, ids] of [[one, [1, 2]], [two, [1]]] as const) {
    const reply = parseReply(data, closed)
    t.equal(reply.status, 200)
    t.same((reply.json as { messages: Array<{ id: number }> }).messages.map(({ id }) => id), ids, 'the answer arrives whole once read')
  }
  t.match(await unread(sw.url), { used: 0, closed: 1 }, 'nothing waits once they have read')
  const { limits } = await diagnostics(sw.url)
  t.match(limits?.unreadBytes, { limit: 4 * MiB, used: 0 })
})

t.test('32 stalled readers over 48 MiB queued: the switch answers health and stays within the memory formula', async (t) => {
  const limits = { queued: 48 * MiB, unread: 16 * MiB, connections: 1000 }
  const sw = await serveWithMessages(t, [
    '--max-queued-bytes', String(limits.queued), '--max-unread-bytes', String(limits.unread), '--max-connections', String(limits.connections)
  ], 48)
  const readers: Socket[] = []
  for (let i = 0; i < 32; i++) readers.push(await stalledReader(t, sw, 3))
  // Each answer is 3 MiB: five fit under the cap, and every other reader is reset.
  await eventually('27 readers reset', async () => { const u = await unread(sw.url); return u.closed === 27 ? u : undefined }, 20_000)
  t.equal((await fetch(`${sw.url}/v1/health`)).status, 200, 'health is answered (its latency is the benchmark\'s to report)')
  const { used } = await unread(sw.url)
  t.ok(used <= limits.unread, `unread bytes within the cap (${used})`)

  // The README's bound, with the default --max-answer-bytes (4 MiB): 100 MiB + 2 × (1.5 × queued bytes +
  // 4 × (unread bytes + an answer) + 32 KiB per connection).
  const answer = 4 * MiB
  const bound = 100 * MiB + 2 * (1.5 * limits.queued + 4 * (limits.unread + answer) + limits.connections * 32 * 1024)
  const peak = kib(sw.pid, 'VmHWM') * 1024
  t.ok(peak <= bound, `peak RSS ${Math.round(peak / MiB)} MiB within the bound ${Math.round(bound / MiB)} MiB`)
  for (const reader of readers) reader.destroy()
  await eventually('nothing waiting once the readers are gone', async () => { const u = await unread(sw.url); return u.used === 0 ? u : undefined })
})
