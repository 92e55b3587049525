// The switch on a Unix socket, alone or beside TCP, as the xapi-project switch listens: the same protocols over
// it, its permissions, a stale socket file replaced, a live one refused, and a graceful stop.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { NotASocketError, SocketInUseError, startSwitch } from '../../../server/index.js'
import { ok, tcpTarget } from './raw-http.js'
import { loggedIn, start, xapiRpc } from './scenarios.js'

function socketPath (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switch-socket-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return join(dir, 'sock')
}

function mode (path: string): number {
  return statSync(path).mode & 0o777
}

/** Leaves a socket file nobody listens on, as a switch killed with SIGKILL does. */
async function staleSocket (path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e',
    `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`
  ], { stdio: 'ignore' })
  await once(child, 'exit')
}

t.test('alone on a socket: the xapi RPC pattern, permissions 0600 by default', async (t) => {
  const path = socketPath(t)
  const running = await start(t, { listenTcp: false, socketPath: path })
  t.equal(running.socketPath, path)
  t.equal(running.url, 'http://localhost')
  t.ok(statSync(path).isSocket())
  t.equal(mode(path), 0o600)
  await xapiRpc(t, { path })
})

t.test('beside TCP: one switch behind both, our API included; the socket mode as asked', async (t) => {
  const path = socketPath(t)
  const running = await start(t, { socketPath: path, socketMode: 0o660 })
  t.equal(mode(path), 0o660)
  const overTcp = await loggedIn(t, tcpTarget(running), 'both:1')
  const overSocket = await loggedIn(t, { path }, 'both:1')
  t.equal(await ok(overTcp, 'GET', '/persistent/shared'), 'shared')
  t.equal(await ok(overTcp, 'POST', '/request/shared/r', 'hi'), '[["shared",1]]')
  t.equal(await ok(overSocket, 'POST', '/transfer', '{"timeout":0.0,"queues":["shared"]}'),
    '{"messages":[[["shared",1],{"payload":"hi","kind":["Request","r"]}]],"next":"1"}')

  const agent = new Agent({ connect: { socketPath: path } })
  t.teardown(async () => { await agent.close() })
  const health = await request('http://localhost/v1/health', { dispatcher: agent })
  t.equal(health.statusCode, 200)
  t.match(await health.body.json(), { status: 'ok' })
})

t.test('a stale socket file (its switch crashed) is replaced', async (t) => {
  const path = socketPath(t)
  await staleSocket(path)
  t.ok(statSync(path).isSocket(), 'the killed process left its socket file')
  const running = await start(t, { listenTcp: false, socketPath: path })
  const c = await loggedIn(t, { path }, 'after-crash:1')
  t.equal(await ok(c, 'GET', '/persistent/q'), 'q')
  t.equal(mode(path), 0o600)
  t.ok(running)
})

t.test('a live socket (another switch answers) is refused with a clear error', async (t) => {
  const path = socketPath(t)
  const first = await start(t, { listenTcp: false, socketPath: path })
  await t.rejects(startSwitch({ port: 0, socketPath: path }), SocketInUseError)
  await t.rejects(startSwitch({ listenTcp: false, socketPath: path }), { code: 'socket_in_use', message: /another switch is listening/ })
  const c = await loggedIn(t, { path }, 'first:1')
  t.equal(await ok(c, 'GET', '/persistent/still-mine'), 'still-mine', 'the first switch is untouched')
  t.ok(first)
})

t.test('a path that is not a socket is left alone', async (t) => {
  const path = socketPath(t)
  writeFileSync(path, 'precious')
  await t.rejects(startSwitch({ listenTcp: false, socketPath: path }), NotASocketError)
  t.equal(readFileSync(path, 'utf8'), 'precious')
})

t.test('a switch needs somewhere to listen', async (t) => {
  await t.rejects(startSwitch({ listenTcp: false }), TypeError)
})

for (const listenTcp of [false, true]) {
  t.test(`stop ${listenTcp ? 'beside TCP' : 'alone on a socket'}: long-polls answered, connections closed, socket removed`, async (t) => {
    const path = socketPath(t)
    const running = await startSwitch({ port: 0, listenTcp, socketPath: path })
    const idle = await loggedIn(t, { path }, 'stopper:1')
    const polling = await loggedIn(t, { path }, 'stopper:1')
    await ok(idle, 'GET', '/persistent/q')
    polling.send('POST', '/transfer', '{"from":"-1","timeout":30.0,"queues":["q"]}')
    // The queue counts as alive once the long-poll has started.
    while (await ok(idle, 'GET', '/list/alive/') !== '["q"]');
    await running.stop()
    t.equal((await polling.response()).body, '{"messages":[],"next":"-1"}')
    await idle.closed
    await polling.closed
    t.notOk(existsSync(path), 'the socket file goes with the switch')
  })
}
