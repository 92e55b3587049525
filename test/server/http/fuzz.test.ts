// HTTP fuzzing of a live switch: thousands of random requests built from its real route table (paths with good,
// bad and hostile parameters, random queries, headers and bodies) plus bytes that are not HTTP at all, each on a
// raw socket. None may get a 5xx or no answer, every error of the JSON API must be in its documented shape, and
// afterwards the switch must still do a send, transfer and ack round trip.
import t from 'tap'
import { seedFor } from '../../seed.js'
import fc from 'fast-check'
import { ERROR_CODES, type ErrorBody, type SendResponse, type TransferResponse } from '../../../protocol/wire.js'
import { compatPlugin } from '../../../server/compat/index.js'
import { Switch } from '../../../server/core/switch.js'
import { buildApp } from '../../../server/http/app.js'
import { statusOf } from '../../../server/http/errors.js'
import { startHttp, type Api } from './fixtures.js'
import { openSocket, readOne, type RawReply } from './raw.js'

const RUNS = 3000
const TIME_LIMIT_MS = 30_000

/** Every route a switch serves (the JSON API and the original protocols) as method and path pattern. */
async function routeTable (): Promise<Array<{ method: string, url: string }>> {
  const core = new Switch()
  const hooks = { shutdown: () => {} }
  const app = buildApp(core, hooks, { plugins: [compatPlugin(core, hooks)] })
  const routes: Array<{ method: string, url: string }> = []
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url })
  })
  await app.ready()
  await app.close()
  await core.close()
  // Shutting the switch down is not fuzzed: it would end the run.
  return routes.filter((route) => !route.url.includes('shutdown'))
}

const percentBytes = (bytes: Uint8Array): string => [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')

function encoded (text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    return percentBytes(Buffer.from(text))
  }
}

/** A path or query value: mostly a real name or id, else a number at or past the edges, garbage, any bytes. */
const value: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom('q', 'svc', 'q', '1', '2', '3', '0.01', 'true'), weight: 6 },
  {
    arbitrary: fc.constantFrom('org.example.x', 'a%2Fb', '0', '-1', '1.5', '1e400', '1e309', 'NaN', 'Infinity', '-Infinity',
      '9007199254740993', '0x10', 'false', '', '%', '%zz', '%FF%FE', '%C3%28', '%00', '..', '.hidden', 'x'.repeat(201),
      '%2e%2e%2f', 'null', '[]', '{}'),
    weight: 4
  },
  fc.string({ maxLength: 12 }).map(encoded),
  fc.string({ unit: 'binary', maxLength: 8 }).map(encoded),
  fc.uint8Array({ maxLength: 8 }).map(percentBytes),
  fc.integer().map(String),
  fc.double().map(String)
)

const QUERY_NAMES = ['after', 'timeout', 'max', 'prefix', 'alive', 'correlationId', 'replyTo', 'ack', 'error', 'topic', 'filter']

const query: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  {
    arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_NAMES), fc.string({ maxLength: 6 }).map(encoded)), value), { minLength: 1, maxLength: 4 })
      .map((pairs) => `?${pairs.map(([name, v]) => `${name}=${v}`).join('&')}`),
    weight: 5
  },
  { arbitrary: fc.constantFrom('?', '?&&', '?=', '?a', '?after=1&after=2&after=3', '?%zz=1', '?timeout[]=1', '?__proto__[x]=1'), weight: 1 }
)

const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE'), weight: 8 },
  { arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT'), weight: 1 }
)

/** A route's path with its parameters filled in, with the route's own method or now and then another. */
function routeRequest (routes: Array<{ method: string, url: string }>): fc.Arbitrary<{ method: string, path: string }> {
  return fc.tuple(fc.constantFrom(...routes), fc.array(value, { minLength: 6, maxLength: 6 }), fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: method, weight: 1 }))
    .map(([route, values, other]) => {
      let i = 0
      const path = route.url.replace(/:\w+/g, () => values[i++] === '' ? 'q' : values[i - 1])
      return { method: other ?? route.method, path }
    })
}

/** Anything else: a path of random segments, or one of the odd spellings of real ones. */
const otherRequest: fc.Arbitrary<{ method: string, path: string }> = fc.record({
  method,
  path: fc.oneof(
    fc.array(value, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
    fc.constantFrom('/', '//v1/health', '/v1/', '/v1/queues/', '/V1/HEALTH', '/v1/queues//messages', '/v1/./health',
      '/v1/queues/q/messages/', '*', '/v1/health#frag', '/v1/%2e%2e/v1/health')
  )
})

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 30 })

interface Fuzzed {
  method: string
  path: string
  auth: 'none' | 'valid' | 'forged' | 'empty' | 'basic'
  contentType: string | undefined
  idempotencyKey: string | undefined
  extra: Array<[string, string]>
  body: Buffer | undefined
}

function requestArbitrary (routes: Array<{ method: string, url: string }>): fc.Arbitrary<Fuzzed> {
  const target = fc.oneof({ arbitrary: routeRequest(routes), weight: 9 }, { arbitrary: otherRequest, weight: 1 })
  return fc.record({
    target: fc.tuple(target, query).map(([{ method, path }, q]) => ({ method, path: path + q })),
    auth: fc.constantFrom('none', 'valid', 'valid', 'valid', 'valid', 'valid', 'forged', 'empty', 'basic'),
    contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain',
      'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ';;;',
      'application/json; charset=latin1', 'APPLICATION/JSON', 'text/event-stream'), { nil: undefined }),
    idempotencyKey: fc.option(printable, { nil: undefined }),
    extra: fc.array(fc.tuple(fc.constantFrom('X-Junk', 'Accept', 'Accept-Encoding', 'Expect', 'Range', 'If-None-Match', 'Origin', 'Last-Event-ID'), printable), { maxLength: 3 }),
    body: fc.option(fc.oneof(
      fc.json().map((text) => Buffer.from(text)),
      fc.string({ maxLength: 40 }).map((text) => Buffer.from(text)),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom('{', '{"client": "fuzz"}', '{"client": ""}', '[1,2', 'null', '{"__proto__": {"x": 1}}').map((text) => Buffer.from(text))
    ), { nil: undefined })
  }).map(({ target, ...rest }) => ({ ...target, ...rest }))
}

function serialize (request: Fuzzed, tokens: Tokens): Buffer {
  const lines = [`${request.method} ${request.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']
  if (request.auth === 'valid') lines.push(`Authorization: Bearer ${tokens.pick()}`)
  if (request.auth === 'forged') lines.push('Authorization: Bearer not-a-session')
  if (request.auth === 'empty') lines.push('Authorization: Bearer ')
  if (request.auth === 'basic') lines.push('Authorization: Basic Zm9vOmJhcg==')
  if (request.contentType !== undefined) lines.push(`Content-Type: ${request.contentType}`)
  if (request.idempotencyKey !== undefined) lines.push(`Idempotency-Key: ${request.idempotencyKey}`)
  for (const [name, v] of request.extra) lines.push(`${name}: ${v}`)
  if (request.body !== undefined) lines.push(`Content-Length: ${request.body.length}`)
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), request.body ?? Buffer.alloc(0)])
}

/** Bytes the HTTP parser refuses as soon as it sees them (it never waits for more). */
const garbage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.concat([Buffer.from([0x01]), bytes])),
  fc.constantFrom('HELLO\r\n\r\n', ' GET / HTTP/1.1\r\n\r\n', 'GET / HTTP/2.0\r\n\r\n', 'GET / HTTQ/1.1\r\n\r\n',
    'GET /v1/health HTTP/1.1\r\nBad Header\r\n\r\n', 'GET /v1/health HTTP/1.1\r\nX: a\u0000b\r\n\r\n',
    'POST /v1/sessions HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 'POST /v1/sessions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n',
    'GET /\u0007 HTTP/1.1\r\n\r\n').map((text) => Buffer.from(text, 'latin1'))
)

/** Session tokens for the fuzzed requests; one logged out by a request is replaced. */
class Tokens {
  private readonly tokens: string[] = []
  /** Each token's client name, unique: diagnostics shows names, never tokens. */
  private readonly names = new Map<string, string>()
  constructor (private readonly api: Api) {}

  async fill (count: number): Promise<void> {
    while (this.tokens.length < count) {
      const name = `fuzz-${this.names.size}`
      const token = await this.api.login(name)
      this.names.set(token, name)
      this.tokens.push(token)
    }
  }

  pick (): string {
    return this.tokens[Math.floor(Math.random() * this.tokens.length)]
  }

  async refresh (): Promise<void> {
    const live = new Set((await this.api.diagnostics()).sessions.map((session) => session.client))
    const kept = this.tokens.filter((token) => live.has(this.names.get(token) ?? ''))
    this.tokens.length = 0
    this.tokens.push(...kept)
    await this.fill(4)
  }
}

async function send (url: string, bytes: Buffer): Promise<RawReply> {
  const socket = await openSocket(url)
  socket.write(bytes)
  return await readOne(socket, 10_000)
}

/** What is wrong with an answer, or undefined. */
function problemWith (reply: RawReply, path: string, method: string): string | undefined {
  if (reply.status === 0) return 'no answer'
  if (reply.status >= 500) return `a ${reply.status}: ${reply.body.slice(0, 200)}`
  const api = path.startsWith('/v1/') || path === '/v1'
  if (reply.status < 400 || method === 'HEAD' || (!api && !(reply.headers['content-type'] ?? '').startsWith('application/json'))) return undefined
  const error = (reply.json as ErrorBody | undefined)?.error
  if (error === undefined || typeof error.message !== 'string') return `not the error shape: ${reply.body.slice(0, 200)}`
  if (!(ERROR_CODES as readonly string[]).includes(error.code)) return `unknown code ${error.code}`
  if (statusOf(error.code as typeof ERROR_CODES[number]) !== reply.status) return `${error.code} with status ${reply.status}`
  return undefined
}

t.test('thousands of random requests: no 5xx, no crash, errors in their shape; the switch still works', async (t) => {
  const routes = await routeTable()
  // Long-polls the fuzz happens to make end at once; a request cut short by the fuzz is cut off soon.
  const { api } = await startHttp(t, { maxTimeout: 20, headersTimeout: 2000, requestTimeout: 2000 })
  const tokens = new Tokens(api)
  await tokens.fill(4)
  const setup = tokens.pick()
  await api.call('PUT', '/v1/queues/q', { token: setup })
  await api.call('PUT', '/v1/queues/svc', { token: setup })

  const statuses = new Map<number, number>()
  let runs = 0
  const arbitrary = fc.oneof(
    { arbitrary: requestArbitrary(routes).map((request) => ({ kind: 'http' as const, request })), weight: 30 },
    { arbitrary: garbage.map((bytes) => ({ kind: 'garbage' as const, bytes })), weight: 1 }
  )
  const result = await fc.check(fc.asyncProperty(arbitrary, async (input) => {
    if (++runs % 250 === 0) await tokens.refresh()
    const bytes = input.kind === 'http' ? serialize(input.request, tokens) : input.bytes
    const reply = await send(api.url, bytes)
    statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
    const problem = input.kind === 'http'
      ? problemWith(reply, input.request.path, input.request.method)
      : problemWith(reply, '/v1/', 'GET')
    if (problem !== undefined) throw new Error(`${bytes.toString('latin1').slice(0, 300)} -> ${problem}`)
  }), { numRuns: RUNS, seed: seedFor(t, 1), interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, endOnFailure: true })
  t.notOk(result.failed, result.failed ? fc.defaultReportMessage(result) ?? 'failed' : 'every answer was sound')
  // A slow machine makes fewer within the time budget: the count is reported, not asserted.
  t.ok(runs > 0, `${runs} of ${RUNS} requests made within ${TIME_LIMIT_MS / 1000} s`)
  const shown = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`).join(', ')
  t.comment(`statuses: ${shown}`)
  t.ok([...statuses.keys()].some((status) => status >= 200 && status < 300), 'some requests succeeded')
  t.ok([...statuses.keys()].some((status) => status >= 400), 'and many were refused')

  // The switch still does its job.
  const receiver = await api.login('after-fuzz-receiver')
  const sender = await api.login('after-fuzz-sender')
  t.equal((await api.call('PUT', '/v1/queues/after-fuzz', { token: receiver })).status, 201)
  await api.call('PUT', '/v1/session/subscriptions/after-fuzz', { token: receiver })
  const sent = (await api.call('POST', '/v1/queues/after-fuzz/messages', { token: sender, body: 'still here' })).json as SendResponse
  const { messages } = (await api.call('GET', '/v1/transfer?timeout=5', { token: receiver })).json as TransferResponse
  t.match(messages, [{ id: sent.id, payload: 'still here' }])
  t.equal((await api.call('DELETE', `/v1/messages/${sent.id}`, { token: receiver })).status, 204)
  t.match((await api.call('GET', '/v1/queues/after-fuzz')).json, { length: 0 })
  t.match((await api.diagnostics()).limits, { sessionPolls: { used: 0 } }, 'no long-poll left behind')
})
