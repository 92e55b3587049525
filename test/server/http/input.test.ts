// Bad input of every kind is a 4xx in the error shape, naming the field at fault where there is one, and the
// switch goes on serving: malformed JSON, wrong content types, huge headers, bytes that are not UTF-8, numbers
// out of range, repeated parameters, and requests that are not HTTP at all.
import t from 'tap'
import type { Dispatcher } from 'undici'
import { ERROR_CODES, type ErrorBody } from '../../../protocol/wire.js'
import { statusOf } from '../../../server/http/errors.js'
import { codeOf, startHttp, type CallOptions, type Reply } from './fixtures.js'
import { head, rawRequest, type RawReply } from './raw.js'

function fieldOf (reply: Reply | RawReply): string | undefined {
  return (reply.json as ErrorBody | undefined)?.error?.field
}

/** An error answer as documented: JSON, a known code, the status that code implies. */
function isErrorShape (reply: Reply | RawReply): boolean {
  const error = (reply.json as ErrorBody | undefined)?.error
  return error !== undefined && typeof error.message === 'string' &&
    (ERROR_CODES as readonly string[]).includes(error.code) && statusOf(error.code as typeof ERROR_CODES[number]) === reply.status
}

interface Case {
  method: Dispatcher.HttpMethod
  path: string
  options?: CallOptions
  /** Sent with a valid session token. */
  session?: boolean
  status: number
  code: string
  field?: string
}

const json = (body: string): CallOptions => ({ body, headers: { 'content-type': 'application/json' } })

const CASES: Case[] = [
  // Login bodies.
  { method: 'POST', path: '/v1/sessions', options: { json: {} }, status: 400, code: 'invalid_request', field: 'client' },
  { method: 'POST', path: '/v1/sessions', options: { json: { client: ['a', 'b'] } }, status: 400, code: 'invalid_request', field: 'client' },
  { method: 'POST', path: '/v1/sessions', options: { json: { client: { name: 'x' } } }, status: 400, code: 'invalid_request', field: 'client' },
  { method: 'POST', path: '/v1/sessions', options: { json: { client: '' } }, status: 400, code: 'invalid_request', field: 'client' },
  { method: 'POST', path: '/v1/sessions', options: { json: { client: 'x'.repeat(201) } }, status: 400, code: 'invalid_request', field: 'client' },
  { method: 'POST', path: '/v1/sessions', options: { json: { client: 'x', role: 'admin' } }, status: 400, code: 'invalid_request', field: 'role' },
  { method: 'POST', path: '/v1/sessions', options: { json: ['client'] }, status: 400, code: 'invalid_request', field: 'body' },
  { method: 'POST', path: '/v1/sessions', options: json('{"client": "x"'), status: 400, code: 'invalid_request', field: 'body' },
  { method: 'POST', path: '/v1/sessions', options: json('{"client":"x","__proto__":{"admin":true}}'), status: 400, code: 'invalid_request', field: 'body' },
  { method: 'POST', path: '/v1/sessions', options: json(''), status: 400, code: 'invalid_request', field: 'body' },
  { method: 'POST', path: '/v1/sessions', options: { body: 'client=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, status: 415, code: 'unsupported_media_type', field: 'content-type' },
  { method: 'POST', path: '/v1/sessions', options: { body: '{"client":"x"}', headers: { 'content-type': 'text/json' } }, status: 415, code: 'unsupported_media_type', field: 'content-type' },
  { method: 'POST', path: '/v1/sessions', options: json(`{"client":"${'x'.repeat(2 * 1024 * 1024)}"}`), status: 413, code: 'payload_too_large', field: 'body' },
  // Query parameters: out of range, not numbers, infinite, repeated, unknown.
  { method: 'GET', path: '/v1/transfer?timeout=NaN', session: true, status: 400, code: 'invalid_request', field: 'timeout' },
  { method: 'GET', path: '/v1/transfer?timeout=Infinity', session: true, status: 400, code: 'invalid_request', field: 'timeout' },
  { method: 'GET', path: '/v1/transfer?timeout=1e309', session: true, status: 400, code: 'invalid_request', field: 'timeout' },
  { method: 'GET', path: '/v1/transfer?timeout=-0.5', session: true, status: 400, code: 'invalid_request', field: 'timeout' },
  { method: 'GET', path: '/v1/transfer?after=-1', session: true, status: 400, code: 'invalid_request', field: 'after' },
  { method: 'GET', path: '/v1/transfer?after=2.5', session: true, status: 400, code: 'invalid_request', field: 'after' },
  { method: 'GET', path: '/v1/transfer?after=1e400', session: true, status: 400, code: 'invalid_request', field: 'after' },
  { method: 'GET', path: '/v1/transfer?after=1&after=2', session: true, status: 400, code: 'invalid_request', field: 'after' },
  { method: 'GET', path: '/v1/transfer?max=1e400', session: true, status: 400, code: 'invalid_request', field: 'max' },
  { method: 'GET', path: '/v1/transfer?max=-1', session: true, status: 400, code: 'invalid_request', field: 'max' },
  { method: 'GET', path: '/v1/transfer?cursor=1', session: true, status: 400, code: 'invalid_request', field: 'cursor' },
  { method: 'GET', path: '/v1/trace?after=1e400', status: 400, code: 'invalid_request', field: 'after' },
  { method: 'GET', path: '/v1/trace?timeout=1&timeout=1', status: 400, code: 'invalid_request', field: 'timeout' },
  { method: 'GET', path: '/v1/queues?alive=perhaps', status: 400, code: 'invalid_request', field: 'alive' },
  { method: 'GET', path: `/v1/queues?prefix=${'p'.repeat(201)}`, status: 400, code: 'invalid_request', field: 'prefix' },
  { method: 'GET', path: '/v1/queues?prefix=a&prefix=b', status: 400, code: 'invalid_request', field: 'prefix' },
  { method: 'POST', path: '/v1/queues/q/messages?correlationId=a&correlationId=b', session: true, status: 400, code: 'invalid_request', field: 'correlationId' },
  { method: 'POST', path: '/v1/queues/q/messages?ack=0', session: true, status: 400, code: 'invalid_request', field: 'ack' },
  { method: 'POST', path: '/v1/queues/q/messages?ack=1e400', session: true, status: 400, code: 'invalid_request', field: 'ack' },
  { method: 'POST', path: '/v1/queues/q/messages?error=1&error=0', session: true, status: 400, code: 'invalid_request', field: 'error' },
  { method: 'POST', path: '/v1/queues/q/messages?replyTo=.hidden', session: true, status: 400, code: 'invalid_queue_name', field: 'replyTo' },
  { method: 'POST', path: '/v1/queues/q/messages', session: true, options: { headers: { 'idempotency-key': '' } }, status: 400, code: 'invalid_request', field: 'idempotency-key' },
  // Path parameters: ids out of range, names outside the charset or not UTF-8.
  { method: 'DELETE', path: '/v1/messages/-3', session: true, status: 400, code: 'invalid_request', field: 'id' },
  { method: 'DELETE', path: '/v1/messages/1.5', session: true, status: 400, code: 'invalid_request', field: 'id' },
  { method: 'DELETE', path: '/v1/messages/1e400', session: true, status: 400, code: 'invalid_request', field: 'id' },
  { method: 'DELETE', path: '/v1/messages/9007199254740992', session: true, status: 400, code: 'invalid_request', field: 'id' },
  { method: 'DELETE', path: '/v1/messages/NaN', session: true, status: 400, code: 'invalid_request', field: 'id' },
  { method: 'PUT', path: '/v1/queues/.hidden', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/queues/a%20b', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/queues/nul%00byte', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/queues/%C3%A9t%C3%A9', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/session/subscriptions/%E2%80%AE', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/queues/%FF%FE', session: true, status: 400, code: 'invalid_request' },
  { method: 'PUT', path: '/v1/queues/%C3%28', session: true, status: 400, code: 'invalid_request' },
  { method: 'PUT', path: '/v1/queues/%', session: true, status: 400, code: 'invalid_request' },
  { method: 'PUT', path: '/v1/queues/%%41', session: true, status: 400, code: 'invalid_request' },
  { method: 'GET', path: '/v1/queues/%FF', status: 400, code: 'invalid_request' },
  // Every route that takes a queue name refuses a bad one as PUT does, existing or not: 400, not 404.
  { method: 'POST', path: '/v1/queues/bad%20name!/messages', session: true, options: { body: 'x' }, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'POST', path: '/v1/queues/bad%20name!/messages?ack=1', session: true, options: { body: 'x' }, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'GET', path: '/v1/queues/bad%20name!', status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'DELETE', path: '/v1/queues/bad%20name!', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/session/subscriptions/bad%20name!', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'DELETE', path: '/v1/session/subscriptions/bad%20name!', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'GET', path: '/v1/queues/bad%20name!/bindings', status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'PUT', path: '/v1/queues/bad%20name!/bindings/a', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  { method: 'DELETE', path: '/v1/queues/bad%20name!/bindings/a', session: true, status: 400, code: 'invalid_queue_name', field: 'name' },
  // Numbers in headers are held to the same rules as in the query.
  { method: 'GET', path: '/v1/stream', session: true, options: { headers: { 'last-event-id': '1e400' } }, status: 400, code: 'invalid_request', field: 'last-event-id' },
  // Bodies where none is taken must still be JSON.
  { method: 'PUT', path: '/v1/queues/q', session: true, options: { body: '<q/>', headers: { 'content-type': 'application/xml' } }, status: 415, code: 'unsupported_media_type', field: 'content-type' },
  { method: 'DELETE', path: '/v1/queues/q', session: true, options: json('{'), status: 400, code: 'invalid_request', field: 'body' },
  // Sessions.
  { method: 'GET', path: '/v1/session', options: { headers: { authorization: 'Basic dXNlcjpwYXNz' } }, status: 401, code: 'session_required' },
  { method: 'GET', path: '/v1/session', options: { headers: { authorization: 'Bearer \u00ff\u00fe' } }, status: 401, code: 'session_not_found' }
]

t.test('each bad value is a 4xx in the error shape that names its field', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('picky')
  await api.call('PUT', '/v1/queues/q', { token })
  for (const { method, path, options, session, status, code, field } of CASES) {
    const label = `${method} ${path.slice(0, 70)}`
    const reply = await api.call(method, path, { ...options, ...(session === true ? { token } : {}) })
    t.equal(reply.status, status, label)
    t.equal(codeOf(reply), code, label)
    t.equal(fieldOf(reply), field, `${label}: field`)
    t.ok(isErrorShape(reply), `${label}: error shape`)
  }
  t.match((await api.call('GET', '/v1/queues/q')).json, { length: 0 }, 'nothing was enqueued')
  t.same((await api.diagnostics()).queues.map((queue) => queue.name), ['q'], 'nothing was created')
})

t.test('requests Node cannot take in are answered in the error shape, and the switch serves on', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('raw')
  const cases: Array<[string, string | Buffer, number, string]> = [
    ['huge headers', head('GET', '/v1/health', { 'X-Padding': 'p'.repeat(20_000) }), 431, 'headers_too_large'],
    ['a huge header line count', head('GET', '/v1/health', Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`X-${i}`, 'v']))), 431, 'headers_too_large'],
    ['not HTTP at all', 'HELLO SWITCH\r\n\r\n', 400, 'invalid_request'],
    ['an unknown method', head('BREW', '/v1/health'), 400, 'invalid_request'],
    ['raw bytes in the path', Buffer.concat([Buffer.from('PUT /v1/queues/'), Buffer.from([0xff, 0xfe]), Buffer.from(` HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n\r\n`)]), 400, 'invalid_request'],
    ['a control character in a header', 'GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\u0001b\r\n\r\n', 400, 'invalid_request'],
    ['a bad Content-Length', 'POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: ten\r\n\r\n', 400, 'invalid_request'],
    ['two Content-Lengths', 'POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}', 400, 'invalid_request'],
    ['a bad chunk', 'POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'invalid_request'],
    ['an HTTP version from the future', 'GET /v1/health HTTP/9.9\r\nHost: localhost\r\n\r\n', 400, 'invalid_request']
  ]
  for (const [what, request, status, code] of cases) {
    const reply = await rawRequest(api.url, request)
    t.equal(reply.status, status, what)
    t.equal(codeOf({ ...reply, text: reply.body }), code, what)
    t.ok(isErrorShape(reply), `${what}: error shape`)
    t.ok(reply.closed, `${what}: the connection is closed`)
  }
  t.equal((await api.call('GET', '/v1/health')).status, 200, 'still serving')
})

t.test('what Node would refuse bare is answered: no Host header, an unknown Expect, a CONNECT', async (t) => {
  const { api } = await startHttp(t)
  const hostless = await rawRequest(api.url, 'GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n')
  t.equal(hostless.status, 200, 'the switch serves one host: no Host header is needed')
  t.match(hostless.json, { status: 'ok' })
  const expecting = await rawRequest(api.url, head('GET', '/v1/health', { Expect: 'a-miracle' }))
  t.equal(expecting.status, 200, 'an expectation the switch cannot meet is ignored')
  const tunnel = await rawRequest(api.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
  t.equal(tunnel.status, 405)
  t.match(tunnel.json, { error: { code: 'method_not_allowed', message: /no proxy/ } })
  t.ok(tunnel.closed)
})

t.test('a send takes any bytes as its payload, but the name in its path must be one', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('bytes')
  await api.call('PUT', '/v1/queues/q', { token })
  const bytes = Buffer.from([0xff, 0x00, 0xfe, 0xc3, 0x28])
  for (const type of ['application/json', 'text/plain; charset=utf-8', 'multipart/form-data; boundary=x', '']) {
    const reply = await api.call('POST', '/v1/queues/q/messages', { token, body: bytes, headers: type === '' ? {} : { 'content-type': type } })
    t.equal(reply.status, 201, `content type ${JSON.stringify(type)}`)
  }
  const named = await api.call('POST', '/v1/queues/%FF/messages', { token, body: 'x' })
  t.equal(named.status, 400)
  t.equal(codeOf(named), 'invalid_request')
  t.match((await api.call('GET', '/v1/queues/q')).json, { length: 4 })
})
