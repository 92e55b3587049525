// A client given several switches: it uses one at a time and moves to the next when the one in use fails
// (cannot be reached, answers 503), keeping its session and its sends' idempotency keys.
import { once } from 'node:events'
import { createServer } from 'node:http'
import t, { type Test } from 'tap'
import type { Reachability } from '../../lib/index.js'
import { startSwitch as serve } from '../cli/spawn.js'
import { startRedis } from '../server/store/redis-server.js'
import { clientOf, runSwitch } from './fixtures.js'
import { startProxy } from './proxy.js'

/** A switch whose store has failed: every request is answered 503 storage_failed. Counts the requests. */
async function failingSwitch (t: Test): Promise<{ url: string, requests: () => number }> {
  let requests = 0
  const server = createServer((request, response) => {
    requests++
    request.resume()
    response.writeHead(503, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: { code: 'storage_failed', message: 'the change could not be stored, so it was not made (test); try again' } }))
  }).listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return { url: `http://127.0.0.1:${address.port}`, requests: () => requests }
}

t.test('the switch in use stops: the next one is used, and the client logs in there', async (t) => {
  const [a, b] = [await runSwitch(t), await runSwitch(t)]
  await clientOf(t, b.url).createQueue('q')
  const changes: Reachability[] = []
  const client = clientOf(t, [a.url, b.url], { client: 'roaming', onReachability: (change) => { changes.push(change) } })
  await client.createQueue('q')
  await client.send('q', 'to A')
  t.equal(client.url, a.url)
  await a.stop()
  // Two switches each in memory share nothing: B does not know the session, so the client logs in again.
  await client.send('q', 'to B')
  t.equal(client.url, b.url)
  t.equal(client.sessionEpoch, 2)
  t.match(changes, [
    { reachable: true, target: a.url },
    { reachable: false, target: a.url, reason: String },
    { reachable: true, target: b.url }
  ])
  t.equal(changes.length, 3, 'told once each')
  t.match(await clientOf(t, b.url).queue('q'), { length: 1 })
})

t.test('a send whose answer was lost goes to the next switch with its idempotency key: enqueued once', async (t) => {
  const redis = await startRedis(t)
  const a = await serve(t, ['--redis', redis.url])
  const b = await serve(t, ['--redis', redis.url])
  // Between the client and A: passes everything, until it loses A's answers (A did what it was asked, then died).
  const proxy = await startProxy(t, a.url)
  const client = clientOf(t, [proxy.url, b.url], { client: 'sender' })
  await client.createQueue('q')
  proxy.loseAnswers = true
  const sent = await client.send('q', 'once')
  t.equal(client.url, b.url, 'moved on to B')
  t.equal(sent.duplicate, true, 'B found the send A had made, by its key')
  t.equal(client.sessionEpoch, 1, 'the session (shared in Redis) went on at B: no new login')
  t.match(await clientOf(t, b.url).queue('q'), { length: 1 })
})

t.test('a switch answering 503 storage_failed: the next one is asked; alone, or all failing, the error is the caller\'s', async (t) => {
  const [failing, alsoFailing] = [await failingSwitch(t), await failingSwitch(t)]
  const b = await runSwitch(t)
  const client = clientOf(t, [failing.url, b.url])
  t.match(await client.createQueue('q'), { created: true })
  t.equal(client.url, b.url)
  t.equal(failing.requests(), 1)

  const stored = /storage_failed|could not be stored/
  await t.rejects(clientOf(t, failing.url).createQueue('q'), { code: 'storage_failed', status: 503, message: stored })
  t.equal(failing.requests(), 2, 'a single switch: passed on at once, as before')
  await t.rejects(clientOf(t, [failing.url, alsoFailing.url]).createQueue('q'), { code: 'storage_failed', message: stored })
  t.same([failing.requests(), alsoFailing.requests()], [3, 1], 'each switch asked once')
})

t.test('no switch reachable: each told once, and the error names them all', async (t) => {
  // Port 1 (tcpmux) is reserved and nothing serves it here: refused, with no port to race for.
  const urls = ['http://127.0.0.1:1', 'http://127.0.0.2:1']
  const changes: Reachability[] = []
  const client = clientOf(t, urls, { retryFor: 300, onReachability: (change) => { changes.push(change) } })
  await t.rejects(client.list(), {
    code: 'unavailable',
    message: 'the switches at http://127.0.0.1:1, http://127.0.0.2:1 are unavailable (kept trying for 300 ms): connect ECONNREFUSED 127.0.0.2:1'
  })
  t.match(changes, urls.map((target) => ({ reachable: false, target, reason: 'connection refused' })))
  t.equal(changes.length, 2, 'however many rounds it took')
})
