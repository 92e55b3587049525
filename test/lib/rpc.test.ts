import t from 'tap'
import { RemoteError, RpcTimeoutError } from '../../lib/index.js'
import { clientOf, deferred, eventually, queueLength, runSwitch, traced, waitingOn } from './fixtures.js'

t.test('rpc and serve: 50 concurrent calls each get their own reply over one reply queue', async (t) => {
  const { url } = await runSwitch(t)
  const server = clientOf(t, url, { client: 'server' })
  const caller = clientOf(t, url, { client: 'caller' })
  let running = 0
  let mostRunning = 0
  const service = server.serve('echo', async (request, message) => {
    running++
    mostRunning = Math.max(mostRunning, running)
    await new Promise((resolve) => setImmediate(resolve))
    running--
    return `${message.origin} said ${request.toString()}`
  }, { concurrency: 8 })

  const replies = await Promise.all(Array.from({ length: 50 }, async (_, i) => (await caller.rpc('echo', `hello ${i}`)).toString()))
  t.same(replies, Array.from({ length: 50 }, (_, i) => `caller said hello ${i}`))
  t.ok(mostRunning <= 8, `at most 8 handlers at once (saw ${mostRunning})`)

  const session = await caller.session()
  t.equal(session.queues.length, 1, 'one temporary reply queue for all calls')
  const diagnostics = await caller.diagnostics()
  t.same(diagnostics.queues.filter((queue) => queue.kind === 'temporary').map((queue) => queue.name), session.queues)
  await queueLength(caller, 'echo', 0)
  await queueLength(caller, session.queues[0], 0)
  t.pass('every request and every reply was acked')

  // The same client can serve and call.
  t.equal((await server.rpc('echo', 'to myself')).toString(), 'server said to myself')
  await service.stop()
  await service.done
  t.notOk((await server.session()).subscriptions.includes('echo'), 'stop() unsubscribed')
})

t.test('handlers: errors become RemoteError, binary replies, requests without replyTo are just acked', async (t) => {
  const { url } = await runSwitch(t)
  const server = clientOf(t, url)
  const caller = clientOf(t, url)
  const seen: string[] = []
  server.serve('svc', (request) => {
    const text = request.toString()
    seen.push(text)
    if (text === 'boom') throw new Error('boom failed')
    if (text === 'bytes') return Uint8Array.from([0, 255])
    return `ok ${text}`
  })

  const failure = await caller.rpc('svc', 'boom').catch((error: unknown) => error)
  t.type(failure, RemoteError)
  t.match(failure, { code: 'remote_error', queue: 'svc', payload: 'boom failed', message: /boom failed/ })
  t.same(await caller.rpc('svc', 'bytes'), Buffer.from([0, 255]))
  t.equal((await caller.rpc('svc', Buffer.from('buffer body'))).toString(), 'ok buffer body')

  await caller.send('svc', 'one way')
  await queueLength(caller, 'svc', 0)
  t.ok(seen.includes('one way'), 'handled and acked without a reply')
})

t.test('serve runs at most `concurrency` handlers and takes no more while full', async (t) => {
  const { url } = await runSwitch(t)
  const server = clientOf(t, url)
  const caller = clientOf(t, url)
  const calls = Array.from({ length: 5 }, async (_, i) => (await caller.rpc('slow', `${i}`)).toString())
  await queueLength(caller, 'slow', 5)

  const gate = deferred()
  const threeStarted = deferred()
  let started = 0
  const service = server.serve('slow', async (request) => {
    if (++started === 3) threeStarted.resolve()
    await gate.promise
    return `done ${request.toString()}`
  }, { concurrency: 3 })
  await threeStarted.promise
  await waitingOn(caller, 'slow', 0)
  t.equal(started, 3, 'three handlers running, nobody polling for more')
  gate.resolve()
  t.same(await Promise.all(calls), ['done 0', 'done 1', 'done 2', 'done 3', 'done 4'])
  await service.stop()
})

t.test('rpc timeout, late replies, and abort', async (t) => {
  const { url } = await runSwitch(t)
  const caller = clientOf(t, url)

  const timedOut = await caller.rpc('later', 'first', { timeout: 0.2 }).catch((error: unknown) => error)
  t.type(timedOut, RpcTimeoutError)
  t.match(timedOut, { code: 'timeout', queue: 'later', timeout: 0.2, message: 'no reply from queue "later" within 0.2 s' })

  // The request waits on the queue; once served, its reply arrives late and is acked and dropped.
  const server = clientOf(t, url)
  server.serve('later', (request) => `re ${request.toString()}`)
  t.equal((await caller.rpc('later', 'second')).toString(), 're second')
  const [replyQueue] = (await caller.session()).queues
  await queueLength(caller, replyQueue, 0)
  t.pass('the late reply was acked')

  const controller = new AbortController()
  const aborted = caller.rpc('nobody', 'hello?', { signal: controller.signal })
  await eventually('the request on its queue', async () => (await caller.list({ prefix: 'nobody' }))[0]?.length === 1 ? true : undefined)
  controller.abort()
  await t.rejects(aborted, { name: 'AbortError', code: 'aborted' })
  await t.rejects(caller.rpc('nobody', 'x', { signal: AbortSignal.abort() }), { code: 'aborted' })
})

t.test('a serve signal stops it; an invalid queue name fails done', async (t) => {
  const { url } = await runSwitch(t)
  const server = clientOf(t, url)
  const controller = new AbortController()
  const service = server.serve('svc', () => 'x', { signal: controller.signal })
  await waitingOn(server, 'svc', 1)
  controller.abort()
  await service.done
  await waitingOn(server, 'svc', 0)
  await t.rejects(server.serve('.bad', () => 'x').done, { code: 'invalid_queue_name' })
  t.throws(() => server.serve('svc', () => 'x', { concurrency: 0 }), RangeError)
})

t.test('serve: a reply to a caller whose session expired is dropped by the switch, and the request is done', async (t) => {
  // Sessions end 1 to 1.25 s after their last request; the service's long-poll keeps its own alive.
  const { url } = await runSwitch(t, { sessionTtl: 1000 })
  const server = clientOf(t, url, { client: 'server' })
  const caller = clientOf(t, url, { client: 'caller' })
  const observer = clientOf(t, url, { client: 'observer' })
  const release = deferred()
  let handled = 0
  // Two at once, so that the service goes on polling (and its session stays) while the handler waits.
  const service = server.serve('slow', async () => {
    handled++
    await release.promise
    return 'too late'
  }, { concurrency: 2 })
  let failed: unknown
  service.done.catch((error: unknown) => { failed = error })
  await waitingOn(observer, 'slow', 1)
  const { name: replies } = await caller.createTemporaryQueue()
  const request = await caller.send('slow', 'hello', { replyTo: replies })
  await eventually('the handler to take the request', async () => handled === 1 ? true : undefined)
  // The caller makes no request any more: its session expires, and its reply queue goes with it.
  await eventually('the caller\'s queue to go', async () => (await observer.list()).some((queue) => queue.name === replies) ? undefined : true, 10_000)
  release.resolve()
  const drop = await traced(observer, (event) => event.type === 'drop' && event.queue === replies)
  t.match(drop, { client: 'server' }, 'the switch dropped the reply')
  await queueLength(observer, 'slow', 0)
  const { events } = await observer.trace({ after: 0, max: 1000 })
  t.same(events.filter((event) => event.type === 'ack' && event.messageId === request.id).length, 1, 'the request was acked once, with the reply')
  t.same(events.filter((event) => event.type === 'send' && event.queue === replies), [], 'no reply was made')
  t.equal((await observer.diagnostics()).dropped, 1)
  t.equal(handled, 1, 'the request was not delivered again')
  t.equal(failed, undefined, 'serving goes on')
  await service.stop()
  await service.done
})
