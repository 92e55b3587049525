// The commands issue 14 added or changed: create, receive, bind/unbind, help, suggestions, --url without a
// scheme, and what `serve QUEUE` says and leaves behind when stopped.
import t from 'tap'
import type { PublishResponse } from '../../protocol/topics.js'
import type { Diagnostics, LoginResponse, SendResponse } from '../../protocol/wire.js'
import { run, start, startSwitch } from './spawn.js'

const OK = { code: 0, signal: null, stderr: '' }

t.test('queue commands, help and suggestions', async (t) => {
  const { url } = await startSwitch(t)
  // Given as people type it: no scheme.
  const address = url.replace(/^http:\/\//, '')
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', address])
  // Set-up over plain HTTP: a test's premise does not wait on a CLI process starting.
  const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client":"tester"}' })
  const { token } = await login.json() as LoginResponse
  const post = async (path: string, body: string): Promise<unknown> => {
    const response = await fetch(`${url}/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body })
    return await response.json()
  }
  const send = async (queue: string, body: string): Promise<number> => (await post(`/queues/${queue}/messages`, body) as SendResponse).id
  const publish = async (topic: string, body: string): Promise<number> => (await post(`/topics/${encodeURIComponent(topic)}/messages`, body) as PublishResponse).count

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

  t.test('create, receive (ids, escaped payloads, --ack, --count, --timeout), bind and unbind', async (t) => {
    const [created, again] = await Promise.all([cli('create', 'jobs'), cli('create', 'jobs')])
    t.same([created, again], [{ ...OK, stdout: '' }, { ...OK, stdout: '' }], 'created; again, no error')
    const first = await send('jobs', 'one')
    const second = await send('jobs', 'two\nlines\tand a \\')
    const lines = `${first}\tone\n${second}\ttwo\\nlines\\tand a \\\\\n`
    const [plain, json] = await Promise.all([cli('receive', 'jobs'), cli('receive', 'jobs', '--json', '--count', '1')])
    t.same(plain, { ...OK, stdout: lines }, 'ID<TAB>PAYLOAD, one message per line')
    t.match(JSON.parse(json.stdout), { id: first, queue: 'jobs', payload: 'one' }, '--json: NDJSON; --count stops early')
    t.same(await cli('receive', 'jobs', '--ack', '--count', '2'), { ...OK, stdout: lines }, 'without --ack they stayed')
    t.same(await cli('receive', 'jobs', '--count', '1', '--timeout', '0.2'),
      { code: 1, signal: null, stdout: '', stderr: 'switch: received 0 of 1 messages from jobs within 0.2 s\n' }, '--ack removed them')
    const waiting = start(t, ['receive', 'jobs', '--count', '1', '--timeout', '30', '--ack', '--url', address])
    await send('jobs', 'late')
    t.match(await waiting.result, { ...OK, stdout: /^\d+\tlate\n$/ }, '--timeout waits for a message')

    t.same(await cli('bind', 'jobs', 'site/+/alarm'), { ...OK, stdout: '0\n' }, 'prints the retained messages it delivered')
    t.equal(await publish('site/r1/alarm', 'hot'), 1)
    t.same(await cli('unbind', 'jobs', 'site/+/alarm'), { ...OK, stdout: '' })
    t.equal(await publish('site/r1/alarm', 'hot'), 0)
  })

  t.test('serve QUEUE: a line at start, per request and at the end; a failure on stderr; stopped, it is not running', async (t) => {
    const service = start(t, ['serve', 'upper', '--program', 'tr a-z A-Z', '--url', address])
    await service.line(/^serving upper$/)
    const failing = start(t, ['serve', 'broken', '--program', 'echo no >&2; exit 3', '--url', address])
    const [withNewline, raw, failed] = await Promise.all([
      cli('call', 'upper', '--body', 'hi'),
      cli('call', 'upper', '--body', 'hi', '--raw'),
      cli('call', 'broken', '--body', 'x')
    ])
    t.same(withNewline, { ...OK, stdout: 'HI\n' }, 'a reply without a newline gets one')
    t.same(raw, { ...OK, stdout: 'HI' }, '--raw: the bytes as they are')
    t.equal(failed.code, 1)
    await service.line(/^request \d+: exit 0 in \d/)
    await failing.line(/^serving broken$/)
    await failing.line(/^switch: request \d+ failed in \S+: .* exited with code 3: no$/, 'stderr')

    for (const cli of [service, failing]) cli.child.kill('SIGINT')
    t.match(await service.result, { code: 0, stdout: /stopped serving upper\n$/ })
    await failing.result
    const [json, report] = await Promise.all([cli('diagnostics', '--json'), cli('diagnostics')])
    const diagnostics = JSON.parse(json.stdout) as Diagnostics
    for (const name of ['upper', 'broken']) {
      t.match(diagnostics.queues.find((queue) => queue.name === name), { left: Number }, `${name}: said goodbye`)
    }
    t.match(report.stdout, /Running: none\n/, 'no longer listed as running')
  })
})
