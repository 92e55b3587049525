// Principals, permissions and the temporary-queue rule, on the switch as users start it: `switch serve --auth-file`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SwitchClient } from '../../lib/index.js'
import type { Diagnostics, ErrorBody, LoginResponse } from '../../protocol/wire.js'
import { generateApiKey, hashApiKey, hashSecret } from '../../server/auth/secrets.js'
import { run, start, type Cli, type Teardown } from './spawn.js'

interface Answer { status: number, body: unknown, headers: Headers }

async function call (url: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'text/plain' : 'application/json'
  const response = await fetch(`${url}/v1${path}`, {
    method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers }
}

const codeOf = (answer: Answer): string | undefined => (answer.body as ErrorBody | undefined)?.error?.code

async function login (url: string, credentials: Record<string, string>): Promise<string> {
  const answer = await call(url, undefined, 'POST', '/sessions', { client: 'test', ...credentials })
  if (answer.status !== 201) throw new Error(`login failed: ${answer.status} ${JSON.stringify(answer.body)}`)
  return (answer.body as LoginResponse).token
}

async function tempDir (t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switch-auth-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function serve (t: Teardown, file: string): Promise<{ url: string, server: Cli }> {
  const server = start(t, ['serve', '--port', '0', '--log-level', 'warn', '--auth-file', file])
  const [, url] = await server.line(/^switch listening on (\S+)$/)
  return { url, server }
}

const SECRETS = { alice: 'alice-secret', bob: 'bob-secret', root: 'root-secret' }
const OPS_KEY = generateApiKey()

/** alice works on jobs-* and status/#, bob only sends and receives on jobs-*, ops observes and administers, root does all. */
async function authFile (bobGrants: unknown[] = [{ actions: ['send', 'receive'], queues: ['jobs-*'] }], withBob = true): Promise<string> {
  const principals = [
    {
      name: 'alice',
      secret: await hashSecret(SECRETS.alice),
      permissions: [
        { actions: ['send', 'receive', 'manage'], queues: ['jobs-*'] },
        { actions: ['publish', 'receive'], topics: ['status/#'] }
      ]
    },
    ...(withBob ? [{ name: 'bob', secret: await hashSecret(SECRETS.bob), permissions: bobGrants }] : []),
    { name: 'ops', apiKey: hashApiKey(OPS_KEY), permissions: [{ actions: ['observe', 'admin'] }] },
    { name: 'root', secret: await hashSecret(SECRETS.root), permissions: [{ actions: ['send', 'receive', 'manage', 'publish'], queues: ['*'], topics: ['#'] }] }
  ]
  return JSON.stringify({ principals })
}

t.test('a switch with an auth file', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'auth.json')
  await writeFile(file, await authFile())
  const { url, server } = await serve(t, file)
  const alice = await login(url, { principal: 'alice', secret: SECRETS.alice })
  const bob = await login(url, { principal: 'bob', secret: SECRETS.bob })
  const root = await login(url, { principal: 'root', secret: SECRETS.root })
  const ops = await login(url, { apiKey: OPS_KEY })
  for (const name of ['jobs-1', 'other']) t.equal((await call(url, root, 'PUT', `/queues/${name}`)).status, 201)

  t.test('login needs valid credentials', async (t) => {
    t.equal(codeOf(await call(url, undefined, 'POST', '/sessions', { client: 'x' })), 'unauthorized', 'none')
    const wrong = await call(url, undefined, 'POST', '/sessions', { client: 'x', principal: 'alice', secret: 'wrong' })
    t.equal(wrong.status, 401)
    t.equal(codeOf(wrong), 'unauthorized', 'a wrong secret')
    t.equal(codeOf(await call(url, undefined, 'POST', '/sessions', { client: 'x', principal: 'nobody', secret: 'x' })), 'unauthorized', 'an unknown principal')
    t.equal(codeOf(await call(url, undefined, 'POST', '/sessions', { client: 'x', apiKey: 'sk_nope' })), 'unauthorized', 'a wrong API key')
    t.equal(codeOf(await call(url, undefined, 'POST', '/sessions', { client: 'x', principal: 'alice', apiKey: OPS_KEY })), 'unauthorized', "another principal's API key")
    t.equal((await call(url, undefined, 'GET', '/health')).status, 200, 'health stays open')
    t.equal(codeOf(await call(url, undefined, 'GET', '/queues')), 'session_required', 'everything else needs a session')
    const diagnostics = (await call(url, ops, 'GET', '/diagnostics')).body as Diagnostics
    t.same(new Set(diagnostics.sessions.map((session) => session.principal)), new Set(['alice', 'bob', 'root', 'ops']), 'diagnostics name each session\'s principal')
  })

  t.test('send', async (t) => {
    t.equal((await call(url, alice, 'POST', '/queues/jobs-1/messages', 'work')).status, 201)
    const refused = await call(url, alice, 'POST', '/queues/other/messages', 'work')
    t.equal(refused.status, 403)
    t.match(refused.body, { error: { code: 'forbidden', message: 'principal alice may not send on queue "other"' } })
    const batch = await call(url, alice, 'POST', '/messages', { messages: [{ queue: 'jobs-1', payload: 'a' }, { queue: 'other', payload: 'b' }] })
    t.equal(batch.status, 200)
    t.match(batch.body, { results: [{ id: Number }, { error: { code: 'forbidden' } }] }, 'a batch checks each item')
  })

  t.test('receive and ack', async (t) => {
    t.equal((await call(url, bob, 'PUT', '/session/subscriptions/jobs-1')).status, 204)
    t.equal(codeOf(await call(url, bob, 'PUT', '/session/subscriptions/other')), 'forbidden')
    const { id } = (await call(url, root, 'POST', '/queues/other/messages', 'secret')).body as { id: number }
    t.equal(codeOf(await call(url, bob, 'DELETE', `/messages/${id}`)), 'forbidden', 'an ack only removes a message the session may receive')
    t.equal(codeOf(await call(url, bob, 'POST', '/acks', { ids: [id] })), 'forbidden', 'a batch ack too')
    t.equal(codeOf(await call(url, bob, 'POST', '/queues/jobs-1/messages?ack=' + String(id), 'reply')), 'forbidden', 'a reply acks only what it may receive')
    const mine = (await call(url, alice, 'POST', '/queues/jobs-1/messages', 'x')).body as { id: number }
    t.equal((await call(url, bob, 'DELETE', `/messages/${mine.id}`)).status, 204)
    t.equal((await call(url, root, 'DELETE', `/messages/${id}`)).status, 204)
  })

  t.test('manage', async (t) => {
    t.equal((await call(url, alice, 'PUT', '/queues/jobs-2')).status, 201)
    t.equal(codeOf(await call(url, alice, 'PUT', '/queues/mine')), 'forbidden')
    t.equal(codeOf(await call(url, bob, 'PUT', '/queues/jobs-3')), 'forbidden')
    t.equal(codeOf(await call(url, bob, 'DELETE', '/queues/jobs-2')), 'forbidden')
    t.equal(codeOf(await call(url, alice, 'DELETE', '/queues/other')), 'forbidden')
    t.equal((await call(url, alice, 'DELETE', '/queues/jobs-2')).status, 204)
  })

  t.test('publish and bind', async (t) => {
    t.equal((await call(url, alice, 'POST', '/topics/status%2Fa/messages', 'up')).status, 201)
    t.equal(codeOf(await call(url, alice, 'POST', '/topics/other%2Fa/messages', 'up')), 'forbidden')
    t.equal(codeOf(await call(url, bob, 'POST', '/topics/status%2Fa/messages', 'up')), 'forbidden')
    t.equal((await call(url, alice, 'PUT', '/queues/jobs-1/bindings/status%2F%23')).status, 201)
    t.equal(codeOf(await call(url, alice, 'PUT', '/queues/jobs-1/bindings/%23')), 'forbidden', 'binding needs receive on topics covering the filter')
    t.equal(codeOf(await call(url, alice, 'PUT', '/queues/other/bindings/status%2Fa')), 'forbidden', 'and manage on the queue')
    t.equal(codeOf(await call(url, bob, 'DELETE', '/queues/jobs-1/bindings/status%2F%23')), 'forbidden')
    t.equal((await call(url, alice, 'DELETE', '/queues/jobs-1/bindings/status%2F%23')).status, 204)
  })

  t.test('observe and admin', async (t) => {
    for (const path of ['/diagnostics', '/queues', '/queues/jobs-1', '/queues/jobs-1/bindings', '/trace?timeout=0']) {
      t.equal((await call(url, ops, 'GET', path)).status, 200, `ops: GET ${path}`)
      t.equal(codeOf(await call(url, alice, 'GET', path)), 'forbidden', `alice: GET ${path}`)
    }
    t.equal(codeOf(await call(url, alice, 'POST', '/shutdown')), 'forbidden')
    t.equal(codeOf(await call(url, undefined, 'POST', '/shutdown')), 'session_required')
  })

  t.test("a session's temporary queue is its own", async (t) => {
    const { name } = (await call(url, alice, 'POST', '/queues')).body as { name: string }
    const sent = (await call(url, alice, 'POST', `/queues/${name}/messages`, 'mine')).body as { id: number }
    t.equal(codeOf(await call(url, bob, 'PUT', `/session/subscriptions/${name}`)), 'forbidden', 'no subscribing')
    t.equal(codeOf(await call(url, root, 'PUT', `/session/subscriptions/${name}`)), 'forbidden', 'whatever the auth file allows')
    t.equal(codeOf(await call(url, bob, 'DELETE', `/messages/${sent.id}`)), 'forbidden', 'no acking')
    t.equal(codeOf(await call(url, root, 'PUT', `/queues/${name}/bindings/status%2F%23`)), 'forbidden', 'no binding')
    t.equal(codeOf(await call(url, root, 'DELETE', `/queues/${name}/bindings/status%2F%23`)), 'forbidden', 'no unbinding')
    t.equal(codeOf(await call(url, root, 'DELETE', `/queues/${name}`)), 'forbidden', 'no destroying')
    t.equal((await call(url, bob, 'POST', `/queues/${name}/messages?correlationId=c1`, 'a reply')).status, 201, 'but a reply may be sent to it')
    t.equal((await call(url, alice, 'PUT', `/session/subscriptions/${name}`)).status, 204, 'its owner receives')
    const { messages } = (await call(url, alice, 'GET', '/transfer')).body as { messages: Array<{ payload: string }> }
    t.same(messages.map((message) => message.payload), ['mine', 'a reply'])
    t.equal((await call(url, alice, 'PUT', `/queues/${name}/bindings/status%2F%23`)).status, 201, 'and binds it')
    t.equal((await call(url, alice, 'DELETE', `/queues/${name}`)).status, 204, 'and destroys it')
  })

  t.test('SIGHUP reloads the auth file without dropping sessions', async (t) => {
    t.equal(codeOf(await call(url, bob, 'POST', '/queues/other/messages', 'x')), 'forbidden')
    await writeFile(file, await authFile([{ actions: ['send'], queues: ['jobs-*', 'other'] }]))
    server.child.kill('SIGHUP')
    await server.line(/auth file .* reloaded: 4 principals$/, 'stderr')
    t.equal((await call(url, bob, 'POST', '/queues/other/messages', 'x')).status, 201, 'the same session, the new permissions')
    t.equal(codeOf(await call(url, bob, 'PUT', '/session/subscriptions/jobs-1')), 'forbidden', 'and without those taken away')
    t.equal(codeOf(await call(url, bob, 'GET', '/transfer')), 'forbidden', 'a subscription no longer allowed is refused')

    await writeFile(file, 'principals: [')
    server.child.kill('SIGHUP')
    await server.line(/keeping the principals loaded before/, 'stderr')
    t.equal((await call(url, bob, 'POST', '/queues/other/messages', 'x')).status, 201, 'a broken file changes nothing')

    await writeFile(file, await authFile([], false))
    server.child.kill('SIGHUP')
    await server.line(/auth file .* reloaded: 3 principals$/, 'stderr')
    t.equal(codeOf(await call(url, bob, 'GET', '/session')), 'unauthorized', 'a removed principal\'s session may do nothing')
    t.equal((await call(url, alice, 'GET', '/session')).status, 200, 'the others go on')
  })

  t.test('shutdown needs admin', async (t) => {
    const answer = await call(url, ops, 'POST', '/shutdown')
    t.equal(answer.status, 202)
    t.equal((await server.result).code, 0)
  })
})

t.test('failed logins are rate-limited per address', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'auth.json')
  await writeFile(file, await authFile())
  const { url } = await serve(t, file)
  for (let i = 0; i < 10; i++) {
    t.equal((await call(url, undefined, 'POST', '/sessions', { client: 'x', principal: 'alice', secret: `guess ${i}` })).status, 401)
  }
  const throttled = await call(url, undefined, 'POST', '/sessions', { client: 'x', principal: 'alice', secret: SECRETS.alice })
  t.equal(throttled.status, 429)
  t.equal(codeOf(throttled), 'too_many_logins', 'even with the right secret')
  t.ok(Number(throttled.headers.get('retry-after')) >= 1, 'Retry-After says how long')
})

t.test('switch auth add and auth hash make a file that works', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'auth.yaml')
  const added = await run(t, ['auth', 'add', 'carol', '--file', file, '--action', 'send', '--action', 'receive', '--action', 'manage', '--queue', 'jobs-*'])
  t.equal(added.code, 0, added.stderr)
  const secret = added.stdout.trim()
  const keyed = await run(t, ['auth', 'add', 'ops', '--api-key', '--file', file, '--action', 'observe', '--action', 'admin'])
  t.equal(keyed.code, 0, keyed.stderr)
  const apiKey = keyed.stdout.trim()
  t.match((await run(t, ['auth', 'add', 'ops', '--file', file])).stderr, /^switch: auth file .*: principal ops exists already\n$/)
  const hashed = await run(t, ['auth', 'hash'], { input: 'dave-secret\n' })
  t.match(hashed.stdout, /^scrypt\$\S+\n$/)
  const { appendFile } = await import('node:fs/promises')
  await appendFile(file, `  - name: dave\n    secret: "${hashed.stdout.trim()}"\n`)

  const { url } = await serve(t, file)
  await login(url, { principal: 'carol', secret })
  await login(url, { apiKey })
  await login(url, { principal: 'dave', secret: 'dave-secret' })

  t.test('the library logs in with them', async (t) => {
    const carol = new SwitchClient({ url, principal: 'carol', secret, retryFor: 0 })
    t.teardown(async () => { await carol.close() })
    await carol.createQueue('jobs-lib')
    t.match(await carol.send('jobs-lib', 'hi'), { id: Number })
    await t.rejects(carol.createQueue('other'), { code: 'forbidden' })
    // RPC: the reply goes to the caller's temporary queue (no permission needed), and acks the request (receive).
    const service = carol.serve('jobs-lib', async (request) => request.toString().toUpperCase())
    t.teardown(async () => { await service.stop() })
    const caller = new SwitchClient({ url, principal: 'carol', secret, retryFor: 0 })
    t.teardown(async () => { await caller.close() })
    t.equal((await caller.rpc('jobs-lib', 'hi', { timeout: 10 })).toString(), 'HI')
    await service.stop()
    const keyClient = new SwitchClient({ url, apiKey, retryFor: 0 })
    t.teardown(async () => { await keyClient.close() })
    t.match(await keyClient.diagnostics(), { sessions: Array })
    const wrong = new SwitchClient({ url, principal: 'carol', secret: 'wrong', retryFor: 0 })
    t.teardown(async () => { await wrong.close() })
    await t.rejects(wrong.send('jobs-lib', 'x'), { code: 'unauthorized' })
  })

  t.test('the CLI logs in with flags and the environment', async (t) => {
    const sent = await run(t, ['send', 'jobs-lib', '--body', 'from the cli', '--url', url, '--principal', 'carol', '--secret', secret])
    t.equal(sent.code, 0, sent.stderr)
    const fromEnv = await run(t, ['send', 'jobs-lib', '--body', 'x', '--url', url, '--principal', 'carol'], { env: { SWITCH_SECRET: secret } })
    t.equal(fromEnv.code, 0, fromEnv.stderr)
    const listed = await run(t, ['list', '--url', url], { env: { SWITCH_API_KEY: apiKey } })
    t.equal(listed.code, 0, listed.stderr)
    t.match(listed.stdout, /jobs-lib/)
    const refused = await run(t, ['send', 'jobs-lib', '--body', 'x', '--url', url, '--principal', 'carol', '--secret', 'wrong'])
    t.equal(refused.code, 1)
    t.match(refused.stderr, /^switch: .*invalid credentials.*\n$/)
  })
})
