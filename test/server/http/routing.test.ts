import t from 'tap'
import { codeOf, messageOf, startHttp } from './fixtures.js'

t.test('a path no route matches is 404 not_found in the error shape', async (t) => {
  const { api } = await startHttp(t)
  for (const path of ['/v1/nope', '/v1/queues/a/b/c', '/v2/health', '/v1/messages/1/2']) {
    const reply = await api.call('GET', path)
    t.equal(reply.status, 404, path)
    t.equal(codeOf(reply), 'not_found', path)
    t.match(messageOf(reply), path, path)
    t.match(String(reply.headers['content-type']), /^application\/json/, path)
  }
})

t.test('a known path with another method is 405 with an Allow header', async (t) => {
  const { api } = await startHttp(t)
  const cases: Array<['GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH', string, string]> = [
    ['PATCH', '/v1/queues', 'GET, POST'],
    ['DELETE', '/v1/queues', 'GET, POST'],
    ['POST', '/v1/queues/some%2Fqueue', 'GET, PUT, DELETE'],
    ['GET', '/v1/queues/q/messages', 'POST'],
    ['GET', '/v1/messages/1', 'DELETE'],
    ['GET', '/v1/messages', 'POST'],
    ['DELETE', '/v1/acks', 'POST'],
    ['POST', '/v1/session', 'GET, DELETE'],
    ['GET', '/v1/sessions', 'POST'],
    ['POST', '/v1/transfer', 'GET'],
    ['GET', '/v1/shutdown', 'POST'],
    ['DELETE', '/v1/health', 'GET'],
    ['GET', '/v1/session/subscriptions/q', 'PUT, DELETE']
  ]
  for (const [method, path, allow] of cases) {
    const reply = await api.call(method, path)
    t.equal(reply.status, 405, `${method} ${path}`)
    t.equal(codeOf(reply), 'method_not_allowed', `${method} ${path}`)
    t.equal(reply.headers.allow, allow, `${method} ${path}`)
  }
})

t.test('a malformed URL or an overlong path segment is a 400 in the error shape', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  for (const path of ['/v1/queues/%zz', '/v1/queues/%E0%A4%A', `/v1/queues/${'n'.repeat(1000)}`]) {
    const reply = await api.call('PUT', path, { token })
    t.equal(reply.status, 400, path.slice(0, 40))
    t.equal(codeOf(reply), 'invalid_request', path.slice(0, 40))
  }
})

t.test('bodies on routes that take none must still be well-formed JSON', async (t) => {
  const { api } = await startHttp(t)
  const token = await api.login('a')
  const malformed = await api.call('PUT', '/v1/queues/q', { token, body: '{', headers: { 'content-type': 'application/json' } })
  t.equal(malformed.status, 400)
  t.equal(codeOf(malformed), 'invalid_request')
  const foreign = await api.call('PUT', '/v1/queues/q', { token, body: 'x', headers: { 'content-type': 'text/plain' } })
  t.equal(foreign.status, 415)
  t.equal(codeOf(foreign), 'unsupported_media_type')
  // The body of a queue's PUT is its options: an unknown one is refused, not ignored; `{}` asks for none.
  const unknown = await api.call('PUT', '/v1/queues/q', { token, json: { anything: true } })
  t.equal(unknown.status, 400, 'an unknown option is refused')
  const empty = await api.call('PUT', '/v1/queues/q', { token, json: {} })
  t.equal(empty.status, 201, 'no options: a plain queue')
})

t.test('HEAD is answered for GET routes, without a body', async (t) => {
  const { api } = await startHttp(t)
  const reply = await api.call('HEAD', '/v1/health')
  t.equal(reply.status, 200)
  t.equal(reply.text, '')
})
