// The original protocols on a switch with an auth file, started as users start it: over the Unix socket its
// file permissions decide (every permission, as before); over TCP they act as the principal the file names for
// them (`originalProtocols: { principal: NAME }`), or are refused in their own plain-text style.
import { appendFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Diagnostics } from '../../../protocol/wire.js'
import { run, startSwitch } from '../../cli/spawn.js'
import { ok, RawConnection } from './raw-http.js'
import { loggedIn } from './scenarios.js'

t.test('the original protocols with an auth file', async (t) => {
  // Not t.testdir(): a socket path must stay under ~100 characters.
  const dir = await mkdtemp(join(tmpdir(), 'switch-compat-auth-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'auth.yaml')
  const socket = join(dir, 'sock')
  const add = async (args: string[]): Promise<string> => {
    const result = await run(t, ['auth', 'add', ...args, '--file', file])
    if (result.code !== 0) throw new Error(result.stderr)
    return result.stdout.trim()
  }
  await add(['legacy', '--action', 'send', '--action', 'receive', '--action', 'manage', '--queue', 'svc-*'])
  const opsKey = await add(['ops', '--api-key', '--action', 'observe'])
  const { url, server } = await startSwitch(t, ['--auth-file', file, '--socket', socket])
  const tcp = { port: Number(new URL(url).port) }

  await t.test('without originalProtocols in the file, TCP is refused, as plain text; the socket may do anything', async (t) => {
    const refused = await (await RawConnection.open(t, tcp)).request('GET', '/login/refused:1')
    t.equal(refused.status, 401)
    t.match(refused.body, /^this switch has an auth file and names no principal for the original protocols over TCP/)
    t.equal(refused.headers['content-type'], undefined, 'a body as these clients print it')
    const diagnostics = await (await RawConnection.open(t, tcp)).request('GET', '/')
    t.equal(diagnostics.status, 401, `no diagnostics either: ${diagnostics.body}`)

    const local = await loggedIn(t, { path: socket }, 'local:1')
    t.equal(await ok(local, 'GET', '/persistent/anything'), 'anything', 'beyond any principal\'s permissions')
    t.match(await ok(local, 'GET', '/'), /"permanent_queues"/)
  })

  await appendFile(file, 'originalProtocols:\n  principal: legacy\n')
  server.child.kill('SIGHUP')
  await server.line(/auth file .* reloaded: 2 principals$/, 'stderr')

  await t.test('with it, TCP acts as that principal: what it may do is done, the rest refused', async (t) => {
    const c = await loggedIn(t, tcp, 'tcp-client:42')
    t.equal(await ok(c, 'GET', '/persistent/svc-a'), 'svc-a', 'manage on svc-*')
    t.match(await ok(c, 'POST', '/request/svc-a/tcp-client.reply', 'ping'), /svc-a/, 'send on svc-*')

    const create = await c.request('GET', '/persistent/other')
    t.equal(create.status, 403)
    t.equal(create.body, 'principal legacy may not manage on queue "other"')
    t.equal((await c.request('POST', '/request/other/tcp-client.reply', 'ping')).status, 403, 'no send beyond svc-*')
    t.equal((await c.request('GET', '/')).status, 403, 'no observe: no diagnostics')
    t.equal((await c.request('POST', '/shutdown')).status, 403, 'no admin: no shutdown')
    t.equal((await fetch(`${url}/v1/health`)).status, 200, 'the switch runs on')
  })

  await t.test('an original token is no /v1 bearer token, and /v1 diagnostics show none', async (t) => {
    const token = 'secret-client:4242'
    const c = await loggedIn(t, tcp, token)
    t.equal(await ok(c, 'GET', '/transient/svc-reply'), 'svc-reply')
    t.match(await ok(c, 'POST', '/request/svc-a/svc-reply', 'held'), /svc-a/, 'a message whose origin is the token')
    const bearer = await fetch(`${url}/v1/session`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(bearer.status, 401)
    t.match(await bearer.json(), { error: { code: 'session_not_found' } })

    const login = await fetch(`${url}/v1/sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client: 'ops', apiKey: opsKey })
    })
    const { token: opsToken } = await login.json() as { token: string }
    const answer = await fetch(`${url}/v1/diagnostics`, { headers: { authorization: `Bearer ${opsToken}` } })
    t.equal(answer.status, 200)
    const text = await answer.text()
    t.match(text, /"preview":"held"/)
    t.notOk(text.includes(token), 'not the original token')
    t.notOk(text.includes(opsToken), 'not the /v1 token')
    const diagnostics = JSON.parse(text) as Diagnostics
    t.match(diagnostics.sessions, Array(diagnostics.sessions.length).fill({ id: /^[0-9a-f]{8}$/ }))
    t.match(diagnostics.sessions.find((session) => session.principal === 'legacy' && session.queues.includes('svc-reply')),
      { client: /^original protocol client [0-9a-f]{8}$/ })
  })
})
