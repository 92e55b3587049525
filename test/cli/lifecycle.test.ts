// Starting and stopping the switch and services, and how failures look.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
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
  t.same(await server.result, { code: 0, signal: null, stdout: `switch listening on ${url}\nswitch stopped\n`, stderr: '' }, 'one line at start, one at the end, no log line')
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
  // Whether a client knocked before the switch was up depends on the machine's speed; if it did, it said so.
  const waited = /^(switch: cannot reach [^\n]+; retrying\nswitch: connected to [^\n]+\n)?$/
  t.match(await call.result, { code: 0, signal: null, stdout: 'early bird\n', stderr: waited })
  service.child.kill('SIGTERM')
  t.match(await service.result, { code: 0, signal: null, stdout: /^serving late\nrequest \d+: exit 0 in \S+\nstopped serving late\n$/, stderr: waited }, 'stopped while connected: exit 0')
})

t.test('failures: one line on stderr, non-zero exit, no stack trace; a usage error exits 2', async (t) => {
  const closed = socketPath(t)
  const USAGE = 2
  const FAILED = 1
  const cases: Array<[string[], number]> = [
    [['list', '--bogus'], USAGE],
    [['call', 'foo'], USAGE],
    [['call', 'foo', '--body', 'x', '--file', 'y'], USAGE],
    [['call'], USAGE],
    [['ack', 'abc'], USAGE],
    [['ack', '0'], USAGE],
    [['serve', '--port', 'abc'], USAGE],
    [['serve', '--log-level', 'loud'], USAGE],
    [['serve', 'foo'], USAGE],
    [['serve', '--program', 'cat'], USAGE],
    [['serve', '--socket-mode', '999'], USAGE],
    [['serve', '--no-tcp'], USAGE],
    [['subscribe'], USAGE],
    [['call', 'foo', '--body', 'x', '--timeout', 'soon'], USAGE],
    [['no-such-command'], USAGE],
    [['call', 'foo', '--file', '/nonexistent/payload'], FAILED],
    [['list', '--socket', closed], FAILED],
    [['serve', '--port', '0', '--redis', `redis+unix://${closed}`], FAILED]
  ]
  // Node's own recursive mkdir loops for ever under /proc, where every new name fails with ENOENT.
  if (existsSync('/proc/self')) cases.push([['serve', '--port', '0', '--data-dir', '/proc/nope/switch'], FAILED])
  const results = await Promise.all(cases.map(async ([args]) => await run(t, args)))
  cases.forEach(([args, expected], i) => {
    const { code, stdout, stderr } = results[i]
    t.equal(code, expected, `${args.join(' ')}: exit ${expected}`)
    t.equal(stdout, '', `${args.join(' ')}: nothing on stdout`)
    t.match(stderr, ONE_ERROR_LINE, `${args.join(' ')}: one line: ${stderr}`)
    t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  })
  const stderrOf = (...args: string[]): string | undefined => results[cases.findIndex(([given]) => given.join(' ') === args.join(' '))]?.stderr
  t.match(stderrOf('list', '--socket', closed), /unavailable/)
  t.equal(stderrOf('ack', 'abc'), 'switch: Expected an integer but received: abc (see --help)\n')
  t.match(stderrOf('serve', '--port', '0', '--redis', `redis+unix://${closed}`), /^switch: cannot reach Redis at redis\+unix:\/\/\S+: /)
  if (existsSync('/proc/self')) {
    t.equal(stderrOf('serve', '--port', '0', '--data-dir', '/proc/nope/switch'),
      "switch: cannot use data directory /proc/nope/switch: ENOENT: no such file or directory, mkdir '/proc/nope'\n")
  }
})
