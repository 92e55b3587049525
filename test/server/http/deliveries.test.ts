// GET /v1/deliveries: messages pushed as NDJSON with credit, read raw over real sockets.
import { EventEmitter, once } from 'node:events'
import t, { type Test } from 'tap'
import { request } from 'undici'
import type { Message, SendResponse } from '../../../protocol/wire.js'
import type { ServerConfig } from '../../../server/index.js'
import { codeOf, startHttp, type Api, type Harness } from './fixtures.js'

/** One open delivery stream: its lines as they come, blank lines (heartbeats) included as ''. */
class Deliveries {
  readonly lines: string[] = []
  private taken = 0
  private ended = false
  private readonly changes = new EventEmitter()
  readonly done: Promise<void>

  constructor (readonly status: number, readonly contentType: unknown, body: AsyncIterable<Buffer>, private readonly controller: AbortController) {
    this.done = this.read(body)
  }

  static async open (api: Api, token: string, query: string): Promise<Deliveries> {
    const controller = new AbortController()
    const response = await request(`${api.url}/v1/deliveries${query}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
    return new Deliveries(response.statusCode, response.headers['content-type'], response.body, controller)
  }

  private async read (body: AsyncIterable<Buffer>): Promise<void> {
    const decoder = new TextDecoder()
    let text = ''
    try {
      for await (const chunk of body) {
        text += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = text.indexOf('\n')) !== -1) {
          this.lines.push(text.slice(0, end))
          text = text.slice(end + 1)
        }
        this.changes.emit('change')
      }
    } catch {
      // Cut by close().
    } finally {
      this.ended = true
      this.changes.emit('change')
    }
  }

  /** The next line (heartbeats included); rejects if the stream ends first. */
  async line (): Promise<string> {
    while (this.taken >= this.lines.length) {
      if (this.ended) throw new Error(`the stream ended; it sent: ${JSON.stringify(this.lines)}`)
      await once(this.changes, 'change')
    }
    return this.lines[this.taken++]
  }

  async messages (count: number): Promise<Message[]> {
    const out: Message[] = []
    while (out.length < count) {
      const line = await this.line()
      if (line !== '') out.push(JSON.parse(line) as Message)
    }
    return out
  }

  close (): void {
    this.controller.abort()
  }
}

async function send (api: Api, token: string, queue: string, body: string | Buffer): Promise<number> {
  const reply = await api.call('POST', `/v1/queues/${queue}/messages`, { token, body })
  if (reply.status !== 201) throw new Error(`send failed: ${reply.status} ${reply.text}`)
  return (reply.json as SendResponse).id
}

async function setUp (t: Test, config: ServerConfig = {}): Promise<Harness & { token: string, open: (query: string) => Promise<Deliveries> }> {
  const harness = await startHttp(t, config)
  const token = await harness.api.login('reader')
  await harness.api.call('PUT', '/v1/queues/jobs', { token })
  await harness.api.call('PUT', '/v1/session/subscriptions/jobs', { token })
  const open = async (query: string): Promise<Deliveries> => {
    const stream = await Deliveries.open(harness.api, token, query)
    t.teardown(() => { stream.close() })
    return stream
  }
  return { ...harness, token, open }
}

t.test('delivers in order, what is there and then what arrives, one JSON message per line', async (t) => {
  const { api, token, open } = await setUp(t)
  const first = await send(api, token, 'jobs', 'one')
  const stream = await open('?credit=10')
  t.equal(stream.status, 200)
  t.equal(stream.contentType, 'application/x-ndjson')
  const second = await send(api, token, 'jobs', 'two\nlines')
  const third = await send(api, token, 'jobs', Buffer.from([0xff, 0x00]))
  const got = await stream.messages(3)
  t.same(got.map((m) => [m.id, m.queue, m.payload, m.encoding]),
    [[first, 'jobs', 'one', undefined], [second, 'jobs', 'two\nlines', undefined], [third, 'jobs', '/wA=', 'base64']])
})

t.test('never more unacked than the credit: the third comes only after an ack', async (t) => {
  const { api, token, open } = await setUp(t, { streamHeartbeat: 50 })
  const ids = [await send(api, token, 'jobs', 'a'), await send(api, token, 'jobs', 'b'), await send(api, token, 'jobs', 'c')]
  const stream = await open('?credit=2')
  t.same((await stream.messages(2)).map((m) => m.id), ids.slice(0, 2))
  // Heartbeats prove the stream is alive and still holds the third back.
  // Every line until then must be one: a message beyond the credit would be read here, and fail.
  for (let heartbeat = 0; heartbeat < 3; heartbeat++) t.equal(await stream.line(), '', 'nothing beyond the credit, a heartbeat')
  t.equal((await api.call('DELETE', `/v1/messages/${ids[0]}`, { token })).status, 204)
  t.same((await stream.messages(1)).map((m) => m.id), [ids[2]], 'an ack gives one back')
  // A reply that acks gives credit back too.
  await api.call('PUT', '/v1/queues/replies', { token })
  const fourth = await send(api, token, 'jobs', 'd')
  t.equal((await api.call('POST', `/v1/queues/replies/messages?ack=${ids[1]}`, { token, body: 'reply' })).status, 201)
  t.same((await stream.messages(1)).map((m) => m.id), [fourth])
})

t.test('a resumed stream loses nothing, repeats nothing, and honours the credit its predecessor used', async (t) => {
  const { api, token, open } = await setUp(t, { streamHeartbeat: 50 })
  const ids: number[] = []
  for (const body of ['m1', 'm2', 'm3', 'm4']) ids.push(await send(api, token, 'jobs', body))
  const first = await open('?credit=2')
  const seen = await first.messages(2)
  first.close()
  await first.done
  const second = await open(`?credit=3&after=${seen[1].id}`)
  t.same((await second.messages(1)).map((m) => m.id), [ids[2]], 'the next after the cursor')
  // Two unacked below the cursor and one pushed: the credit of three is used, so only heartbeats come.
  for (let heartbeat = 0; heartbeat < 2; heartbeat++) t.equal(await second.line(), '', 'nothing beyond the credit, a heartbeat')
  const acked = await api.call('POST', '/v1/acks', { token, json: { ids: [ids[0], ids[1]] } })
  t.same(acked.json, { acked: [ids[0], ids[1]], missing: [] })
  t.same((await second.messages(1)).map((m) => m.id), [ids[3]], 'each once, in order')
})

t.test('large escaped payloads all arrive whole within the byte budget', async (t) => {
  const { api, token, open } = await setUp(t, { maxAnswerBytes: 4096 })
  // Each payload escapes six-fold: one message is over the budget, so each goes alone.
  const payload = '\u0001'.repeat(2000)
  const ids: number[] = []
  for (let i = 0; i < 3; i++) ids.push(await send(api, token, 'jobs', payload))
  const stream = await open('?credit=10')
  const got = await stream.messages(3)
  t.same(got.map((m) => [m.id, m.payload === payload]), ids.map((id) => [id, true]))
})

t.test('ends when the session ends and when the switch shuts down; refusals come before the stream', async (t) => {
  const { api, token, open, running } = await setUp(t)
  const stream = await open('?credit=1')
  t.equal(stream.status, 200)
  await api.call('DELETE', '/v1/session', { token })
  await stream.done
  t.pass('a logout ends the stream')

  const other = await api.login('other')
  await api.call('PUT', '/v1/session/subscriptions/jobs', { token: other })
  const refused = await api.call('GET', '/v1/deliveries?credit=0', { token: other })
  t.equal(codeOf(refused), 'invalid_request', 'a credit of 0 is refused')
  t.equal(codeOf(await api.call('GET', '/v1/deliveries', {})), 'session_required')
  t.equal(codeOf(await api.call('GET', '/v1/deliveries?queue=nowhere', { token: other })), 'queue_not_found', 'a queue that is not there')
  t.equal(codeOf(await api.call('GET', '/v1/deliveries?queue=bad%20name!', { token: other })), 'invalid_queue_name')
  await send(api, other, 'jobs', 'x')
  const second = await Deliveries.open(api, other, '?credit=1')
  t.teardown(() => { second.close() })
  await second.messages(1)
  await running.stop()
  await second.done
  t.pass('shutting down ends open streams, also one out of credit')
})
