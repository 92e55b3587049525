// Commands that wait on the switch say when they cannot reach it, and how they end tells whether they did.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { run, start, startSwitch, waitForEvent } from './spawn.js'

t.test('subscribe and serve QUEUE against nothing: one notice, no more; SIGINT exits 1', async (t) => {
  // Port 1 (tcpmux) is reserved and nothing serves it here: a refused connection, with no port to race for.
  const url = 'http://127.0.0.1:1'
  const notice = `switch: cannot reach ${url}: connection refused; retrying`
  const commands = [['subscribe', 'a/#'], ['serve', 'foo', '--program', 'cat']]
  const clis = commands.map((args) => start(t, [...args, '--url', url]))
  for (const cli of clis) await cli.line(/^switch: cannot reach /, 'stderr')
  // Meanwhile they retry: a one-shot command gives up after its 2 s of retries (backoff from 50 ms to 1 s).
  t.match(await run(t, ['list', '--url', url]), { code: 1, stderr: /unavailable/ })
  clis.forEach((cli) => cli.child.kill('SIGINT'))
  for (const [i, cli] of clis.entries()) {
    t.same(await cli.result, {
      code: 1,
      signal: null,
      stdout: '',
      stderr: `${notice}\nswitch: stopped: the switch at ${url} is unreachable (connection refused)\n`
    }, `${commands[i][0]}: told once, however many retries`)
  }
})

t.test('over a socket not there yet: told, then connected; SIGINT after working exits 0', async (t) => {
  // Not t.testdir(): a socket path must stay under ~100 characters.
  const dir = await mkdtemp(join(tmpdir(), 'switch-reach-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const socket = join(dir, 'switch.sock')
  const subscriber = start(t, ['subscribe', 'a/#', '--socket', socket])
  const service = start(t, ['serve', 'echo', '--program', 'cat', '--socket', socket])
  for (const cli of [subscriber, service]) await cli.line(/^switch: cannot reach /, 'stderr')

  const server = start(t, ['serve', '--no-tcp', '--socket', socket, '--log-level', 'warn'])
  await server.line(/^switch listening on /)
  for (const cli of [subscriber, service]) await cli.line(/^switch: connected to /, 'stderr')
  const call = start(t, ['call', 'echo', '--body', 'ping', '--socket', socket])
  t.same(await call.result, { code: 0, signal: null, stdout: 'ping\n', stderr: '' })

  for (const cli of [subscriber, service]) cli.child.kill('SIGINT')
  const told = `switch: cannot reach ${socket}: no socket there; retrying\nswitch: connected to ${socket}\n`
  t.same(await subscriber.result, { code: 0, signal: null, stdout: '', stderr: told })
  t.match(await service.result, { code: 0, signal: null, stdout: /^serving echo\nrequest \d+: exit 0 in \S+\nstopped serving echo\n$/, stderr: told })
})

t.test('call while the switch shuts down: told at once, and the error names the switch, not the service', async (t) => {
  const { url } = await startSwitch(t)
  const call = start(t, ['call', 'bar', '--body', 'anyone?', '--timeout', '10', '--url', url])
  await waitForEvent(url, (event) => event.type === 'send' && event.queue === 'bar')
  const shutdown = start(t, ['shutdown', '--url', url])
  t.match(await shutdown.result, { code: 0 })
  // The notice comes while the call still waits: before its timeout, not with it.
  await call.line(new RegExp(`^switch: cannot reach ${url}: .*; retrying$`), 'stderr')
  t.equal(call.child.exitCode, null, 'still waiting for the switch to come back')
  const { code, stdout, stderr } = await call.result
  t.equal(code, 1)
  t.equal(stdout, '')
  t.match(stderr, new RegExp(`\nswitch: no reply from bar within 10 s: the switch at ${url} is unreachable \\(.+\\)\n$`))
})

t.test('several switches: call --url DEAD --url LIVE moves on to the live one; $SWITCH_URL takes a list too', async (t) => {
  // Port 1 (tcpmux) is reserved and nothing serves it here: refused, with no port to race for.
  const dead = 'http://127.0.0.1:1'
  const { url: live } = await startSwitch(t)
  start(t, ['serve', 'upper', '--program', 'tr a-z A-Z', '--url', live])
  const call = await run(t, ['call', 'upper', '--body', 'hello', '--url', dead, '--url', live])
  t.same(call, {
    code: 0,
    signal: null,
    stdout: 'HELLO\n',
    stderr: `switch: cannot reach ${dead}: connection refused; retrying\nswitch: connected to ${live}\n`
  })
  // After the call, which made sure its queue is there.
  const list = await run(t, ['list'], { env: { SWITCH_URL: `${dead},${live}` } })
  t.same(list, { code: 0, signal: null, stdout: 'upper\n', stderr: '' })
})
