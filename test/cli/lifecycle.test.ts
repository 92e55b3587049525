// Starting and stopping the switch and services, and how failures look.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { run, start, startSwitch } from './spawn.js'

const ONE_ERROR_LINE = /^switch: [^\n]+\n$/

/**
 * A Unix socket path in a directory of the test's own, where nothing listens until the test says so. (A TCP port
 * found free and bound later may be taken by anyone in between.)
 */
function socketPath (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switch-cli-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return join(dir, 'switch.sock')
}

t.test('serve: SIGTERM stops it with exit 0; a taken port is one error line', async (t) => {
  const { url, server } = await startSwitch(t)
  const port = new URL(url).port
  const taken = await run(t, ['serve', '--port', port])
  t.not(taken.code, 0)
  t.equal(taken.stdout, '')
  t.equal(taken.stderr, `switch: cannot listen on 127.0.0.1:${port}: address already in use\n`)

  server.child.kill('SIGTERM')
  t.same(await server.result, { code: 0, signal: null, stdout: `switch listening on ${url}\n`, stderr: '' })
})

t.test('shutdown ends the switch process with exit 0', async (t) => {
  const { url, server } = await startSwitch(t)
  t.same(await run(t, ['shutdown', '--url', url]), { code: 0, signal: null, stdout: '', stderr: '' })
  t.match(await server.result, { code: 0, signal: null, stderr: '' })
})

t.test('call and serve QUEUE wait for a switch that starts late; serve QUEUE stops on SIGTERM', async (t) => {
  const socket = socketPath(t)
  const call = start(t, ['call', 'late', '--body', 'early bird', '--socket', socket])
  const service = start(t, ['serve', 'late', '--program', 'cat', '--socket', socket])
  const { url: started } = await startSwitch(t, ['--socket', socket, '--no-tcp'])
  t.equal(started, socket, 'the switch came up where the clients wait, on its socket alone')
  t.same(await call.result, { code: 0, signal: null, stdout: 'early bird', stderr: '' })
  service.child.kill('SIGTERM')
  t.same(await service.result, { code: 0, signal: null, stdout: '', stderr: '' })
})

t.test('failures: one line on stderr, non-zero exit, no stack trace', async (t) => {
  const closed = socketPath(t)
  const cases = [
    ['list', '--bogus'],
    ['call', 'foo'],
    ['call', 'foo', '--body', 'x', '--file', 'y'],
    ['call'],
    ['ack', 'abc'],
    ['serve', '--port', 'abc'],
    ['serve', '--log-level', 'loud'],
    ['serve', 'foo'],
    ['call', 'foo', '--body', 'x', '--timeout', 'soon'],
    ['call', 'foo', '--file', '/nonexistent/payload'],
    ['list', '--socket', closed],
    ['no-such-command']
  ]
  const results = await Promise.all(cases.map(async (args) => await run(t, args)))
  cases.forEach((args, i) => {
    const { code, stdout, stderr } = results[i]
    t.not(code, 0, `${args.join(' ')}: non-zero exit`)
    t.equal(stdout, '', `${args.join(' ')}: nothing on stdout`)
    t.match(stderr, ONE_ERROR_LINE, `${args.join(' ')}: one line: ${stderr}`)
    t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  })
  t.match(results[cases.length - 2].stderr, /unavailable/)
})
