// GET /v1/socket: sends, acks and deliveries as frames, read over real sockets by plain clients of each framing (a
// `ws` WebSocket, and lines on an upgraded connection): every test runs in both.
import { randomBytes } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { get, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import type { SocketAnswer, SocketDelivery } from '../../../protocol/socket.js'
import type { ErrorBody, Message, StreamTicketResponse } from '../../../protocol/wire.js'
import { codeOf, eventually, startHttp, type Api } from './fixtures.js'
import { FRAMINGS, openLines, openWire, type Framing, type Wire } from './socket-wires.js'

/** Every frame a socket got, in order, and how it closed. */
class Received {
  readonly answers: SocketAnswer[] = []
  closed: { code: number, reason: string } | undefined
  readonly changes = new EventEmitter()
  readonly events = {
    frame: (text: string) => {
      this.answers.push(JSON.parse(text) as SocketAnswer)
      this.changes.emit('change')
    },
    closed: (code: number, reason: string) => {
      this.closed = { code, reason }
      this.changes.emit('change')
    }
  }
}

/** One open socket, in either framing. */
class Frames {
  private nextId = 1

  constructor (readonly socket: Wire, private readonly received: Received) {}

  static async open (framing: Framing, api: Api, token: string | undefined, t: Test, query = ''): Promise<Frames> {
    const received = new Received()
    const socket = await openWire(framing, api.url, `/v1/socket${query}`, token === undefined ? {} : { authorization: `Bearer ${token}` }, received.events)
    t.teardown(() => { socket.terminate() })
    return new Frames(socket, received)
  }

  get answers (): SocketAnswer[] {
    return this.received.answers
  }

  get closed (): { code: number, reason: string } | undefined {
    return this.received.closed
  }

  /** Sends a request with a fresh id (unless it has one) and returns the id. */
  send (frame: Record<string, unknown>): number {
    const id = typeof frame.id === 'number' ? frame.id : this.nextId++
    this.socket.send(JSON.stringify({ ...frame, id }))
    return id
  }

  /** Resolves with the first frame (not yet taken) that matches; rejects if the socket closes first. */
  async next<A extends SocketAnswer> (match: (answer: SocketAnswer) => boolean): Promise<A> {
    for (;;) {
      const index = this.answers.findIndex(match)
      if (index >= 0) return this.answers.splice(index, 1)[0] as A
      if (this.closed !== undefined) throw new Error(`closed ${this.closed.code} ${this.closed.reason} before the frame came`)
      await once(this.received.changes, 'change')
    }
  }

  async answer<A extends SocketAnswer> (id: number): Promise<A> {
    return await this.next<A>((answer) => answer.id === id && !('messages' in answer))
  }

  async pushed (id: number): Promise<Message[]> {
    return (await this.next<SocketDelivery>((answer) => answer.id === id && 'messages' in answer)).messages
  }

  async close (): Promise<{ code: number, reason: string }> {
    while (this.closed === undefined) await once(this.received.changes, 'change')
    return this.closed
  }
}

/** Status and body of an upgrade the switch refused, asked as a browser or `ws` would, or as the library does. */
async function refusal (framing: Framing, url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: ErrorBody }> {
  const upgrade = framing === 'websocket'
    ? { upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') }
    : { upgrade: 'switch-lines' }
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = get(`${url}/v1/socket`, { headers: { connection: 'Upgrade', ...upgrade, ...headers } }, resolve)
    req.on('upgrade', () => { reject(new Error('the switch took the upgrade')) })
    req.on('error', reject)
  })
  let text = ''
  for await (const chunk of response) text += String(chunk)
  return { status: response.statusCode ?? 0, body: JSON.parse(text) as ErrorBody }
}

async function setup (t: Test, framing: Framing): Promise<{ api: Api, token: string, frames: Frames }> {
  const { api } = await startHttp(t, { host: '127.0.0.1' })
  const token = await api.login('socket-test')
  await api.call('PUT', '/v1/queues/jobs', { token })
  return { api, token, frames: await Frames.open(framing, api, token, t) }
}

for (const framing of FRAMINGS) {

  t.test(`the upgrade passes the session check; a plain GET is told to upgrade (${framing})`, async (t) => {
    const { api } = await startHttp(t, { host: '127.0.0.1' })
    const anonymous = await refusal(framing, api.url)
    t.equal(anonymous.status, 401)
    t.equal(anonymous.body.error.code, 'session_required')
    const unknown = await refusal(framing, api.url, { authorization: 'Bearer nope' })
    t.equal(unknown.status, 401)
    const token = await api.login('plain')
    const plain = await api.call('GET', '/v1/socket', { token })
    t.equal(plain.status, 400)
    t.equal(codeOf(plain), 'invalid_request')
    t.match(plain.json, { error: { field: 'upgrade' } })
    const other = await refusal(framing, api.url, { authorization: `Bearer ${token}`, upgrade: 'h2c' })
    t.match(other, { status: 400, body: { error: { code: 'invalid_request', field: 'upgrade' } } }, 'another protocol is refused')
    // A browser, which cannot set the header, opens it with a stream ticket.
    const { ticket } = (await api.call('POST', '/v1/stream/tickets', { token })).json as StreamTicketResponse
    const frames = await Frames.open(framing, api, undefined, t, `?ticket=${ticket}`)
    const ack = frames.send({ op: 'ack', ids: [1] })
    t.same(await frames.answer(ack), { id: ack, acked: [], missing: [1] }, 'a ticket opens it')
  })

  t.test(`send, deliver with credit, ack: as the HTTP requests they stand for (${framing})`, async (t) => {
    const { api, token, frames } = await setup(t, framing)
    const deliver = frames.send({ op: 'deliver', queue: 'jobs', credit: 2 })
    const sent = frames.send({ op: 'send', messages: [{ queue: 'jobs', payload: 'one' }, { queue: 'jobs', payload: 'two' }, { queue: 'jobs', payload: 'three', correlationId: 'c3' }, { queue: 'gone', payload: 'x' }] })
    const { results } = await frames.answer<SocketAnswer & { results: unknown[] }>(sent)
    t.match(results, [{ id: 1, duplicate: false }, { id: 2 }, { id: 3 }, { error: { code: 'queue_not_found' } }])
    const pushed: Message[] = []
    while (pushed.length < 2) pushed.push(...await frames.pushed(deliver))
    t.same(pushed.map((m) => m.payload), ['one', 'two'], 'the credit: two pushed, no more')
    // The same message as transfer shows it.
    const transfer = await api.call('GET', '/v1/transfer?timeout=0', { token })
    t.equal(transfer.status, 200)
    const ack = frames.send({ op: 'ack', ids: [1, 99] })
    t.same(await frames.answer(ack), { id: ack, acked: [1], missing: [99] })
    const [third] = await frames.pushed(deliver)
    t.match(third, { id: 3, queue: 'jobs', payload: 'three', correlationId: 'c3', origin: 'socket-test' })
    // Cancelled: ended, and nothing more is pushed for it.
    frames.send({ op: 'cancel', id: deliver })
    t.same(await frames.answer(deliver), { id: deliver, ended: true })
  })

  t.test(`quiet sends: failures answered, successes confirmed by a done on the next push or alone (${framing})`, async (t) => {
    const { frames } = await setup(t, framing)
    const deliver = frames.send({ op: 'deliver', queue: 'jobs', credit: 10 })
    const first = frames.send({ op: 'send', quiet: true, messages: [{ queue: 'jobs', payload: 'a' }] })
    t.match(await frames.pushed(deliver), [{ payload: 'a' }])
    // The push of the next message carries the done (the first's own push went out before its send finished),
    // unless the done went alone in between.
    frames.send({ op: 'send', messages: [{ queue: 'jobs', payload: 'z' }] })
    const push = await frames.next<SocketDelivery>((frame) => frame.id === deliver && 'messages' in frame)
    t.match(push, { messages: [{ payload: 'z' }] })
    const told = frames.answers.some((frame) => !('id' in frame) && (frame as { done: number }).done >= first)
    t.ok(push.done === first || told, 'the push carries the done (or it went alone just before)')
    const failing = frames.send({ op: 'send', quiet: true, messages: [{ queue: 'jobs', payload: 'b' }, { queue: 'gone', payload: 'c' }] })
    t.match(await frames.answer(failing), { id: failing, results: [{ id: Number }, { error: { code: 'queue_not_found' } }] }, 'a failure is answered, whole')
    // No push to carry it (the delivery is cancelled first): the done comes alone.
    frames.send({ op: 'cancel', id: deliver })
    await frames.answer(deliver)
    const alone = frames.send({ op: 'send', quiet: true, messages: [{ queue: 'jobs', payload: 'd' }] })
    const done = await frames.next<SocketAnswer>((frame) => 'done' in frame && !('id' in frame) && (frame as { done: number }).done >= alone)
    t.same(done, { done: alone })
    t.equal(frames.answers.filter((frame) => 'id' in frame && frame.id === alone).length, 0, 'a quiet success gets no answer of its own')
  })

  t.test(`a resumed delivery honours the credit its predecessor used (${framing})`, async (t) => {
    const { frames } = await setup(t, framing)
    const sent = frames.send({ op: 'send', messages: [{ queue: 'jobs', payload: 'a' }, { queue: 'jobs', payload: 'b' }] })
    await frames.answer(sent)
    const first = frames.send({ op: 'deliver', queue: 'jobs', credit: 1 })
    t.match(await frames.pushed(first), [{ id: 1 }])
    frames.send({ op: 'cancel', id: first })
    await frames.answer(first)
    const resumed = frames.send({ op: 'deliver', queue: 'jobs', credit: 1, after: 1 })
    const ack = frames.send({ op: 'ack', ids: [1] })
    await frames.answer(ack)
    t.match(await frames.pushed(resumed), [{ id: 2 }], 'message 2 only once message 1 was acked')
  })

  t.test(`requests refused as a whole get the error their HTTP twin would (${framing})`, async (t) => {
    const { api, frames } = await setup(t, framing)
    const empty = frames.send({ op: 'send', messages: [] })
    t.match(await frames.answer(empty), { id: empty, error: { code: 'invalid_request', field: 'messages' } })
    const unknownOp = frames.send({ op: 'teleport' })
    t.match(await frames.answer(unknownOp), { error: { code: 'invalid_request' } })
    const extra = frames.send({ op: 'ack', ids: [1], colour: 'red' })
    t.match(await frames.answer(extra), { error: { code: 'invalid_request', field: 'colour' } })
    const missing = frames.send({ op: 'deliver', queue: 'nowhere' })
    t.match(await frames.answer(missing), { id: missing, error: { code: 'queue_not_found' } })
    const running = frames.send({ op: 'deliver', queue: 'jobs' })
    frames.send({ op: 'deliver', queue: 'jobs', id: running })
    t.match(await frames.answer(running), { error: { code: 'invalid_request', field: 'id' } }, 'one delivery per id')
    // At most 64 deliveries at once on one socket.
    for (let i = 1; i < 64; i++) frames.send({ op: 'deliver', queue: 'jobs', id: 1000 + i })
    const beyond = frames.send({ op: 'deliver', queue: 'jobs', id: 2000 })
    t.match(await frames.answer(beyond), { id: beyond, error: { code: 'limit_exceeded' } }, 'the 65th delivery is refused')
    for (let i = 1; i < 64; i++) frames.send({ op: 'cancel', id: 1000 + i })
    // Another session's temporary queue is its own: refused before anything is pushed, as GET /v1/deliveries is.
    const other = await api.login('other')
    const temporary = ((await api.call('POST', '/v1/queues', { token: other })).json as { name: string }).name
    await api.call('POST', `/v1/queues/${temporary}/messages`, { token: other, body: 'private' })
    const foreign = frames.send({ op: 'deliver', queue: temporary })
    t.match(await frames.answer(foreign), { id: foreign, error: { code: 'forbidden' } })
    t.equal(frames.answers.filter((a) => a.id === foreign).length, 0, 'nothing pushed')
    t.equal(frames.closed, undefined, 'the socket stays open')
  })

  t.test(`a frame may hold an array of requests: each is taken and answered as if it had come alone (${framing})`, async (t) => {
    const { frames } = await setup(t, framing)
    const deliver = 50
    const sent = 51
    const refused = 52
    const quiet = 53
    frames.socket.send(JSON.stringify([
      { op: 'deliver', id: deliver, queue: 'jobs', credit: 10 },
      { op: 'send', id: sent, messages: [{ queue: 'jobs', payload: 'one' }] },
      { op: 'ack', id: refused, ids: 'not a list' },
      { op: 'send', id: quiet, quiet: true, messages: [{ queue: 'jobs', payload: 'two' }] }
    ]))
    t.match(await frames.answer(sent), { id: sent, results: [{ id: 1 }] })
    t.match(await frames.answer(refused), { id: refused, error: { code: 'invalid_request' } }, 'a bad request in the array is refused alone')
    const pushed: Message[] = []
    while (pushed.length < 2) pushed.push(...await frames.pushed(deliver))
    t.same(pushed.map((m) => m.payload), ['one', 'two'], 'in the order they came')
    await frames.next((frame) => 'done' in frame && (frame as { done?: number }).done === quiet)
    t.equal(frames.closed, undefined)

    for (const [what, data] of [['empty', '[]'], ['too long', JSON.stringify(Array.from({ length: 257 }, (_, i) => ({ op: 'ack', id: i, ids: [] })))]] as const) {
      const { frames } = await setup(t, framing)
      frames.socket.send(data)
      t.equal((await frames.close()).code, 4002, `an array ${what} closes the socket`)
    }
  })

  t.test(`a frame that is no request and has no id closes the socket (4002) (${framing})`, async (t) => {
    for (const [what, data] of [['not JSON', '{nope'], ['no id', '{"op":"ack","ids":[1]}'], ['binary', Buffer.from([1, 2, 3])]] as const) {
      const { frames } = await setup(t, framing)
      frames.socket.send(data)
      t.equal((await frames.close()).code, 4002, what)
    }
  })

  t.test(`a frame over 4 MiB closes the socket (1009); the switch carries on (${framing})`, async (t) => {
    const { api, token, frames } = await setup(t, framing)
    frames.socket.send(JSON.stringify({ op: 'send', id: 1, messages: [{ queue: 'jobs', payload: 'x'.repeat(4 * 1024 * 1024) }] }))
    t.equal((await frames.close()).code, 1009)
    t.equal((await api.call('GET', '/v1/queues/jobs', { token })).status, 200)
  })

  if (framing === 'lines') {
    t.test('lines: a frame cut anywhere by the connection, several in one write; text not UTF-8 closes (1007)', async (t) => {
      const { api, token } = await setup(t, framing)
      const received = new Received()
      const wire = await openLines(`${api.url}/v1/socket`, { authorization: `Bearer ${token}` }, received.events)
      t.teardown(() => { wire.terminate() })
      const frames = new Frames(wire, received)
      const deliver = JSON.stringify({ op: 'deliver', id: 1, queue: 'jobs', credit: 10 })
      const send = JSON.stringify({ op: 'send', id: 2, messages: [{ queue: 'jobs', payload: 'déjà vu ✓' }] })
      // A byte per write, each in a turn of its own: characters split between writes.
      for (const byte of Buffer.from(`${deliver}\n${send.slice(0, 60)}`)) {
        wire.write(Uint8Array.of(byte))
        await new Promise((resolve) => setImmediate(resolve))
      }
      const ack = JSON.stringify({ op: 'ack', id: 3, ids: [99] })
      wire.write(Buffer.from(`${send.slice(60)}\n${ack}\n\n`))
      t.match(await frames.answer(2), { id: 2, results: [{ id: 1 }] })
      t.match(await frames.pushed(1), [{ payload: 'déjà vu ✓' }])
      t.same(await frames.answer(3), { id: 3, acked: [], missing: [99] }, 'an empty line between frames is a pong, not a frame')
      wire.write(Buffer.from('\xff\xfe\n', 'latin1'))
      t.equal((await frames.close()).code, 1007)
    })

    t.test('lines: frames written with the upgrade request, before the 101 came, are read after it', async (t) => {
      const { api, token } = await setup(t, framing)
      const { hostname, port } = new URL(api.url)
      /** What the switch writes on a connection that sends the request and `frames` at once: until `enough`, or its end. */
      const exchange = async (frames: string, enough: (text: string) => boolean = () => false): Promise<string> => {
        const socket = connect(Number(port), hostname)
        t.teardown(() => { socket.destroy() })
        await once(socket, 'connect')
        socket.write(`GET /v1/socket HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: switch-lines\r\nAuthorization: Bearer ${token}\r\n\r\n${frames}`)
        let text = ''
        socket.on('end', () => { socket.end() })
        for await (const chunk of socket) {
          text += String(chunk)
          if (enough(text)) break
        }
        return text
      }
      const answered = await exchange('{"op":"send","id":1,"messages":[{"queue":"jobs","payload":"early"}]}\n{"op":"ack","id":2,"ids":[7]}\n', (text) => text.includes('"missing"'))
      t.match(answered, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\n\{"id":1,"results":\[\{"id":1,"duplicate":false\}\]\}\n\{"id":2,"acked":\[\],"missing":\[7\]\}\n$/)
      const refused = await exchange('{nope\n')
      t.match(refused, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\n\{"close":4002,"reason":"a frame is not valid JSON"\}\n$/, 'a bad first frame closes, the switch carries on')
      t.equal((await api.call('GET', '/v1/health')).status, 200)
    })

    t.test('lines: an empty line is a ping; a client that answers stays, one that does not is cut at the next', async (t) => {
      const { api } = await startHttp(t, { host: '127.0.0.1', streamHeartbeat: 20 })
      const opened = async (client: string, silent: boolean): Promise<{ pings: () => number, received: Received }> => {
        const token = await api.login(client)
        const received = new Received()
        let pings = 0
        const wire = await openLines(`${api.url}/v1/socket`, { authorization: `Bearer ${token}` }, { ...received.events, ping: () => { pings++ } }, silent)
        t.teardown(() => { wire.terminate() })
        return { pings: () => pings, received }
      }
      const answering = await opened('answering', false)
      const silent = await opened('silent', true)
      await eventually('the silent client cut off', async () => silent.received.closed)
      t.same(silent.received.closed, { code: 1006, reason: '' }, 'cut, not closed with a reason')
      t.ok(silent.pings() >= 1)
      const seen = answering.pings()
      await eventually('three more pings answered', async () => answering.pings() >= seen + 3 ? true : undefined)
      t.equal(answering.received.closed, undefined, 'the answering client stays')
    })
  }

  t.test(`the session ending closes the socket (4001); an idle socket does not keep the session alive (${framing})`, async (t) => {
    const { api, token, frames } = await setup(t, framing)
    const deliver = frames.send({ op: 'deliver', queue: 'jobs' })
    await eventually('the delivery waits', async () => (await api.diagnostics()).queues.find((q) => q.name === 'jobs')?.waiting === 1 ? true : undefined)
    t.equal((await api.call('DELETE', '/v1/session', { token })).status, 204)
    t.equal((await frames.close()).code, 4001, 'the running delivery ends the socket')
    t.equal(frames.answers.filter((a) => a.id === deliver && 'messages' in a).length, 0)

    const other = await api.login('second')
    const idle = await Frames.open(framing, api, other, t)
    t.equal((await api.call('DELETE', '/v1/session', { token: other })).status, 204)
    idle.send({ op: 'ack', ids: [1] })
    t.equal((await idle.close()).code, 4001, 'the next request finds the session gone')
  })

  t.test(`a flood of requests is answered in full, read as fast as it is answered (${framing})`, async (t) => {
    const { api, token, frames } = await setup(t, framing)
    const ids: number[] = []
    for (let i = 0; i < 1000; i++) ids.push(frames.send({ op: 'send', messages: [{ queue: 'jobs', payload: String(i), idempotencyKey: `k${i % 500}` }] }))
    let duplicates = 0
    for (const id of ids) {
      const { results } = await frames.answer<SocketAnswer & { results: Array<{ duplicate?: boolean }> }>(id)
      if (results[0].duplicate === true) duplicates++
    }
    t.equal(duplicates, 500, 'idempotency keys hold across frames')
    const info = await api.call('GET', '/v1/queues/jobs', { token })
    t.match(info.json, { length: 500 })
  })

  t.test(`shutdown: deliveries end, the socket closes with 1001; metrics count open sockets (${framing})`, async (t) => {
    const { api, running } = await startHttp(t, { host: '127.0.0.1' })
    const token = await api.login('stopping')
    await api.call('PUT', '/v1/queues/jobs', { token })
    const frames = await Frames.open(framing, api, token, t)
    const metrics = await api.call('GET', '/metrics')
    t.match(metrics.text, /switch_streams_open\{kind="socket"\} 1/)
    const deliver = frames.send({ op: 'deliver', queue: 'jobs' })
    await eventually('the delivery waits', async () => (await api.diagnostics()).queues.find((q) => q.name === 'jobs')?.waiting === 1 ? true : undefined)
    await running.stop()
    t.same(await frames.answer(deliver), { id: deliver, ended: true })
    t.same(await frames.close(), { code: 1001, reason: 'the switch is shutting down' })
  })
}
