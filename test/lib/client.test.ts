import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import {
  ClientClosedError,
  messageBody,
  SwitchClient,
  SwitchClientError,
  SwitchRequestError,
  SwitchUnavailableError
} from '../../lib/index.js'
import { startSwitch } from '../../server/index.js'
import { clientOf, eventually, runSwitch, socketPath, waitingOn } from './fixtures.js'

t.test('every operation round-trips', async (t) => {
  const { url } = await runSwitch(t)
  const client = clientOf(t, url, { client: 'alice' })

  t.equal(client.sessionEpoch, 0, 'no session before the first call')
  const login = await client.login()
  t.match(login, { token: String, client: 'alice', ttl: 30 })
  t.equal(client.sessionEpoch, 1)
  t.equal((await client.login()).token, login.token, 'login returns the current session')

  t.same(await client.createQueue('orders'), { name: 'orders', kind: 'persistent', created: true })
  t.same(await client.createQueue('orders'), { name: 'orders', kind: 'persistent', created: false })
  const temporary = await client.createTemporaryQueue()
  t.match(temporary, { name: /^tmp-/, kind: 'temporary', created: true })
  await client.subscribe('orders')

  const text = await client.send('orders', 'hello', { correlationId: 'c1', replyTo: temporary.name })
  t.match(text, { id: Number, duplicate: false })
  const bytes = await client.send('orders', Uint8Array.from([0xff, 0x00, 0x80]))
  const keyed = await client.send('orders', 'once', { idempotencyKey: 'k1' })
  t.same(await client.send('orders', 'once', { idempotencyKey: 'k1' }), { id: keyed.id, duplicate: true })

  const { messages, next } = await client.transfer({ after: 0 })
  t.equal(next, keyed.id)
  t.match(messages, [
    { id: text.id, queue: 'orders', payload: 'hello', correlationId: 'c1', replyTo: temporary.name, origin: 'alice' },
    { id: bytes.id, encoding: 'base64' },
    { id: keyed.id, payload: 'once' }
  ])
  t.same(messageBody(messages[1]), Buffer.from([0xff, 0x00, 0x80]), 'binary payloads come back as sent')
  t.same(await client.transfer({ after: next, max: 5 }), { messages: [], next }, 'nothing newer')

  const session = await client.session()
  t.match(session, { token: login.token, client: 'alice', subscriptions: ['orders'], queues: [temporary.name] })
  t.match(await client.queue('orders'), { name: 'orders', kind: 'persistent', length: 3 })
  t.same((await client.list({ prefix: 'ord' })).map((q) => q.name), ['orders'])
  t.same((await client.list({ prefix: 'ord', alive: true })).map((q) => q.name), ['orders'], 'polled a moment ago')
  t.same(await client.list({ prefix: 'tmp-', alive: true }), [], 'never polled')

  await client.ack(text.id)
  // A reply that acks its request in the same step, marked as a failure.
  await client.subscribe(temporary.name)
  const reply = await client.send(temporary.name, 'it failed', { ack: bytes.id, correlationId: 'c1', error: true })
  if ('dropped' in reply) throw new Error('the reply queue exists: nothing is dropped')
  t.match(await client.queue('orders'), { length: 1 }, 'both acked')
  const replies = await client.transfer({ after: next })
  t.match(replies.messages, [{ id: reply.id, queue: temporary.name, payload: 'it failed', correlationId: 'c1', error: true }])

  await client.unsubscribe('orders')
  t.same((await client.session()).subscriptions, [temporary.name])
  await client.destroy('orders')
  await t.rejects(client.queue('orders'), { code: 'queue_not_found', status: 404 })

  t.match(await client.health(), { status: 'ok', uptime: Number })
  const diagnostics = await client.diagnostics()
  t.match(diagnostics.sessions, [{ client: 'alice', queues: [temporary.name] }])
  const trace = await client.trace({ after: 0, max: 3 })
  t.match(trace.events, [{ type: 'login', client: 'alice' }, { type: 'create', queue: 'orders' }, { type: 'create' }])
  t.equal(trace.next, trace.events[2].id)

  await client.logout()
  t.same((await client.diagnostics()).sessions, [], 'logged out')
  t.same(await client.list({ prefix: 'tmp-' }), [], 'temporary queues went with the session')
  await client.createQueue('again')
  t.equal(client.sessionEpoch, 2, 'the next call logged in afresh')
  t.same((await client.session()).subscriptions, [], 'without the subscriptions of the session logged out')
})

t.test('shutdown() stops the switch gracefully', async (t) => {
  const running = await runSwitch(t)
  const client = clientOf(t, running.url, { retryFor: 0 })
  await client.shutdown()
  await running.stopped
  await t.rejects(client.health(), { code: 'unavailable' })
})

t.test('switch errors carry their code and status', async (t) => {
  const { url } = await runSwitch(t, { maxPayload: 16 })
  const client = clientOf(t, url)
  await client.createQueue('q')

  const missing = await client.send('missing', 'x').catch((error: unknown) => error)
  t.type(missing, SwitchRequestError)
  t.type(missing, SwitchClientError)
  t.match(missing, { name: 'SwitchRequestError', code: 'queue_not_found', status: 404, message: /missing/ })
  await t.rejects(client.ack(424242), { code: 'message_not_found', status: 404 })
  await t.rejects(client.createQueue('.hidden'), { code: 'invalid_queue_name', status: 400 })
  await t.rejects(client.destroy('missing'), { code: 'queue_not_found', status: 404 })
  await t.rejects(client.subscribe('missing'), { code: 'queue_not_found', status: 404 })
  t.same((await client.session()).subscriptions, [], 'a failed subscription is not remembered')
  await t.rejects(client.send('q', 'x'.repeat(17)), { code: 'payload_too_large', status: 413 })
  await t.rejects(client.send('q', 'x', { replyTo: '/bad' }), { code: 'invalid_queue_name' })
  await t.rejects(client.transfer({ timeout: -1 }), { code: 'invalid_request', status: 400 })
})

t.test('an abort ends a waiting transfer, and the switch lets go of it', async (t) => {
  const { url } = await runSwitch(t)
  const client = clientOf(t, url)
  await client.createQueue('q')
  await client.subscribe('q')
  const controller = new AbortController()
  const poll = client.transfer({ after: 0, timeout: 60, signal: controller.signal })
  await waitingOn(client, 'q', 1)
  controller.abort()
  await t.rejects(poll, { name: 'AbortError', code: 'aborted' })
  await waitingOn(client, 'q', 0)
  await t.rejects(client.health({ signal: AbortSignal.abort() }), { code: 'aborted' }, 'an aborted signal fails at once')
})

t.test('an unreachable switch: retried for retryFor, then SwitchUnavailableError', async (t) => {
  const client = clientOf(t, 'http://switch', { socketPath: socketPath(t), retryFor: 300 })
  const error = await client.health().catch((error: unknown) => error)
  t.type(error, SwitchUnavailableError)
  t.match(error, { code: 'unavailable', message: /switch\.sock is unavailable \(kept trying for 300 ms\): connect ENOENT/ })
})

t.test('over a Unix socket, waiting for the socket to appear', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-lib-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'switch.sock')
  const client = clientOf(t, 'http://switch', { socketPath: path })
  const early = client.createQueue('over-socket')

  const running = await startSwitch({ listenTcp: false, socketPath: path })
  t.teardown(running.stop)

  t.match(await early, { name: 'over-socket', created: true }, 'ENOENT was retried until the switch listened')
  t.match(await client.send('over-socket', 'hi'), { id: 1 })
})

t.test('close() logs out, stops waiting work and rejects later calls', async (t) => {
  const { url } = await runSwitch(t)
  const observer = clientOf(t, url)
  const client = new SwitchClient({ url, client: 'closer' })
  await client.createQueue('idle')
  await client.subscribe('idle')
  const poll = t.rejects(client.transfer({ timeout: 60 }), ClientClosedError, 'a waiting transfer is cut off')
  const call = t.rejects(client.rpc('q', 'nobody answers'), ClientClosedError, 'a waiting rpc fails')
  await waitingOn(observer, 'idle', 1)
  await eventually('the rpc request', async () => (await observer.list({ prefix: 'q' }))[0]?.length === 1 ? true : undefined)

  await client.close()
  await client.close()
  t.pass('close is idempotent')
  await poll
  await call
  await t.rejects(client.health(), { name: 'ClientClosedError', code: 'closed' })
  t.throws(() => client.serve('q', () => ''), { code: 'closed' })
  const diagnostics = await observer.diagnostics()
  t.notOk(diagnostics.sessions.some((session) => session.client === 'closer'), 'the session is gone')
  t.notOk(diagnostics.queues.some((queue) => queue.waiting > 0), 'no long-poll left behind')
})

t.test('a process that used rpc and serve exits by itself after close()', async (t) => {
  const lib = fileURLToPath(new URL('../../lib/index.js', import.meta.url))
  const server = fileURLToPath(new URL('../../server/index.js', import.meta.url))
  const script = `
    import { SwitchClient } from ${JSON.stringify(lib)}
    import { startSwitch } from ${JSON.stringify(server)}
    const running = await startSwitch({ port: 0 })
    const client = new SwitchClient({ url: running.url })
    const service = client.serve('echo', (body) => body)
    const reply = await client.rpc('echo', 'ping')
    await client.trace({ after: 0 })
    await client.close()
    await service.done
    await running.stop()
    console.log(String(reply))
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const killer = setTimeout(() => { child.kill() }, 20_000)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(killer)
  t.equal(code, 0, 'exited on its own (nothing left open)')
  t.equal(output.trim(), 'ping')
})
