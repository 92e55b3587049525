// The authorization matrix: every operation openapi.yaml documents, on `switch serve --auth-file`, as anonymous,
// as another principal, as its owner (a principal with exactly the permission it needs) and as admin (all of them).
// The table below says how to call each operation; an operation it does not know fails the test, so a new route
// cannot go unchecked.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Action } from '../../../server/auth/access.js'
import { hashSecret } from '../../../server/auth/secrets.js'
import type { BatchSendResponse, CreateQueueResponse, ErrorBody, LoginResponse, SendResponse } from '../../../protocol/wire.js'
import { startSwitch, type Teardown } from '../../cli/spawn.js'
import { operations } from '../../openapi-document.js'

type Role = 'anonymous' | 'other' | 'owner' | 'admin'
const ROLES: Role[] = ['anonymous', 'other', 'owner', 'admin']

/** The principals, each with exactly one permission (`owner` of the routes that need it), `other` and `admin`. */
const OWNERS: Record<Action, string> = { send: 'sender', receive: 'receiver', manage: 'manager', publish: 'publisher', observe: 'observer', admin: 'shutter' }
const GRANTS: Record<string, unknown[]> = {
  sender: [{ actions: ['send'], queues: ['m-*'] }],
  receiver: [{ actions: ['receive'], queues: ['m-*'] }],
  // A binding needs manage on the queue and receive on the filter.
  manager: [{ actions: ['manage'], queues: ['m-*'] }, { actions: ['receive'], topics: ['m/#'] }],
  publisher: [{ actions: ['publish'], topics: ['m/#'] }],
  observer: [{ actions: ['observe'] }],
  shutter: [{ actions: ['admin'] }],
  // Everything, on other queues and topics, and nothing of the switch's.
  other: [{ actions: ['send', 'receive', 'manage'], queues: ['x-*'] }, { actions: ['publish', 'receive'], topics: ['x/#'] }],
  admin: [{ actions: ['send', 'receive', 'manage', 'publish'], queues: ['*'], topics: ['#'] }, { actions: ['observe', 'admin'] }]
}
const secretOf = (principal: string): string => `${principal}-secret`

interface Request { path: string, body?: string | object, headers?: Record<string, string> }
interface Answer { status: number, body: unknown }

/** What a row's request may use: the switch, admin's token to set the scene, and fresh names. */
interface Scene {
  url: string
  admin: string
  credentials: (role: Role) => Record<string, string>
  fresh: (prefix: string) => string
}

interface Row {
  /** `open`: anyone; `session`: any principal's session; an action: its owner (see OWNERS) and admin only. */
  needs: 'open' | 'session' | Action
  /** The request, made again for each role (so that what one role's call consumes does not spoil the next). */
  request: (scene: Scene, role: Role) => Request | Promise<Request>
  /** Each role calls with a session of its own, made for this call (a logout ends it). */
  ownSession?: boolean
  /** A batch: the route needs only a session, and each item its action; a refused item is its `forbidden` result. */
  itemised?: boolean
  /** The answer is an event stream: only its status is read. */
  stream?: boolean
  /** It stops the switch: the owner calls on a switch of its own, admin last. */
  terminal?: boolean
}

async function call (url: string, method: string, token: string | undefined, request: Request, stream = false): Promise<Answer> {
  const headers: Record<string, string> = { ...request.headers }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let body: string | undefined
  if (typeof request.body === 'string') {
    body = request.body
  } else if (request.body !== undefined) {
    body = JSON.stringify(request.body)
    headers['content-type'] = 'application/json'
  }
  const aborter = new AbortController()
  const response = await fetch(`${url}${request.path}`, { method, headers, body, signal: aborter.signal })
  if (stream && response.ok) {
    aborter.abort()
    return { status: response.status, body: undefined }
  }
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
}

async function ok<T> (answer: Promise<Answer>): Promise<T> {
  const { status, body } = await answer
  if (status >= 300) throw new Error(`setting the scene failed: ${status} ${JSON.stringify(body)}`)
  return body as T
}

/** A message in m-jobs, sent by admin, for a role to ack. */
async function message (scene: Scene): Promise<number> {
  return (await ok<SendResponse>(call(scene.url, 'POST', scene.admin, { path: '/v1/queues/m-jobs/messages', body: 'work' }))).id
}

const TABLE: Record<string, Row> = {
  'POST /v1/sessions': { needs: 'open', request: (scene, role) => ({ path: '/v1/sessions', body: { client: 'matrix', ...scene.credentials(role) } }) },
  'GET /v1/session': { needs: 'session', request: () => ({ path: '/v1/session' }) },
  'DELETE /v1/session': { needs: 'session', ownSession: true, request: () => ({ path: '/v1/session' }) },
  'GET /v1/queues': { needs: 'observe', request: () => ({ path: '/v1/queues' }) },
  'POST /v1/queues': { needs: 'session', request: () => ({ path: '/v1/queues' }) },
  'GET /v1/queues/{name}': { needs: 'observe', request: () => ({ path: '/v1/queues/m-jobs' }) },
  'PUT /v1/queues/{name}': { needs: 'manage', request: (scene) => ({ path: `/v1/queues/${scene.fresh('m-new')}` }) },
  'DELETE /v1/queues/{name}': {
    needs: 'manage',
    request: async (scene) => {
      const name = scene.fresh('m-gone')
      await ok(call(scene.url, 'PUT', scene.admin, { path: `/v1/queues/${name}` }))
      return { path: `/v1/queues/${name}` }
    }
  },
  'POST /v1/queues/{name}/messages': { needs: 'send', request: () => ({ path: '/v1/queues/m-jobs/messages', body: 'hello' }) },
  'POST /v1/topics/{topic}/messages': { needs: 'publish', request: () => ({ path: '/v1/topics/m%2Fstatus/messages', body: 'up' }) },
  'GET /v1/queues/{name}/bindings': { needs: 'observe', request: () => ({ path: '/v1/queues/m-jobs/bindings' }) },
  'PUT /v1/queues/{name}/bindings/{filter}': { needs: 'manage', request: () => ({ path: '/v1/queues/m-jobs/bindings/m%2F%23' }) },
  'DELETE /v1/queues/{name}/bindings/{filter}': { needs: 'manage', request: () => ({ path: '/v1/queues/m-jobs/bindings/m%2F%2B' }) },
  'POST /v1/messages': { needs: 'send', itemised: true, request: () => ({ path: '/v1/messages', body: { messages: [{ queue: 'm-jobs', payload: 'batched' }] } }) },
  'POST /v1/acks': { needs: 'receive', request: async (scene) => ({ path: '/v1/acks', body: { ids: [await message(scene)] } }) },
  // Moving dead letters manages both queues (m-back is not there: the answer is about it, not about who asks).
  'POST /v1/queues/{name}/redrive': { needs: 'manage', request: () => ({ path: '/v1/queues/m-jobs/redrive?to=m-back' }) },
  // A lease is the receiver's (m-jobs is a cursor queue: not leased, which is about the message, not who asks).
  'POST /v1/messages/{id}/lease': { needs: 'receive', request: async (scene) => ({ path: `/v1/messages/${await message(scene)}/lease?seconds=1` }) },
  'DELETE /v1/messages/{id}': { needs: 'receive', request: async (scene) => ({ path: `/v1/messages/${await message(scene)}` }) },
  'PUT /v1/session/subscriptions/{name}': { needs: 'receive', request: () => ({ path: '/v1/session/subscriptions/m-jobs' }) },
  'DELETE /v1/session/subscriptions/{name}': { needs: 'session', request: () => ({ path: '/v1/session/subscriptions/m-jobs' }) },
  // Transfers and the stream read only the session's own subscriptions, each allowed when it was made (and checked
  // again at every call, for a reload): a session without any has nothing to be refused.
  'GET /v1/transfer': { needs: 'session', request: () => ({ path: '/v1/transfer?timeout=0' }) },
  'GET /v1/stream': { needs: 'session', stream: true, request: () => ({ path: '/v1/stream' }) },
  // The delivery stream names its queue: receive on it is what it needs.
  'GET /v1/deliveries': { needs: 'receive', stream: true, request: () => ({ path: '/v1/deliveries?queue=m-jobs&credit=1' }) },
  // Without an upgrade it is a 400 after the session check; what a socket's frames need is each one's own (socket.test).
  'GET /v1/socket': { needs: 'session', request: () => ({ path: '/v1/socket' }) },
  'POST /v1/stream/tickets': { needs: 'session', request: () => ({ path: '/v1/stream/tickets' }) },
  'GET /v1/trace': { needs: 'observe', request: () => ({ path: '/v1/trace?timeout=0' }) },
  'GET /v1/diagnostics': { needs: 'observe', request: () => ({ path: '/v1/diagnostics' }) },
  'GET /v1/health': { needs: 'open', request: () => ({ path: '/v1/health' }) },
  'POST /v1/shutdown': { needs: 'admin', terminal: true, request: () => ({ path: '/v1/shutdown' }) }
}

async function authFile (t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switch-matrix-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const principals = await Promise.all(Object.entries(GRANTS).map(async ([name, permissions]) => ({ name, secret: await hashSecret(secretOf(name)), permissions })))
  const file = join(dir, 'auth.json')
  await writeFile(file, JSON.stringify({ principals }))
  return file
}

async function login (url: string, principal: string): Promise<string> {
  return (await ok<LoginResponse>(call(url, 'POST', undefined, { path: '/v1/sessions', body: { client: principal, principal, secret: secretOf(principal) } }))).token
}

const codeOf = (answer: Answer): string | undefined => (answer.body as ErrorBody | undefined)?.error?.code

/** A switch with the auth file, admin's session and the scene every row starts from (the queue m-jobs). */
async function scene (t: Teardown, file: string): Promise<Scene> {
  const { url } = await startSwitch(t, ['--auth-file', file])
  const admin = await login(url, 'admin')
  await ok(call(url, 'PUT', admin, { path: '/v1/queues/m-jobs' }))
  let count = 0
  return {
    url,
    admin,
    credentials: (role): Record<string, string> => role === 'anonymous' ? {} : { principal: principalOf(role, 'open'), secret: secretOf(principalOf(role, 'open')) },
    fresh: (prefix) => `${prefix}-${++count}`
  }
}

function principalOf (role: Exclude<Role, 'anonymous'> | Role, needs: Row['needs']): string {
  if (role === 'other' || role === 'admin') return role
  // A route any session may use is owned by any principal: the one that only sends will do.
  return needs === 'open' || needs === 'session' ? OWNERS.send : OWNERS[needs]
}

t.test('every documented operation, as anonymous, another principal, its owner and admin', async (t) => {
  const documented = operations().filter(({ path }) => path.startsWith('/v1/'))
  const unknown = documented.map(({ method, path }) => `${method} ${path}`).filter((key) => TABLE[key] === undefined)
  t.same(unknown, [], 'every operation of openapi.yaml has a row in the matrix (add one for a new route)')
  const stale = Object.keys(TABLE).filter((key) => !documented.some(({ method, path }) => `${method} ${path}` === key))
  t.same(stale, [], 'every row of the matrix is a documented operation')

  const file = await authFile(t)
  const main = await scene(t, file)
  const tokens = new Map<string, string>()
  const tokenOf = async (s: Scene, principal: string, own: boolean): Promise<string> => {
    if (own) return await login(s.url, principal)
    const key = `${s.url} ${principal}`
    const token = tokens.get(key) ?? await login(s.url, principal)
    tokens.set(key, token)
    return token
  }

  const expect = (t: Test, label: string, row: Row, role: Role, answer: Answer, documented: string[]): void => {
    const detail = `${label}: ${answer.status} ${JSON.stringify(answer.body) ?? ''}`
    t.ok(documented.includes(String(answer.status)), `${detail}: the status is documented`)
    const anonymousRefused = role === 'anonymous' && (row.needs !== 'open' || label.startsWith('POST /v1/sessions'))
    if (anonymousRefused) {
      t.equal(answer.status, 401, `${detail}: anonymous is refused 401`)
    } else if (role === 'other' && row.needs !== 'open' && row.needs !== 'session' && row.itemised !== true) {
      t.equal(answer.status, 403, `${detail}: another principal is refused 403`)
      t.equal(codeOf(answer), 'forbidden', `${detail}: forbidden`)
    } else {
      // Success, or an answer about the thing itself (a queue that is not there), never about who asks.
      t.ok(answer.status < 300 || (answer.status !== 401 && answer.status !== 403 && answer.status < 500), `${detail}: allowed`)
      if (row.itemised === true) {
        const [result] = (answer.body as BatchSendResponse).results
        const refused = 'error' in result && result.error.code === 'forbidden'
        t.equal(refused, role === 'other', `${detail}: the item is ${role === 'other' ? '' : 'not '}refused`)
      }
    }
  }

  const run = async (s: Scene, key: string, row: Row, role: Role, documented: string[]): Promise<void> => {
    const [method] = key.split(' ')
    const token = role === 'anonymous' || row.needs === 'open' ? undefined : await tokenOf(s, principalOf(role, row.needs), row.ownSession === true)
    const answer = await call(s.url, method, token, await row.request(s, role), row.stream)
    expect(t, `${key} as ${role}`, row, role, answer, documented)
  }

  const terminal: Array<[string, Row, string[]]> = []
  for (const { method, path, operation } of documented) {
    const key = `${method} ${path}`
    const row = TABLE[key]
    if (row === undefined) continue
    const statuses = Object.keys(operation.responses)
    if (row.terminal === true) {
      terminal.push([key, row, statuses])
      continue
    }
    for (const role of ROLES) await run(main, key, row, role, statuses)
  }
  for (const [key, row, statuses] of terminal) {
    // The owner stops a switch of its own; anonymous and the other principal are refused on it first.
    const own = await scene(t, file)
    for (const role of ['anonymous', 'other', 'owner'] as const) await run(own, key, row, role, statuses)
  }
  for (const [key, row, statuses] of terminal) await run(main, key, row, 'admin', statuses)
})

t.test("a session's temporary queue is its own, even against admin", async (t) => {
  const s = await scene(t, await authFile(t))
  const owner = await login(s.url, 'other')
  const temporary = (await ok<CreateQueueResponse>(call(s.url, 'POST', owner, { path: '/v1/queues' }))).name
  // Another session of the same principal is not the owner either. Each of them may receive on the filter bound.
  const others = { admin: s.admin, 'the same principal': await login(s.url, 'other') }
  const inTemporary = async (): Promise<number> =>
    (await ok<SendResponse>(call(s.url, 'POST', s.admin, { path: `/v1/queues/${temporary}/messages`, body: 'reply' }))).id

  const attempts: Array<[string, string, () => Promise<Request>]> = [
    ['subscribe', 'PUT', async () => ({ path: `/v1/session/subscriptions/${temporary}` })],
    ['bind', 'PUT', async () => ({ path: `/v1/queues/${temporary}/bindings/x%2F%23` })],
    ['unbind', 'DELETE', async () => ({ path: `/v1/queues/${temporary}/bindings/x%2F%23` })],
    ['ack', 'DELETE', async () => ({ path: `/v1/messages/${await inTemporary()}` })],
    ['ack in a batch', 'POST', async () => ({ path: '/v1/acks', body: { ids: [await inTemporary()] } })],
    ['ack by a send', 'POST', async () => ({ path: `/v1/queues/${temporary}/messages?ack=${await inTemporary()}`, body: 'x' })],
    ['receive by a delivery stream', 'GET', async () => ({ path: `/v1/deliveries?queue=${temporary}` })],
    ['destroy', 'DELETE', async () => ({ path: `/v1/queues/${temporary}` })]
  ]
  for (const [who, token] of Object.entries(others)) {
    for (const [what, method, request] of attempts) {
      const answer = await call(s.url, method, token, await request())
      t.equal(answer.status, 403, `${who} may not ${what}: ${JSON.stringify(answer.body)}`)
      t.equal(codeOf(answer), 'forbidden', `${who} may not ${what}: forbidden`)
    }
  }
  // Anyone who may send a request may reply to its reply-to queue: the random name is the capability.
  const reply = await call(s.url, 'POST', await login(s.url, 'sender'), { path: `/v1/queues/${temporary}/messages`, body: 'a reply' })
  t.equal(reply.status, 201, 'any session may send to it (a reply)')

  // Its owner may do all of it.
  t.equal((await call(s.url, 'PUT', owner, { path: `/v1/session/subscriptions/${temporary}` })).status, 204, 'the owner subscribes')
  t.equal((await call(s.url, 'DELETE', owner, { path: `/v1/messages/${await inTemporary()}` })).status, 204, 'the owner acks')
  t.equal((await call(s.url, 'POST', owner, { path: '/v1/acks', body: { ids: [await inTemporary()] } })).status, 200, 'the owner acks in a batch')
  t.equal((await call(s.url, 'DELETE', owner, { path: `/v1/queues/${temporary}` })).status, 204, 'the owner destroys it')
})
