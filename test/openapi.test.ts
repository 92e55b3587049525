// Holds openapi.yaml to the server: the same operations as the routes Fastify registers, the same request and
// response schemas as server/http/schemas.ts, and every answer of a live switch valid against the document.
import t from 'tap'
import Ajv2020Module from 'ajv/dist/2020.js'
import type { RouteOptions } from 'fastify'
import { ERROR_CODES, type BatchSendResponse, type CreateQueueResponse, type ErrorBody, type SendResponse, type StreamTicketResponse, type TransferResponse } from '../protocol/wire.js'
import { Switch } from '../server/core/switch.js'
import { buildApp } from '../server/http/app.js'
import { statusOf } from '../server/http/errors.js'
import { errorSchema } from '../server/http/schemas.js'
import { startHttp, waitingOn, type Reply } from './server/http/fixtures.js'
import { deref, doc, isObject, operations, type Json, type JsonObject } from './openapi-document.js'

/** A schema with every `$ref` inlined and the prose (`description`) dropped: what Fastify's schemas hold. */
function bare (schema: unknown): Json {
  const resolved = deref(schema as Json)
  if (Array.isArray(resolved)) return resolved.map(bare)
  if (!isObject(resolved)) return resolved
  const out: JsonObject = {}
  for (const [key, value] of Object.entries(resolved)) {
    if (key === 'description') continue
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, property]) => [name, bare(property)]))
    } else {
      out[key] = bare(value)
    }
  }
  return out
}

/** Fastify's schemas are `as const` literals: the same JSON, read-only. */
function plain (schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json
}

interface RouteSchema {
  params?: { properties: Record<string, unknown>, required?: readonly string[] }
  querystring?: { properties: Record<string, unknown>, additionalProperties?: boolean }
  headers?: { properties: Record<string, unknown> }
  body?: unknown
  response?: Record<string, unknown>
}

/** The API's routes: those under /v1, and the metrics where scrapers look for them (not the dashboard's files). */
const isApi = (url: string): boolean => url.startsWith('/v1/') || url === '/metrics'

/** Every API route a fresh app registers, with its schema, as "METHOD /path/{param}". */
async function registeredRoutes (): Promise<Map<string, RouteOptions>> {
  const core = new Switch()
  const app = buildApp(core, { shutdown: () => {} })
  const routes = new Map<string, RouteOptions>()
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      // Fastify adds HEAD for every GET by itself.
      if (method === 'HEAD' || !isApi(route.url)) continue
      routes.set(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`, route)
    }
  })
  await app.ready()
  await app.close()
  await core.close()
  return routes
}

t.test('the document is OpenAPI 3.1 with unique operation ids and resolvable references', async (t) => {
  t.equal(doc.openapi, '3.1.0')
  const ids = operations().map(({ operation }) => operation.operationId)
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique')
  t.doesNotThrow(() => bare(doc.paths), 'every $ref resolves')
  t.doesNotThrow(() => bare(doc.components), 'every $ref resolves')
})

t.test('the operations are exactly the routes the server registers', async (t) => {
  const routes = await registeredRoutes()
  const documented = operations().map(({ method, path }) => `${method} ${path}`).sort()
  const registered = [...routes.keys()].sort()
  for (const route of registered) t.ok(documented.includes(route), `${route} is documented`)
  for (const operation of documented) t.ok(registered.includes(operation), `${operation} is a route`)
  t.same(documented, registered)
})

t.test('parameters, bodies, security and responses match the route schemas', async (t) => {
  const routes = await registeredRoutes()
  for (const { method, path, operation, parameters } of operations()) {
    const route = routes.get(`${method} ${path}`)
    if (route === undefined) continue // reported by the test above
    const schema = (route.schema ?? {}) as RouteSchema
    const name = `${method} ${path}`

    const inPath = parameters.filter((p) => p.in === 'path')
    t.same(inPath.map((p) => p.name).sort(), Object.keys(schema.params?.properties ?? {}).sort(), `${name}: path parameters`)
    for (const parameter of inPath) {
      t.equal(parameter.required, true, `${name}: path parameter ${parameter.name} is required`)
      t.strictSame(bare(parameter.schema), plain(schema.params?.properties[parameter.name]), `${name}: path parameter ${parameter.name}`)
    }

    const inQuery = parameters.filter((p) => p.in === 'query')
    const query = schema.querystring?.properties ?? {}
    t.same(inQuery.map((p) => p.name).sort(), Object.keys(query).sort(), `${name}: query parameters`)
    if (schema.querystring !== undefined) t.equal(schema.querystring.additionalProperties, false, `${name}: unknown query parameters are refused, as documented`)
    for (const parameter of inQuery) {
      t.notOk(parameter.required, `${name}: query parameter ${parameter.name} is optional`)
      t.strictSame(bare(parameter.schema), plain(query[parameter.name]), `${name}: query parameter ${parameter.name}`)
    }

    const inHeader = parameters.filter((p) => p.in === 'header')
    const headers = schema.headers?.properties ?? {}
    t.same(inHeader.map((p) => p.name.toLowerCase()).sort(), Object.keys(headers).sort(), `${name}: header parameters`)
    for (const parameter of inHeader) {
      t.strictSame(bare(parameter.schema), plain(headers[parameter.name.toLowerCase()]), `${name}: header ${parameter.name}`)
    }

    const content = operation.requestBody?.content ?? {}
    if (schema.body === undefined) {
      t.same(Object.keys(content).filter((type) => type === 'application/json'), [], `${name}: no JSON body`)
    } else {
      const optional = route.config?.optionalBody === true
      t.equal(operation.requestBody?.required, !optional, `${name}: the body is ${optional ? 'optional' : 'required'}`)
      t.strictSame(bare(content['application/json']?.schema), plain(schema.body), `${name}: request body`)
    }

    // Open routes need nothing; the others a session with an auth file, and some of them (config.session) always.
    const access = route.config?.access
    const always = route.config?.session === true
    t.ok(operation.security, `${name}: states its security`)
    const security = operation.security ?? []
    if (access === 'open') {
      t.same(security, [], `${name}: open, as documented`)
    } else {
      t.ok(security.some((requirement) => 'session' in requirement), `${name}: needs a session, as documented`)
      t.equal(security.some((requirement) => Object.keys(requirement).length === 0), !always, `${name}: needs one ${always ? 'always' : 'with an auth file only'}, as documented`)
      t.ok(operation.responses['401'], `${name}: documents 401`)
    }
    // A permission a route declares may be refused.
    if (access !== 'open' && access !== 'session') t.ok(operation.responses['403'], `${name}: documents 403`)
    t.ok(operation.responses['500'], `${name}: documents 500`)

    for (const [status, documented] of Object.entries(operation.responses)) {
      const response = deref(documented)
      const json = response.content?.['application/json']?.schema
      const fastify = schema.response?.[status]
      if (Number(status) >= 400) {
        t.strictSame(bare(json), plain(errorSchema), `${name} ${status}: the Error schema`)
      } else if (json === undefined) {
        t.equal(fastify, undefined, `${name} ${status}: no body`)
      } else {
        t.strictSame(bare(json), plain(fastify), `${name} ${status}: response schema`)
      }
    }
    for (const status of Object.keys(schema.response ?? {})) {
      t.ok(operation.responses[status], `${name}: status ${status} of the route is documented`)
    }
  }
})

t.test('every answer of a live switch is documented and valid against its schema', async (t) => {
  const Ajv2020 = Ajv2020Module.default
  const ajv = new Ajv2020({ strict: true, allErrors: true })
  // Component references point into the document; here the components are a schema of their own.
  const components = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('"#/components/schemas/', '"components#/$defs/')) as JsonObject
  ajv.addSchema({ $id: 'components', $defs: components })
  t.notOk(ajv.validate({ $ref: 'components#/$defs/Message' }, { id: '1', queue: 'q' }), 'the validator is not vacuous')

  const matchers = operations().map((entry) => ({
    ...entry,
    pattern: new RegExp(`^${entry.path.replace(/\{[^}]+\}/g, '[^/]+')}$`)
  }))
  const seen = new Set<string>()
  const problems: string[] = []
  const check = (method: string, url: string, reply: Reply): void => {
    const path = url.split('?')[0]
    const match = matchers.find((entry) => entry.method === method && entry.pattern.test(path))
    const label = `${method} ${url} → ${reply.status}`
    if (match === undefined) {
      // Not an operation: only the router's 404 and 405 may answer, in the error shape.
      if (reply.status !== 404 && reply.status !== 405) problems.push(`${label}: no operation`)
      return
    }
    seen.add(`${method} ${match.path} ${reply.status}`)
    const documented = match.operation.responses[String(reply.status)]
    if (documented === undefined) {
      problems.push(`${label}: status not documented for ${match.operation.operationId}`)
      return
    }
    if (deref(documented).content?.['text/event-stream'] !== undefined) {
      if (!String(reply.headers['content-type']).startsWith('text/event-stream')) problems.push(`${label}: not an event stream`)
      return
    }
    if (deref(documented).content?.['text/plain'] !== undefined) {
      if (!String(reply.headers['content-type']).startsWith('text/plain')) problems.push(`${label}: not plain text`)
      return
    }
    const lines = deref(documented).content?.['application/x-ndjson']?.schema
    if (lines !== undefined) {
      if (!String(reply.headers['content-type']).startsWith('application/x-ndjson')) problems.push(`${label}: not NDJSON`)
      // Each line is one value of the schema; empty lines are heartbeats.
      const validate = ajv.compile(JSON.parse(JSON.stringify(lines).replaceAll('"#/components/schemas/', '"components#/$defs/')) as JsonObject)
      for (const line of reply.text.split('\n').filter((text) => text !== '')) {
        if (!validate(JSON.parse(line))) problems.push(`${label}: ${ajv.errorsText(validate.errors)}`)
      }
      return
    }
    const schema = deref(documented).content?.['application/json']?.schema
    if (schema === undefined) {
      if (reply.text !== '') problems.push(`${label}: a body where none is documented`)
      return
    }
    if (!String(reply.headers['content-type']).startsWith('application/json')) problems.push(`${label}: not JSON`)
    const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/$defs/')) as JsonObject
    const validate = ajv.compile(rewritten)
    if (!validate(reply.json)) problems.push(`${label}: ${ajv.errorsText(validate.errors)}`)
    if (reply.status >= 400) {
      const code = (reply.json as ErrorBody).error.code
      if (!(ERROR_CODES as readonly string[]).includes(code)) problems.push(`${label}: unknown code ${code}`)
      else if (statusOf(code as typeof ERROR_CODES[number]) !== reply.status) problems.push(`${label}: ${code} with the wrong status`)
    }
  }

  // Limits low enough for the session below to reach each one.
  const { api } = await startHttp(t, { maxPayload: 1024, maxQueues: 2, maxSessionQueues: 1, maxQueueLength: 3, maxSessionPolls: 1 }, check)
  const client = await api.login('client')
  const server = await api.login('server')
  await api.call('POST', '/v1/sessions', { body: '{"client"', headers: { 'content-type': 'application/json' } })
  await api.call('POST', '/v1/sessions', { body: 'client=x', headers: { 'content-type': 'text/plain' } })
  await api.call('POST', '/v1/sessions', { body: 'x'.repeat(70 * 1024), headers: { 'content-type': 'application/json' } })
  await api.call('GET', '/v1/session', { token: client })
  await api.call('GET', '/v1/session')
  await api.call('GET', '/v1/session', { token: 'forged' })

  await api.call('PUT', '/v1/queues/org.example.service', { token: server })
  await api.call('PUT', '/v1/queues/org.example.service', { token: server })
  await api.call('PUT', '/v1/queues/.bad', { token: server })
  await api.call('PUT', '/v1/queues/x', { token: server, body: 'x', headers: { 'content-type': 'text/plain' } })
  await api.call('PUT', '/v1/queues/%zz', { token: server })
  const replies = (await api.call('POST', '/v1/queues', { token: client })).json as CreateQueueResponse
  await api.call('POST', '/v1/queues', { token: client })
  await api.call('PUT', '/v1/queues/one-too-many', { token: server })
  await api.call('GET', '/v1/queues')
  await api.call('GET', '/v1/queues?prefix=org.&alive=false')
  await api.call('GET', '/v1/queues?colour=blue')
  await api.call('GET', `/v1/queues/${replies.name}`)
  await api.call('GET', '/v1/queues/missing')
  await api.call('PUT', '/v1/session/subscriptions/org.example.service', { token: server })
  await api.call('PUT', `/v1/session/subscriptions/${replies.name}`, { token: client })
  await api.call('PUT', '/v1/session/subscriptions/missing', { token: client })

  // An RPC: the server long-polls, the client's request wakes it, the reply acks the request.
  const serverPoll = api.call('GET', '/v1/transfer?after=0&timeout=30', { token: server })
  await waitingOn(api, 'org.example.service', 1)
  await api.call('GET', '/v1/transfer?timeout=30', { token: server })
  await api.call('GET', '/v1/diagnostics')
  const request = (await api.call('POST', `/v1/queues/org.example.service/messages?correlationId=c1&replyTo=${replies.name}`, {
    token: client, body: '{"method":"ping"}', headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' }
  })).json as SendResponse
  await api.call('POST', '/v1/queues/org.example.service/messages', { token: client, body: 'again', headers: { 'idempotency-key': 'k1' } })
  const taken = (await serverPoll).json as TransferResponse
  await api.call('POST', `/v1/queues/${replies.name}/messages?correlationId=c1&ack=${taken.messages[0].id}&error=true`, { token: server, body: 'failed' })
  await api.call('POST', `/v1/queues/${replies.name}/messages?ack=${request.id}`, { token: server, body: 'x' })
  await api.call('POST', `/v1/queues/${replies.name}/messages`, { token: server, body: Buffer.from([0xc3, 0x28]) })
  await api.call('POST', `/v1/queues/${replies.name}/messages`, { token: server, body: 'third' })
  await api.call('POST', `/v1/queues/${replies.name}/messages`, { token: server, body: 'one too many' })
  await api.call('POST', '/v1/queues/missing/messages', { token: server, body: 'x' })
  // Replies to a caller that is gone: the request is acked, the reply dropped (200), singly and in a batch.
  const orphans = await Promise.all(['o1', 'o2'].map(async (body) =>
    ((await api.call('POST', '/v1/queues/org.example.service/messages?replyTo=gone', { token: client, body })).json as SendResponse).id))
  await api.call('POST', `/v1/queues/gone/messages?ack=${orphans[0]}`, { token: server, body: 'x' })
  await api.call('POST', `/v1/queues/${replies.name}/messages`, { token: server, body: 'x'.repeat(1025) })
  await api.call('POST', `/v1/queues/${replies.name}/messages?ack=0`, { token: server, body: 'x' })
  await api.call('POST', `/v1/queues/${replies.name}/messages`, { body: 'x' })
  await api.call('GET', '/v1/diagnostics')
  const answers = (await api.call('GET', '/v1/transfer?after=0&max=10', { token: client })).json as TransferResponse
  await api.call('GET', '/v1/transfer?after=-1', { token: client })
  await api.call('GET', '/v1/transfer?timeout=1e309', { token: client })
  await api.call('GET', '/v1/transfer')
  for (const message of answers.messages) await api.call('DELETE', `/v1/messages/${message.id}`, { token: client })
  await api.call('DELETE', `/v1/messages/${answers.messages[0].id}`, { token: client })
  await api.call('DELETE', '/v1/messages/x', { token: client })
  // Batches: sends (one of them refused) and acks (one of them missing), each in one request.
  const batch = (await api.call('POST', '/v1/messages', {
    token: server,
    json: {
      messages: [
        { queue: replies.name, payload: 'batched', correlationId: 'c2', idempotencyKey: 'b1' },
        { queue: 'missing', payload: 'x' },
        { queue: 'gone', payload: 'x', ack: orphans[1] },
        { queue: replies.name, payload: '/wA=', encoding: 'base64' }
      ]
    }
  })).json as BatchSendResponse
  await api.call('POST', '/v1/messages', { token: server, json: { messages: [] } })
  await api.call('POST', '/v1/messages', { json: { messages: [{ queue: replies.name, payload: 'x' }] } })
  const batched = batch.results.flatMap((result) => 'id' in result ? [result.id] : [])
  await api.call('POST', '/v1/acks', { token: client, json: { ids: [...batched, batched[0]] } })
  await api.call('POST', '/v1/acks', { token: client, json: { ids: [0] } })
  // Publish/subscribe, with a third session following the reply queue on the event stream until the shutdown.
  const watcher = await api.login('watcher')
  await api.call('PUT', `/v1/session/subscriptions/${replies.name}`, { token: watcher })
  const stream = api.call('GET', '/v1/stream?after=0', { token: watcher })
  // And pushed, as the library receives it, until the shutdown: by the reply queue's owner, as only it may.
  const pushed = api.call('GET', `/v1/deliveries?queue=${replies.name}&credit=100`, { token: client })
  // The same stream as a browser opens it: with a single-use ticket in place of the bearer header.
  const { ticket } = (await api.call('POST', '/v1/stream/tickets', { token: server })).json as StreamTicketResponse
  const ticketed = api.call('GET', `/v1/stream?ticket=${ticket}`)
  await waitingOn(api, 'org.example.service', 1)
  await api.call('GET', `/v1/stream?ticket=${ticket}`)
  const bindings = `/v1/queues/${replies.name}/bindings`
  await api.call('POST', '/v1/topics/site%2Frack1%2Ftemp/messages?retain=true', { token: server, body: '21.5', headers: { 'idempotency-key': 'p1' } })
  await api.call('PUT', `${bindings}/site%2F%2B%2Ftemp`, { token: client })
  await api.call('PUT', `${bindings}/site%2F%2B%2Ftemp`, { token: client })
  await api.call('PUT', `${bindings}/a%2F%23%2Fb`, { token: client })
  await api.call('PUT', '/v1/queues/missing/bindings/a', { token: client })
  await api.call('PUT', `${bindings}/a`)
  await api.call('GET', bindings)
  await api.call('GET', '/v1/queues/missing/bindings')
  await api.call('GET', '/v1/queues')
  await api.call('POST', '/v1/topics/site%2Frack2%2Ftemp/messages', { token: server, body: '22' })
  await api.call('POST', '/v1/topics/a%2B/messages', { token: server, body: 'x' })
  await api.call('POST', '/v1/topics/x/messages', { token: server, body: 'x'.repeat(1025) })
  await api.call('POST', '/v1/topics/x/messages', { body: 'x' })
  await api.call('POST', '/v1/topics/site%2Frack3%2Ftemp/messages', { token: server, body: 'fills the queue' })
  await api.call('POST', '/v1/topics/site%2Frack4%2Ftemp/messages', { token: server, body: 'one too many' })
  await api.call('POST', '/v1/topics/other/messages?retain=true', { token: server, body: 'retained elsewhere' })
  await api.call('PUT', `${bindings}/other`, { token: client })
  await api.call('DELETE', `${bindings}/site%2F%2B%2Ftemp`, { token: client })
  await api.call('DELETE', `${bindings}/%23%2Fa`, { token: client })
  await api.call('DELETE', '/v1/queues/missing/bindings/a', { token: client })
  await api.call('GET', '/v1/stream')
  await api.call('GET', '/v1/stream?after=-1', { token: watcher })
  await api.call('GET', '/v1/diagnostics')
  await api.call('GET', '/v1/trace?after=0&max=5')
  await api.call('GET', '/v1/trace?after=3&timeout=0.01')
  await api.call('GET', '/v1/trace?max=0')
  await api.call('GET', '/v1/health')
  await api.call('GET', '/metrics')
  await api.call('DELETE', `/v1/session/subscriptions/${replies.name}`, { token: client })
  await api.call('DELETE', '/v1/queues/org.example.service', { token: server })
  await api.call('DELETE', '/v1/queues/org.example.service', { token: server })
  // A work queue: options, a conflict, a lease extended (and refused to another session), dead letters moved back.
  // Its worker has a session of its own: the server's event stream (above) would lease the job first.
  const worker = await api.login('worker')
  const work = { mode: 'work', visibilityTimeout: 30, maxDeliveries: 3, deadLetter: replies.name, messageTtl: 600 }
  await api.call('PUT', '/v1/queues/jobs', { token: worker, json: work })
  await api.call('PUT', '/v1/queues/jobs', { token: worker, json: { mode: 'work' } })
  await api.call('PUT', '/v1/queues/jobs2', { token: worker, json: { mode: 'work', deadLetter: 'missing' } })
  await api.call('PUT', '/v1/queues/jobs2', { token: worker, json: { colour: 'blue' } })
  await api.call('GET', '/v1/queues/jobs')
  await api.call('POST', `/v1/queues/jobs/redrive?to=${replies.name}`, { token: worker })
  await api.call('POST', '/v1/queues/jobs/redrive', { token: worker })
  await api.call('POST', '/v1/queues/jobs/redrive?to=missing', { token: worker })
  await api.call('POST', '/v1/queues/jobs/messages?ttl=60&delay=0', { token: worker, body: 'job' })
  await api.call('POST', `/v1/queues/${replies.name}/messages?delay=5`, { token: worker, body: 'x' })
  await api.call('PUT', '/v1/session/subscriptions/jobs', { token: worker })
  const job = ((await api.call('GET', '/v1/transfer?timeout=0', { token: worker })).json as TransferResponse).messages[0]
  await api.call('GET', '/v1/diagnostics')
  await api.call('POST', `/v1/messages/${job.id}/lease?seconds=60`, { token: worker })
  await api.call('POST', `/v1/messages/${job.id}/lease`, { token: client })
  await api.call('POST', '/v1/messages/999999/lease?seconds=1', { token: worker })
  await api.call('POST', `/v1/messages/${job.id}/lease?seconds=-1`, { token: worker })
  await api.call('DELETE', '/v1/session', { token: client })
  await api.call('DELETE', '/v1/session', { token: client })
  await api.call('GET', '/v1/nothing-here')
  await api.call('PATCH', '/v1/queues')
  await api.call('POST', '/v1/shutdown')
  await stream
  await pushed
  await ticketed

  t.same(problems, [], 'every answer is documented and valid')
  for (const { method, path, operation } of operations()) {
    for (const status of Object.keys(operation.responses).filter((code) => code.startsWith('2'))) {
      t.ok(seen.has(`${method} ${path} ${status}`), `${method} ${path} answered ${status}`)
    }
  }
  const errors = [...seen].filter((entry) => Number(entry.split(' ')[2]) >= 400)
  t.ok(errors.length >= 15, `errors were checked too (${errors.length})`)
})
