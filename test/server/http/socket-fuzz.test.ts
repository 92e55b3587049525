// Socket fuzzing of a live switch, in both framings: thousands of random frames, shaped like the socket's requests
// (real ops, ids, queues and items, with wrong, missing and extra members) or arbitrary JSON and bytes, on sockets
// of one session. The switch must answer every request that has an id with a result or an error in the documented
// shape, close a socket only with its own codes, never crash, and afterwards still send, deliver and ack.
import { EventEmitter, once } from 'node:events'
import t from 'tap'
import fc from 'fast-check'
import { ERROR_CODES } from '../../../protocol/wire.js'
import { SOCKET_CLOSE_PROTOCOL } from '../../../protocol/socket.js'
import { seedFor } from '../../seed.js'
import { startHttp, type Api } from './fixtures.js'
import { FRAMINGS, openWire, type Framing, type Wire } from './socket-wires.js'

const RUNS = 1000
const FRAMES_PER_RUN = 12

async function open (framing: Framing, api: Api, token: string): Promise<{ socket: Wire, frames: unknown[], came: EventEmitter, closed: Promise<number> }> {
  const frames: unknown[] = []
  const came = new EventEmitter()
  const closed = once(came, 'closed').then(([code]) => code as number)
  const socket = await openWire(framing, api.url, '/v1/socket', { authorization: `Bearer ${token}` }, {
    frame: (text) => {
      frames.push(JSON.parse(text))
      came.emit('frame')
    },
    closed: (code) => { came.emit('closed', code) }
  })
  return { socket, frames, came, closed }
}

const queue = fc.oneof(fc.constantFrom('jobs', 'gone', '', '.x', 'a/b', 'x'.repeat(201)), fc.string())
// Mostly good ids: a frame whose id cannot be answered closes the socket, and ends the run's exploring.
const id = fc.oneof({ weight: 12, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, Number.MAX_SAFE_INTEGER + 2) }, { weight: 1, arbitrary: fc.string() })
const item = fc.record({
  queue,
  payload: fc.oneof(fc.string(), fc.base64String(), fc.integer()),
  encoding: fc.constantFrom('base64', 'hex'),
  correlationId: fc.string(),
  replyTo: queue,
  ack: id,
  error: fc.boolean(),
  idempotencyKey: fc.string({ maxLength: 300 }),
  ttl: fc.double(),
  delay: fc.double(),
  colour: fc.string()
}, { requiredKeys: [] })
const request = fc.record({
  op: fc.constantFrom('send', 'ack', 'deliver', 'cancel', 'nope'),
  id,
  messages: fc.array(item, { maxLength: 4 }),
  quiet: fc.oneof(fc.boolean(), fc.string()),
  ids: fc.array(id, { maxLength: 4 }),
  queue,
  after: id,
  credit: fc.oneof(fc.integer(), fc.double())
}, { requiredKeys: ['op', 'id'] })
const frame = fc.oneof(
  { weight: 40, arbitrary: request.map((value) => JSON.stringify(value)) },
  { weight: 4, arbitrary: fc.array(request, { maxLength: 5 }).map((values) => JSON.stringify(values)) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string() },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }
)

for (const framing of FRAMINGS) {
  t.test(`random frames: answers in the documented shape, closes with the socket's codes, no crash (${framing})`, async (t) => {
    const seed = seedFor(t, 20261130)
    const { api } = await startHttp(t, { host: '127.0.0.1' })
    const token = await api.login('fuzzer')
    await api.call('PUT', '/v1/queues/jobs', { token })
    const codes = new Set<string>(ERROR_CODES)
    let closes = 0
    await fc.assert(fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: FRAMES_PER_RUN }), async (frames) => {
      const { socket, frames: answers, came, closed } = await open(framing, api, token)
      for (const data of frames) socket.send(data)
      // A request with a valid id answers with it; the round trip of a last, well-formed one shows all came back.
      socket.send(JSON.stringify({ op: 'ack', id: 999_999_999, ids: [1] }))
      const end = await Promise.race([
        closed,
        (async () => {
          while (!answers.some((answer) => (answer as { id?: unknown }).id === 999_999_999)) await once(came, 'frame')
          return 0
        })()
      ])
      if (end !== 0) {
        closes++
        if (end !== SOCKET_CLOSE_PROTOCOL && end !== 1009 && end !== 1007 && end !== 1002) throw new Error(`closed with ${end}`)
      }
      for (const answer of answers) {
        const error = (answer as { error?: { code?: unknown, message?: unknown } }).error
        if (error !== undefined && (!codes.has(String(error.code)) || typeof error.message !== 'string')) throw new Error(`not the error shape: ${JSON.stringify(answer)}`)
        if (error?.code === 'internal') throw new Error(`internal error: ${JSON.stringify(answer)}`)
      }
      socket.terminate()
    }), { seed, numRuns: RUNS })
    t.comment(`${closes} of ${RUNS} runs closed by the switch`)

    // Still whole: a send over a new socket is delivered and acked.
    const { socket, frames, came } = await open(framing, api, token)
    socket.send(JSON.stringify({ op: 'deliver', id: 1, queue: 'jobs', after: 0, credit: 1000 }))
    socket.send(JSON.stringify({ op: 'send', id: 2, messages: [{ queue: 'jobs', payload: 'after the storm' }] }))
    while (!frames.some((f) => (f as { messages?: Array<{ payload: string }> }).messages?.some((m) => m.payload === 'after the storm') === true)) await once(came, 'frame')
    t.equal((await api.call('GET', '/v1/health')).status, 200)
    socket.terminate()
  })
}
