// `switch serve` applies each of its flags: a switch started as users start it, with every value away from its
// default, shows each one in what it does. (Tests of the switch itself start it in-process; these catch a
// flag read but not passed on.)
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Diagnostics } from '../../protocol/wire.js'
import { eventually } from '../eventually.js'
import { session, startSwitch, waitForEvent } from './spawn.js'

const dir = mkdtempSync(join(tmpdir(), 'switch-flags-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const socket = join(dir, 'switch.sock')

// The session TTL gets a switch of its own: a short one would race the other tests' sessions.
const { url } = await startSwitch(t, [
  '--max-payload', '1000', '--max-timeout', '20', '--heartbeat', '1', '--socket', socket, '--socket-mode', '640'
])
const call = await session(url)
await call('PUT', '/queues/q')

async function post (body: string): Promise<number> {
  const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"poster"}' })
  const { token } = await login.json() as { token: string }
  return (await fetch(`${url}/v1/queues/q/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body })).status
}

t.test('--max-payload', async (t) => {
  t.equal(await post('x'.repeat(1000)), 201, 'a payload of exactly the limit is taken')
  t.equal(await post('x'.repeat(1001)), 413, 'one byte more is refused')
})

t.test('--max-timeout caps a long-poll', async (t) => {
  await call('PUT', '/queues/empty')
  await call('PUT', '/session/subscriptions/empty')
  // The switch records each long-poll's deadline; with nothing to deliver, this one waits for its cap.
  const polling = call('GET', '/transfer?after=0&timeout=60')
  const waiting = await eventually('the long-poll', async () => {
    const diagnostics = await (await fetch(`${url}/v1/diagnostics`)).json() as Diagnostics
    const queue = diagnostics.queues.find((queue) => queue.name === 'empty')
    return queue?.waiting === 1 ? queue : undefined
  })
  t.equal((waiting.nextTransferExpected ?? 0) - (waiting.lastTransfer ?? 0), 20_000, 'a 60 s poll waits 20 s at most')
  void polling.catch(() => {})
})

t.test('--session-ttl: an idle session ends about a second after its last request', async (t) => {
  const { url } = await startSwitch(t, ['--session-ttl', '1'])
  const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"idler"}' })
  t.equal(login.status, 201)
  // Waited for as an event; the default TTL (30 s) would outlast the 10 s this wait allows.
  const ended = await waitForEvent(url, (event) => event.type === 'session_end' && event.client === 'idler')
  t.ok(ended)
})

t.test('--heartbeat: an idle event stream gets a comment every second', async (t) => {
  const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"listener"}' })
  const { token } = await login.json() as { token: string }
  const controller = new AbortController()
  // The default heartbeat (15 s) would outlast this 10 s limit.
  const limit = setTimeout(() => { controller.abort() }, 10_000)
  t.teardown(() => { clearTimeout(limit); controller.abort() })
  const response = await fetch(`${url}/v1/stream`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
  let seen = ''
  const decoder = new TextDecoder()
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    seen += decoder.decode(chunk, { stream: true })
    if (seen.includes(': ping\n\n')) break
  }
  t.match(seen, /^: connected\n\n: ping\n\n/, 'a heartbeat came')
})

t.test('--socket-mode is octal', async (t) => {
  t.equal(statSync(socket).mode & 0o777, 0o640)
})
