// Clients that vanish, and a graceful shutdown under load: the switch cleans up after the ones that went away,
// and every client of a stopping switch sees a whole answer or a clear refusal, never half of one. With a data
// directory, nothing that was answered 201 is lost.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Diagnostics, SendResponse } from '../../../protocol/wire.js'
import { startSwitch } from '../../../server/index.js'
import { eventually, startHttp, waitingOn, type Api } from './fixtures.js'
import { openSocket, parseReply, readAll, type RawReply } from './raw.js'

async function sessionInFlight (api: Api, client: string): Promise<number | undefined> {
  return (await api.diagnostics()).sessions.find((session) => session.client === client)?.inFlight
}

t.test('clients that vanish mid long-poll release their waiters and their lease', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('vanishing')
  await api.call('PUT', '/v1/queues/q', { token })
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  const sockets = await Promise.all(Array.from({ length: 40 }, async () => {
    const socket = await openSocket(api.url)
    socket.write(`GET /v1/transfer?timeout=60 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    return socket
  }))
  await waitingOn(api, 'q', 40)
  t.equal(await sessionInFlight(api, 'vanishing'), 40)
  for (const socket of sockets) socket.destroy()
  await waitingOn(api, 'q', 0)
  await eventually('the lease released', async () => (await sessionInFlight(api, 'vanishing')) === 0 ? true : undefined)
  t.match((await api.diagnostics()).limits, { sessionPolls: { used: 0 } })

  await api.call('POST', '/v1/queues/q/messages', { token, body: 'not lost to a vanished poll' })
  t.match((await api.call('GET', '/v1/transfer', { token })).json, { messages: [{ payload: 'not lost to a vanished poll' }] })
})

t.test('a client that vanishes mid-send enqueues nothing; one that vanishes before the answer can retry', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('sender')
  await api.call('PUT', '/v1/queues/q', { token })
  const half = await openSocket(api.url)
  half.write(`POST /v1/queues/q/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Length: 100\r\n\r\nhalf of it`)
  half.destroy()

  // A whole send whose answer nobody reads: it may be made, and a retry with the same key does not repeat it.
  const whole = await openSocket(api.url)
  whole.end(`POST /v1/queues/q/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nIdempotency-Key: once\r\nContent-Length: 5\r\n\r\nwhole`)
  whole.destroy()
  const retry = await api.call('POST', '/v1/queues/q/messages', { token, body: 'whole', headers: { 'idempotency-key': 'once' } })
  t.equal(retry.status, 201)
  await api.call('POST', '/v1/queues/q/messages', { token, body: 'after' })
  const { messages } = (await api.call('GET', '/v1/transfer', { token: await subscribed(api, 'q') })).json as { messages: Array<{ payload: string }> }
  t.same(messages.map((message) => message.payload), ['whole', 'after'], 'half a body is nothing; the whole one is there once')
})

async function subscribed (api: Api, queue: string): Promise<string> {
  const token = await api.login('reader')
  await api.call('PUT', `/v1/session/subscriptions/${queue}`, { token })
  return token
}

/**
 * One request on its own connection: a whole answer, or nothing at all. A stopping switch refuses connections,
 * and closes the ones it accepted whose request it has not begun to read (Node's idle connections).
 */
async function exchange (url: string, request: string): Promise<RawReply | 'refused'> {
  let socket
  try {
    socket = await openSocket(url)
  } catch {
    return 'refused'
  }
  socket.write(request)
  const { data, closed } = await readAll(socket, 30_000)
  return data.length === 0 ? 'refused' : parseReply(data, closed)
}

interface Load {
  accepted: number[]
  problems: string[]
  answers: Map<string, number>
}

/**
 * Senders and long-pollers hammering `url` until the switch refuses them. Each answer must be whole: a
 * complete 2xx, a complete 503 shutting_down, or no answer at all.
 */
function load (url: string, token: string, senders: number, pollers: number): { load: Load, done: Promise<void> } {
  const state: Load = { accepted: [], problems: [], answers: new Map() }
  const judge = (reply: RawReply | 'refused', ok: number): boolean => {
    const key = reply === 'refused' ? 'refused' : String(reply.status)
    state.answers.set(key, (state.answers.get(key) ?? 0) + 1)
    if (reply === 'refused') return false
    const length = Number(reply.headers['content-length'] ?? -1)
    if (reply.status === 0 || Buffer.byteLength(reply.body) !== length) {
      state.problems.push(`a cut answer: ${JSON.stringify(reply)}`)
      return false
    }
    if (reply.status === ok) return true
    if (reply.status !== 503 || (reply.json as { error?: { code?: string } }).error?.code !== 'shutting_down') {
      state.problems.push(`an unclear refusal: ${reply.status} ${reply.body}`)
    }
    return false
  }
  const headers = `Host: localhost\r\nAuthorization: Bearer ${token}\r\nConnection: close`
  const sender = async (n: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const body = `sender ${n} message ${i}`
      const reply = await exchange(url, `POST /v1/queues/load/messages HTTP/1.1\r\n${headers}\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
      if (!judge(reply, 201)) return
      state.accepted.push(((reply as RawReply).json as SendResponse).id)
    }
  }
  const poller = async (): Promise<void> => {
    for (;;) {
      const reply = await exchange(url, `GET /v1/transfer?after=0&max=5&timeout=30 HTTP/1.1\r\n${headers}\r\n\r\n`)
      // A long-poll answered empty because the switch stops is a whole answer too; the next one is refused.
      if (!judge(reply, 200)) return
    }
  }
  const done = Promise.all([
    ...Array.from({ length: senders }, async (_, n) => { await sender(n) }),
    ...Array.from({ length: pollers }, async () => { await poller() })
  ]).then(() => {})
  return { load: state, done }
}

async function shutdownUnderLoad (t: Test, dataDir?: string): Promise<Load> {
  const running = await startSwitch({ port: 0, ...(dataDir === undefined ? {} : { dataDir }) })
  t.teardown(running.stop)
  const login = await fetch(`${running.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"load"}' })
  const { token } = await login.json() as { token: string }
  await fetch(`${running.url}/v1/queues/load`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } })
  await fetch(`${running.url}/v1/session/subscriptions/load`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } })
  const { load: state, done } = load(running.url, token, 20, 20)
  await eventually('sends under way', async () => state.accepted.length >= 200 ? true : undefined, 30_000)
  const shutdown = await fetch(`${running.url}/v1/shutdown`, { method: 'POST' })
  t.equal(shutdown.status, 202)
  await done
  await running.stopped
  t.same(state.problems, [], 'every answer whole and clear')
  t.comment(`answers: ${JSON.stringify(Object.fromEntries(state.answers))}`)
  return state
}

t.test('a graceful shutdown under load: whole answers or clear refusals, never half an answer', async (t) => {
  const state = await shutdownUnderLoad(t)
  t.ok(state.accepted.length >= 200)
})

t.test('with a data directory, every send answered 201 before the shutdown is there after the restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switch-faults-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const state = await shutdownUnderLoad(t, dir)
  const again = await startSwitch({ port: 0, dataDir: dir })
  t.teardown(again.stop)
  const diagnostics = await (await fetch(`${again.url}/v1/diagnostics`)).json() as Diagnostics
  const kept = new Set(diagnostics.queues.find((queue) => queue.name === 'load')?.messages.map((message) => message.id))
  const lost = state.accepted.filter((id) => !kept.has(id))
  t.same(lost, [], `all ${state.accepted.length} accepted sends kept`)
  // A connection closed without a word was never taken in: no message was stored without its 201.
  t.equal(kept.size, state.accepted.length, 'and nothing else')
})
