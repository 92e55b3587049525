// Two `switch serve --redis` processes on one redis-server, and clients given both: node A dies (kill -9) in
// the middle of an RPC, and the clients carry on at B, in the same sessions, with nothing done twice; an event
// stream resumes there after the last message it saw.
import t from 'tap'
import { SwitchClient, type Reachability } from '../../../lib/index.js'
import { startSwitch } from '../../cli/spawn.js'
import { eventually } from '../../eventually.js'
import { deferred, openSockets } from '../../lib/fixtures.js'
import { startRedis } from './redis-server.js'

t.test('Node A is killed -9 mid-RPC; the client fails over to B and the RPC completes', async (t) => {
  const redis = await startRedis(t)
  const a = await startSwitch(t, ['--redis', redis.url])
  const b = await startSwitch(t, ['--redis', redis.url])
  const urls = [a.url, b.url]
  const clientOf = (name: string, onReachability?: (change: Reachability) => void): SwitchClient => {
    const client = new SwitchClient({ url: urls, client: name, retryFor: 20_000, onReachability })
    t.teardown(async () => { await client.close() })
    return client
  }

  // The service holds its answer until A is gone: the request was taken at A, the reply goes out at B.
  const taken = deferred()
  const aGone = deferred()
  let handled = 0
  const service = clientOf('service')
  await service.createQueue('upper')
  const served = service.serve('upper', async (request) => {
    handled++
    taken.resolve()
    await aGone.promise
    return request.toString().toUpperCase()
  })
  t.teardown(async () => { await served.stop() })

  // Beside it, an event stream that is to resume at B after the last message it saw.
  const observer = new SwitchClient({ url: b.url, client: 'observer' })
  t.teardown(async () => { await observer.close() })
  const watcher = clientOf('watcher')
  await watcher.createQueue('events')
  await watcher.subscribe('events')
  const seen: string[] = []
  const saw = { before: deferred(), after: deferred() }
  const stopWatching = new AbortController()
  const watching = (async () => {
    for await (const message of watcher.stream({ signal: stopWatching.signal })) {
      seen.push(message.payload)
      if (message.payload === 'before' || message.payload === 'after') saw[message.payload].resolve()
    }
  })()
  await observer.send('events', 'before')
  await saw.before.promise

  const changes: Reachability[] = []
  const caller = clientOf('caller', (change) => { changes.push(change) })
  const call = caller.rpc('upper', 'hello', { timeout: 60 })
  await taken.promise
  t.same([caller.url, service.url, watcher.url], [a.url, a.url, a.url], 'all on A until it dies')
  await a.server.kill()
  aGone.resolve()

  t.equal((await call).toString(), 'HELLO', 'the call completes, answered through B')
  t.same([caller.url, service.url], [b.url, b.url])
  t.equal(handled, 1, 'the request was handled once')
  // Their sockets follow them to B at once (not after the minute a socket that cannot be had waits).
  await caller.rpc('upper', 'again', { timeout: 60 })
  t.ok(await eventually('the caller and the service on sockets at B', async () => await openSockets(b.url) >= 2 ? true : undefined), 'sockets at B')
  t.same([caller.sessionEpoch, service.sessionEpoch], [1, 1], 'the sessions (shared in Redis) went on at B')
  t.match(changes, [{ reachable: true, target: a.url }, { reachable: false, target: a.url }, { reachable: true, target: b.url }])
  t.equal(changes.length, 3)

  await observer.send('events', 'after')
  await saw.after.promise
  stopWatching.abort()
  await watching
  t.same(seen, ['before', 'after'], 'the stream went on at B after the last message it saw')
  t.equal(watcher.url, b.url)
  await watcher.unsubscribe('events')
  await observer.destroy('events')

  // Exactly once: the request acked with its reply, the reply acked by the caller, no copy of either left over.
  t.ok(await eventually('every message acked', async () =>
    (await observer.diagnostics()).queues.every((queue) => queue.messages.length === 0) ? true : undefined), 'no message left over')
})
