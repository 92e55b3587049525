// The commands issue 14 added or changed: create, receive, bind/unbind, help, suggestions, --url without a
// scheme, and what `serve QUEUE` says and leaves behind when stopped.
import t from 'tap'
import type { Diagnostics, QueueInfo } from '../../protocol/wire.js'
import { run, start, startSwitch } from './spawn.js'

const OK = { code: 0, signal: null, stderr: '' }

t.test('queue commands, help and suggestions', async (t) => {
  const { url } = await startSwitch(t)
  // Given as people type it: no scheme.
  const address = url.replace(/^http:\/\//, '')
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', address])

  t.test('help, suggestions and a bad --url', async (t) => {
    const [help, typo, nothingLike, badUrl] = await Promise.all([
      run(t, ['help', 'call']),
      run(t, ['lst']),
      run(t, ['frobnicate']),
      run(t, ['list', '--url', '127.0.0.1:99999'])
    ])
    t.match(help, { ...OK, stdout: /USAGE\n {2}\$ switch call QUEUE/ })
    t.same(typo, { code: 2, signal: null, stdout: '', stderr: 'switch: lst is not a switch command; did you mean list? (see switch help)\n' })
    t.same(nothingLike, { code: 2, signal: null, stdout: '', stderr: 'switch: frobnicate is not a switch command (see switch help)\n' })
    t.equal(badUrl.code, 2)
    t.match(badUrl.stderr, /^switch: --url: invalid URL "127\.0\.0\.1:99999"/, 'the error echoes what was given')
  })

  t.test('create, send, receive (ids, escaped payloads, --ack, --count), bind and unbind', async (t) => {
    t.same(await cli('create', 'jobs'), { ...OK, stdout: '' })
    t.same(await cli('create', 'jobs'), { ...OK, stdout: '' }, 'again: it exists, no error')
    const first = Number((await cli('send', 'jobs', '--body', 'one')).stdout)
    const second = Number((await cli('send', 'jobs', '--body', 'two\nlines\tand a \\')).stdout)
    const lines = `${first}\tone\n${second}\ttwo\\nlines\\tand a \\\\\n`
    t.same(await cli('receive', 'jobs'), { ...OK, stdout: lines }, 'ID<TAB>PAYLOAD, one message per line')
    t.same(await cli('receive', 'jobs'), { ...OK, stdout: lines }, 'without --ack they stay')
    const json = await cli('receive', 'jobs', '--json', '--count', '1')
    t.match(JSON.parse(json.stdout), { id: first, queue: 'jobs', payload: 'one' }, '--json: NDJSON, --count stops early')
    t.same(await cli('receive', 'jobs', '--ack', '--count', '2'), { ...OK, stdout: lines })
    t.match(JSON.parse((await cli('list', '--json', '--prefix', 'jobs')).stdout) as QueueInfo[], [{ name: 'jobs', length: 0 }], '--ack removed them')
    t.same(await cli('receive', 'jobs', '--count', '1', '--timeout', '0.2'),
      { code: 1, signal: null, stdout: '', stderr: 'switch: received 0 of 1 messages from jobs within 0.2 s\n' })
    const waiting = start(t, ['receive', 'jobs', '--count', '1', '--timeout', '30', '--ack', '--url', address])
    await cli('send', 'jobs', '--body', 'late')
    t.match(await waiting.result, { ...OK, stdout: /^\d+\tlate\n$/ }, '--timeout waits for a message')

    t.same(await cli('bind', 'jobs', 'site/+/alarm'), { ...OK, stdout: '0\n' }, 'prints the retained messages it delivered')
    t.equal((await cli('publish', 'site/r1/alarm', '--body', 'hot')).stdout, '1\n')
    t.same(await cli('unbind', 'jobs', 'site/+/alarm'), { ...OK, stdout: '' })
    t.equal((await cli('publish', 'site/r1/alarm', '--body', 'hot')).stdout, '0\n')
    t.match((await cli('receive', 'jobs')).stdout, /^\d+\thot\n$/, 'one copy: the one published while bound')
  })

  t.test('serve QUEUE: a line at start, per request and at the end; a failure on stderr; stopped, it is not running', async (t) => {
    const service = start(t, ['serve', 'upper', '--program', 'tr a-z A-Z', '--url', address])
    await service.line(/^serving upper$/)
    t.same(await cli('call', 'upper', '--body', 'hi'), { ...OK, stdout: 'HI\n' }, 'a reply without a newline gets one')
    t.same(await cli('call', 'upper', '--body', 'hi', '--raw'), { ...OK, stdout: 'HI' }, '--raw: the bytes as they are')
    await service.line(/^request \d+: exit 0 in \d/)
    const failing = start(t, ['serve', 'broken', '--program', 'echo no >&2; exit 3', '--url', address])
    await failing.line(/^serving broken$/)
    t.equal((await cli('call', 'broken', '--body', 'x')).code, 1)
    await failing.line(/^switch: request \d+ failed in \S+: .* exited with code 3: no$/, 'stderr')

    for (const cli of [service, failing]) cli.child.kill('SIGINT')
    t.match(await service.result, { code: 0, stdout: /stopped serving upper\n$/ })
    await failing.result
    const diagnostics = JSON.parse((await cli('diagnostics', '--json')).stdout) as Diagnostics
    for (const name of ['upper', 'broken']) {
      t.match(diagnostics.queues.find((queue) => queue.name === name), { left: Number }, `${name}: said goodbye`)
    }
    t.match((await cli('diagnostics')).stdout, /Running: none\n/, 'no longer listed as running')
  })
})
