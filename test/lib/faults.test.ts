// The client library under faults: a server that dies holding a request, a switch restarting with its data
// directory mid-RPC, connections reset under a call, answers held back, a switch that hangs. Every call
// completes or fails with a clear error within its timeout; none hangs.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { RpcTimeoutError, type SwitchClient } from '../../lib/index.js'
import { startSwitch } from '../../server/index.js'
import { clientOf, deferred, portOf, runSwitch, traced, waitingOn } from './fixtures.js'
import { startProxy } from './proxy.js'

/** A server that takes the next request on `queue` and then dies without replying or acking. */
async function takeAndDie (t: Test, url: string, queue: string): Promise<void> {
  const doomed = clientOf(t, url, { client: 'doomed-server' })
  await doomed.createQueue(queue)
  await doomed.subscribe(queue)
  const { messages } = await doomed.transfer({ after: 0, timeout: 10 })
  if (messages.length === 0) throw new Error('no request came')
  // Its process is gone: no reply, no ack, and its session ends (here at once, by logging out).
  await doomed.logout()
}

t.test('the caller of a server that died holding its request gets RpcTimeoutError, not a hang', async (t) => {
  const { url } = await runSwitch(t)
  const caller = clientOf(t, url, { client: 'caller' })
  // Long enough for the request to be sent and taken on a loaded machine; the test waits it out once.
  const call = caller.rpc('fragile', 'hello', { timeout: 3 })
  // Watched from the start: on a loaded machine the timeout may come before the server is done dying.
  const timedOut = t.rejects(call, { name: 'RpcTimeoutError', code: 'timeout', message: /no reply from queue "fragile" within 3 s/ })
  await takeAndDie(t, url, 'fragile')
  await timedOut
  await t.rejects(call, RpcTimeoutError)
})

t.test('a request whose server died unacked is delivered to the next server', async (t) => {
  const { url } = await runSwitch(t)
  const caller = clientOf(t, url, { client: 'caller' })
  const call = caller.rpc('fragile', 'survive me', { timeout: 30 })
  await takeAndDie(t, url, 'fragile')
  const next = clientOf(t, url, { client: 'next-server' })
  next.serve('fragile', (request) => `handled ${request.toString()}`)
  t.equal((await call).toString(), 'handled survive me')
})

t.test('a switch restarted on its data directory mid-RPC: the call completes, in the same sessions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switch-lib-faults-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const first = await startSwitch({ port: 0, dataDir: dir })
  const port = portOf(first.url)
  let second: Awaited<ReturnType<typeof startSwitch>> | undefined
  t.teardown(async () => {
    await first.stop()
    await second?.stop()
  })
  const server = clientOf(t, first.url, { client: 'server' })
  const caller = clientOf(t, first.url, { client: 'caller' })
  const inHandler = deferred()
  const gate = deferred()
  let handled = 0
  server.serve('svc', async (request) => {
    if (handled++ === 0) {
      inHandler.resolve()
      await gate.promise
    }
    return `re ${request.toString()}`
  })
  const inFlight = caller.rpc('svc', 'in flight')
  await inHandler.promise
  await first.stop()
  second = await startSwitch({ port, dataDir: dir })
  gate.resolve()

  t.equal((await inFlight).toString(), 're in flight', 'the reply made after the restart reached the caller')
  t.equal((await caller.rpc('svc', 'after')).toString(), 're after')
  t.equal(caller.sessionEpoch, 1, 'the caller kept its session: the switch kept it')
  t.equal(server.sessionEpoch, 1, 'so did the server')
  t.equal(handled, 2, 'each request handled once')
})

t.test('connections reset under a call in flight: it completes', async (t) => {
  const { url } = await runSwitch(t)
  const proxy = await startProxy(t, url)
  const server = clientOf(t, url, { client: 'server' })
  const inHandler = deferred()
  const gate = deferred()
  server.serve('svc', async (request) => {
    inHandler.resolve()
    await gate.promise
    return `re ${request.toString()}`
  })
  const caller = clientOf(t, proxy.url, { client: 'caller' })
  const call = caller.rpc('svc', 'through a bad network', { timeout: 30 })
  await inHandler.promise
  const reply = (await caller.session()).queues[0]
  await waitingOn(caller, reply, 1)
  proxy.resetAll()
  gate.resolve()
  t.equal((await call).toString(), 're through a bad network')
  t.ok(proxy.accepted > 1, `the caller connected again (${proxy.accepted} connections)`)
  // A send cut off by a reset is retried with its idempotency key: one message, whatever the switch had seen.
  await caller.createQueue('inbox')
  const sending = caller.send('inbox', 'once')
  proxy.resetAll()
  await sending
  const observer = clientOf(t, url)
  t.equal((await observer.queue('inbox')).length, 1)
})

t.test('answers held back: calls complete; a call whose timeout is shorter fails with a timeout', async (t) => {
  const { url } = await runSwitch(t)
  const proxy = await startProxy(t, url, { delayMs: 100 })
  const server = clientOf(t, url, { client: 'server' })
  server.serve('svc', (request) => `re ${request.toString()}`)
  const caller = clientOf(t, proxy.url, { client: 'slow-caller' })
  t.equal((await caller.rpc('svc', 'patient', { timeout: 30 })).toString(), 're patient')
  await t.rejects(caller.rpc('svc', 'impatient', { timeout: 0.05 }), RpcTimeoutError)
  const sent = await caller.send('svc-log', 'slowly', {}).catch((error: unknown) => error)
  t.match(sent, { code: 'queue_not_found' }, 'an error answer held back is still the error')
})

t.test('a switch that hangs: calls fail with a clear error within their timeout', async (t) => {
  const proxy = await startProxy(t, 'http://127.0.0.1:9', { blackHole: true })
  const client: SwitchClient = clientOf(t, proxy.url, { client: 'stuck' })
  await t.rejects(client.rpc('svc', 'anyone?', { timeout: 0.3 }), { code: 'timeout' })
  await t.rejects(client.send('q', 'x', { signal: AbortSignal.timeout(300) }), { code: 'aborted' })
  await t.rejects(client.health({ signal: AbortSignal.timeout(300) }), { name: 'AbortError' })
})

t.test('the trace shows a vanished server\'s request still there, for the next one to take', async (t) => {
  const { url } = await runSwitch(t)
  const observer = clientOf(t, url)
  const caller = clientOf(t, url, { client: 'caller' })
  // Long enough for the request to be sent and taken on a loaded machine.
  const call = caller.rpc('watched', 'pending', { timeout: 3 }).catch((error: unknown) => error)
  await takeAndDie(t, url, 'watched')
  t.type(await call, RpcTimeoutError)
  await traced(observer, (event) => event.type === 'session_end' && event.client === 'doomed-server')
  t.equal((await observer.queue('watched')).length, 1, 'the request waits, unacked, for a server')
})
