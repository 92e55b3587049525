// The client commands against one switch, each run as the real binary.
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { CreateQueueResponse, Diagnostics, QueueInfo } from '../../protocol/wire.js'
import { run, session, start, startSwitch } from './spawn.js'

const ONE_ERROR_LINE = /^switch: [^\n]+\n$/
const OK = { code: 0, signal: null, stderr: '' }

t.test('client commands', async (t) => {
  const { url } = await startSwitch(t)
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', url])
  const api = await session(url)

  t.test('call: timeout, error reply, stdin and raw output', async (t) => {
    await api('PUT', '/queues/silent')
    start(t, ['serve', 'fails', '--program', 'echo oops >&2; exit 3', '--url', url])
    start(t, ['serve', 'upper', '--program', 'tr a-z A-Z', '--url', url])
    const [timedOut, failed, upper] = await Promise.all([
      cli('call', 'silent', '--body', 'anyone?', '--timeout', '0.5'),
      cli('call', 'fails', '--body', 'x'),
      run(t, ['call', 'upper', '--file', '-', '--url', url], { input: 'hello\nworld\n' })
    ])
    t.same(timedOut, { code: 1, signal: null, stdout: '', stderr: 'switch: no reply from silent within 0.5 s\n' })
    t.equal(failed.code, 1)
    t.equal(failed.stdout, '')
    t.match(failed.stderr, /^switch: fails failed: .*exited with code 3: oops\n$/)
    t.same(upper, { ...OK, stdout: 'HELLO\nWORLD\n' }, 'the reply as received, newlines and all')
    // Whether the timed-out request got in depends on the machine's speed: start the next test from a clean slate.
    t.same(await cli('destroy', 'silent'), { ...OK, stdout: '' })
  })

  t.test('list, send, ack, destroy', async (t) => {
    await api('PUT', '/queues/nobody')
    const { name: temporary } = await api('POST', '/queues') as CreateQueueResponse

    const [listed, prefixed, all, first, second] = await Promise.all([
      cli('list'),
      cli('list', '--prefix', 'no'),
      cli('list', '--all'),
      cli('send', 'nobody', '--body', 'first'),
      cli('send', 'nobody', '--body', 'hi', '--correlation-id', 'c1', '--reply-to', temporary)
    ])
    t.same(listed, { ...OK, stdout: 'fails\nnobody\nupper\n' }, 'persistent queues only')
    t.equal(prefixed.stdout, 'nobody\n')
    t.equal(all.stdout, ['fails', 'nobody', temporary, 'upper'].sort().join('\n') + '\n', '--all adds temporary queues')
    for (const sent of [first, second]) t.match(sent, { ...OK, stdout: /^\d+\n$/ }, 'send prints the id')
    const id = Number(second.stdout)

    const [json, diagnostics] = await Promise.all([cli('list', '--json', '--prefix', 'nobody'), cli('diagnostics', '--json')])
    t.match(JSON.parse(json.stdout) as QueueInfo[], [{ name: 'nobody', kind: 'persistent', length: 2 }])
    const messages = (JSON.parse(diagnostics.stdout) as Diagnostics).queues.find((queue) => queue.name === 'nobody')?.messages
    t.match(messages?.find((message) => message.id === Number(first.stdout)), { preview: 'first' })
    t.match(messages?.find((message) => message.id === id), { preview: 'hi', correlationId: 'c1', replyTo: temporary, origin: /^switch-send:\d+$/ })

    const [acked, ackedAgain, missingQueue, missingDestroy] = await Promise.all([
      cli('ack', String(id)),
      cli('ack', String(id + 1000)),
      cli('send', 'missing', '--body', 'x'),
      cli('destroy', 'missing')
    ])
    t.same(acked, { ...OK, stdout: '' })
    for (const failed of [ackedAgain, missingQueue, missingDestroy]) {
      t.equal(failed.code, 1)
      t.match(failed.stderr, ONE_ERROR_LINE)
    }
    t.match(missingQueue.stderr, /missing/)
    const report = (await cli('diagnostics')).stdout
    t.notMatch(report, /"hi"/, 'the acked message is gone')
    t.match(report, /^ {2}nobody +never polled, 1 request waiting$/m)

    t.same(await cli('destroy', 'nobody'), { ...OK, stdout: '' })
    t.equal((await cli('list')).stdout, 'fails\nupper\n')
  })

  t.test('--socket and $SWITCH_URL say where the switch is', async (t) => {
    // The switch listens on TCP only: a Unix socket relaying to it stands in for one listening on a socket.
    // Not t.testdir(): a socket path must stay under ~100 characters.
    const dir = await mkdtemp(join(tmpdir(), 'switch-cli-'))
    t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
    const path = join(dir, 'switch.sock')
    const { port } = new URL(url)
    const relay = createServer((socket) => {
      const upstream = connect(Number(port), '127.0.0.1')
      // A CLI process ending mid-keep-alive resets its end; that is no failure of the test.
      for (const end of [socket, upstream]) end.on('error', () => { socket.destroy(); upstream.destroy() })
      socket.pipe(upstream).pipe(socket)
    }).listen(path)
    t.teardown(() => { relay.close() })
    await once(relay, 'listening')
    const [viaSocket, viaEnv] = await Promise.all([
      run(t, ['list', '--socket', path]),
      run(t, ['list'], { env: { SWITCH_URL: url } })
    ])
    t.same(viaSocket, { ...OK, stdout: 'fails\nupper\n' })
    t.same(viaEnv, { ...OK, stdout: 'fails\nupper\n' })
  })

  t.test('tail and tail --follow', async (t) => {
    const tail = await cli('tail')
    t.equal(tail.code, 0)
    const lines = tail.stdout.trimEnd().split('\n')
    t.match(lines, /\d{4}-\d\d-\d\dT[\d:.]+Z send {8}switch-call:\d+ upper #\d+/, 'a send')
    t.match(lines, /\d{4}-\d\d-\d\dT[\d:.]+Z ack {9}switch-serve:\d+ upper #\d+ .*took \d/, 'an ack with its processing time')

    const follow = start(t, ['tail', '--follow', '--url', url])
    await follow.line(/ destroy +switch-destroy:\d+ nobody /)
    const sent = await cli('send', 'fails', '--body', 'late')
    t.match(sent, { ...OK, stdout: /^\d+\n$/ })
    await follow.line(new RegExp(` send +switch-send:\\d+ fails #${Number(sent.stdout)}$`))
    follow.child.kill('SIGINT')
    t.match(await follow.result, OK, 'SIGINT ends tail --follow cleanly')
  })
})
