// GET /v1/stream: the session's subscribed queues as Server-Sent Events, read raw over real sockets.
import t, { type Test } from 'tap'
import type { SendResponse, SessionInfo } from '../../../protocol/wire.js'
import type { ServerConfig } from '../../../server/index.js'
import { manualClock } from '../core/fixtures.js'
import { EventStream } from './event-stream.js'
import { codeOf, eventually, startHttp, type Api, type Harness } from './fixtures.js'

async function send (api: Api, token: string, queue: string, body: string): Promise<number> {
  const reply = await api.call('POST', `/v1/queues/${queue}/messages`, { token, body })
  if (reply.status !== 201) throw new Error(`send failed: ${reply.status} ${reply.text}`)
  return (reply.json as SendResponse).id
}

/** A switch, a session subscribed to queue "feed", and a way to open its stream (closed with the test). */
async function setUp (t: Test, config: ServerConfig = {}): Promise<Harness & { token: string, open: (options?: { lastEventId?: string, query?: string }) => Promise<EventStream> }> {
  const harness = await startHttp(t, config)
  const token = await harness.api.login('reader')
  await harness.api.call('PUT', '/v1/queues/feed', { token })
  await harness.api.call('PUT', '/v1/session/subscriptions/feed', { token })
  const open = async (options: { lastEventId?: string, query?: string } = {}): Promise<EventStream> => {
    const stream = await EventStream.open(harness.api.url, { token, ...options })
    t.teardown(() => { stream.close() })
    return stream
  }
  return { ...harness, token, open }
}

t.test('streams what is there, then what arrives, as text/event-stream with message ids as event ids', async (t) => {
  const { api, token, open } = await setUp(t)
  const first = await send(api, token, 'feed', 'one')
  const second = await send(api, token, 'feed', 'two')
  const stream = await open()
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  t.equal(stream.headers['cache-control'], 'no-cache')
  t.equal(await stream.next(), ': connected', 'a comment first, so that the headers go out at once')
  const backlog = await stream.messages(2)
  t.same(backlog.map((e) => [e.id, e.event, e.message.payload, e.message.queue, e.message.origin]),
    [[first, 'message', 'one', 'feed', 'reader'], [second, 'message', 'two', 'feed', 'reader']])

  const live = await send(api, token, 'feed', 'three')
  const [event] = await stream.messages(1)
  t.same([event.id, event.message.payload], [live, 'three'], 'a new message follows live')

  await api.call('PUT', '/v1/queues/feed/bindings/news%2F%23', { token })
  const published = (await api.call('POST', '/v1/topics/news%2Fweb/messages', { token, body: 'restarting' })).json as { ids: number[] }
  const [notice] = await stream.messages(1)
  t.same([notice.id, notice.message.topic, notice.message.payload], [published.ids[0], 'news/web', 'restarting'], 'and so do publishes, with their topic')
  await api.call('POST', '/v1/queues/feed/messages', { token, body: Buffer.from([0xff, 0x00]) })
  const [binary] = await stream.messages(1)
  t.same([binary.message.encoding, binary.message.payload], ['base64', '/wA='], 'a binary payload as in transfer')
})

t.test('a reconnect with Last-Event-ID resumes after that id: nothing lost, nothing twice', async (t) => {
  const { api, token, open } = await setUp(t)
  const sent = [await send(api, token, 'feed', 'm1'), await send(api, token, 'feed', 'm2')]
  const first = await open()
  const seen = await first.messages(2)
  first.close()
  await first.done
  // While nobody listens, more arrive.
  for (const body of ['m3', 'm4', 'm5']) sent.push(await send(api, token, 'feed', body))
  const last = seen[seen.length - 1].id
  const second = await open({ lastEventId: String(last) })
  const resumed = await second.messages(3)
  t.same(resumed.map((e) => e.id), sent.slice(2), 'exactly the ones after the last event seen')
  const live = await send(api, token, 'feed', 'm6')
  t.same((await second.messages(1)).map((e) => e.id), [live])
  t.same([...seen, ...resumed, ...second.received().slice(3)].map((e) => e.message.payload), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'],
    'over both connections, each message once, in order')

  const byQuery = await open({ query: `?after=${sent[3]}` })
  t.same((await byQuery.messages(2)).map((e) => e.id), [sent[4], live], '?after= works too')
  const both = await open({ query: '?after=0', lastEventId: String(sent[4]) })
  t.same((await both.messages(1)).map((e) => e.id), [live], 'Last-Event-ID wins over ?after= (a browser reconnecting keeps its URL)')

  await api.call('DELETE', `/v1/messages/${sent[0]}`, { token })
  const fromStart = await open()
  t.same((await fromStart.messages(5)).map((e) => e.id), sent.slice(1).concat(live).slice(0, 5),
    'from the start: every message not acked yet, the acked one not')
})

t.test('heartbeats keep an idle stream talking, and the stream holds the session\'s lease', async (t) => {
  // Sessions run on a clock the test moves; heartbeats on real time.
  const clock = manualClock()
  const { api, token, open } = await setUp(t, { streamHeartbeat: 30, sessionTtl: 1000, now: clock.now, timers: clock })
  const stream = await open()
  for (let i = 0; i < 3; i++) t.equal(await stream.next((block) => block !== ': connected'), ': ping')
  clock.advance(10_000) // ten TTLs: the session would have ended without the stream
  const info = await api.call('GET', '/v1/session', { token })
  t.equal(info.status, 200, 'the session lives')
  t.equal((info.json as SessionInfo).inFlight, 2, 'held by the stream (and this request)')
  t.equal((await api.diagnostics()).queues.find((q) => q.name === 'feed')?.waiting, 1, 'the stream waits on its queue')

  stream.close()
  await eventually('the hung-up stream to let go of its wait and its lease', async () => {
    const diagnostics = await api.diagnostics()
    const waiting = diagnostics.queues.find((q) => q.name === 'feed')?.waiting
    const inFlight = diagnostics.sessions.find((s) => s.client === 'reader')?.inFlight
    return waiting === 0 && inFlight === 0 ? true : undefined
  })
  t.pass('no waiter and no lease left behind')
})

t.test('the stream ends when the session ends elsewhere, and when the switch shuts down', async (t) => {
  const { api, token, open, running } = await setUp(t)
  const stream = await open()
  await stream.next()
  await api.call('DELETE', '/v1/session', { token })
  await stream.done
  t.equal(stream.blocks.at(-1), ': connected', 'the stream just ends, cleanly')

  const other = await api.login('other')
  await api.call('PUT', '/v1/queues/feed', { token: other })
  await api.call('PUT', '/v1/session/subscriptions/feed', { token: other })
  const second = await EventStream.open(api.url, { token: other })
  t.teardown(() => { second.close() })
  await second.next()
  await running.stop()
  await second.done
  t.pass('shutting down ends open streams, and the stop does not wait on them')
})

t.test('refusals come as JSON errors before any stream starts', async (t) => {
  const { api, token } = await setUp(t)
  const call = async (headers: Record<string, string>, query = ''): Promise<string | undefined> => codeOf(await api.call('GET', `/v1/stream${query}`, { headers }))
  t.equal(await call({}), 'session_required')
  t.equal(await call({ authorization: 'Bearer nope' }), 'session_not_found')
  t.equal(await call({ authorization: `Bearer ${token}`, 'last-event-id': 'yesterday' }), 'invalid_request')
  t.equal(await call({ authorization: `Bearer ${token}` }, '?after=-1'), 'invalid_request')
  t.equal(await call({ authorization: `Bearer ${token}` }, '?colour=blue'), 'invalid_request')
  const head = await api.call('HEAD', '/v1/stream', { token })
  t.same([head.status, head.headers.allow], [405, 'GET'], 'a HEAD gets no endless empty stream')
})
