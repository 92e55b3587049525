// TLS end to end, with certificates the test makes: `switch serve --tls-cert/--tls-key [--tls-ca]`, the library's
// `ca`/`cert`/`key`, the CLI's --ca/--cert/--key, and real curl.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Agent } from 'undici'
import { SwitchClient, SwitchRequestError, SwitchTlsError } from '../../../lib/index.js'
import { run, start, type Teardown } from '../../cli/spawn.js'
import { eventually } from '../../eventually.js'
import { openSockets } from '../../lib/fixtures.js'
import { makeCertificates, type Certificates } from '../../fixtures/certificates.js'

const OK = { code: 0, signal: null, stderr: '' }

interface Curl { code: number, stdout: string, stderr: string }

async function curl (...args: string[]): Promise<Curl> {
  return await new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    })
  })
}

/** Runs `switch serve` with these extra flags and resolves with what its listening line names. */
async function serve (t: Teardown, ...flags: string[]): Promise<string[]> {
  const server = start(t, ['serve', '--port', '0', '--log-level', 'warn', ...flags])
  const [, where] = await server.line(/^switch listening on (.+)$/)
  return where.split(' and ')
}

/** A library client, closed at teardown; fails fast on an unreachable switch, which none of these tests expect. */
function client (t: Teardown, options: ConstructorParameters<typeof SwitchClient>[0]): SwitchClient {
  const made = new SwitchClient({ retryFor: 60_000, ...options })
  t.teardown(async () => { await made.close() })
  return made
}

const certificates = await makeCertificates()
t.teardown(certificates.remove)
const c: Certificates = certificates
const ca = await readFile(c.ca)

t.test('an https switch', async (t) => {
  const socketPath = join(c.dir, 'switch.sock')
  const [url, socket] = await serve(t, '--tls-cert', c.serverCert, '--tls-key', c.serverKey, '--socket', socketPath)
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the listening line shows the scheme')
  t.equal(socket, socketPath)
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', url, '--ca', c.ca])

  t.test('the library with the CA works; without it, the certificate error surfaces at once', async (t) => {
    const trusting = client(t, { url, ca })
    await trusting.createQueue('tls-lib')
    await trusting.send('tls-lib', 'over tls')
    await trusting.subscribe('tls-lib')
    t.equal((await trusting.transfer({ timeout: 5 })).messages[0]?.payload, 'over tls')
    // A minute of retries would follow if the failure were taken for an outage.
    const error = await client(t, { url }).list().catch((error: unknown) => error)
    t.type(error, SwitchTlsError)
    t.match(error, { code: 'tls', reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: /unable to verify the first certificate/ })
  })

  t.test('the certificate names localhost too', async (t) => {
    const port = new URL(url).port
    t.match(await client(t, { url: `https://localhost:${port}`, ca }).list({ prefix: 'tls-lib' }), [{ name: 'tls-lib' }])
  })

  t.test('switch send, list and call with --ca', async (t) => {
    const setup = client(t, { url, ca })
    await setup.createQueue('tls-cli')
    t.match(await cli('send', 'tls-cli', '--body', 'hello'), { ...OK, stdout: /^\d+\n$/ }, 'the message id')
    t.match(await cli('list'), { ...OK, stdout: /tls-cli/ })
    start(t, ['serve', 'tls-upper', '--program', 'tr a-z A-Z', '--url', url, '--ca', c.ca])
    t.same(await cli('call', 'tls-upper', '--body', 'shout'), { ...OK, stdout: 'SHOUT\n' })
  })

  t.test('the CLI without --ca: one line, exit 1, no retrying', async (t) => {
    const result = await run(t, ['list', '--url', url])
    t.equal(result.code, 1)
    t.match(result.stderr, /^switch: the TLS connection to https:\/\/127\.0\.0\.1:\d+ failed: .*certificate.*\n$/)
    const missing = await run(t, ['list', '--url', url, '--ca', join(c.dir, 'missing.crt')])
    t.same(missing, { code: 1, signal: null, stdout: '', stderr: `switch: cannot read --ca ${join(c.dir, 'missing.crt')}: no such file or directory\n` })
  })

  t.test('curl with --cacert', async (t) => {
    const answer = await curl('--cacert', c.ca, `${url}/v1/queues?prefix=tls-`)
    t.equal(answer.code, 0, answer.stderr)
    t.match(JSON.parse(answer.stdout), { queues: [{ name: 'tls-cli' }, { name: 'tls-lib' }] })
    t.equal((await curl(`${url}/v1/queues`)).code, 60, 'without it curl refuses the certificate')
  })

  t.test('the Unix socket stays plain HTTP', async (t) => {
    const answer = await curl('--unix-socket', socketPath, 'http://localhost/v1/queues?prefix=tls-lib')
    t.equal(answer.code, 0, answer.stderr)
    t.match(JSON.parse(answer.stdout), { queues: [{ name: 'tls-lib' }] })
  })
})

t.test('client certificates with --tls-ca', async (t) => {
  const [url] = await serve(t, '--tls-cert', c.serverCert, '--tls-key', c.serverKey, '--tls-ca', c.ca)
  const clientCert = await readFile(c.clientCert)
  const clientKey = await readFile(c.clientKey)

  t.test('the library: refused without a certificate or with a stranger\'s, let in with one the CA signed', async (t) => {
    const refused = async (options: Partial<ConstructorParameters<typeof SwitchClient>[0]>): Promise<unknown> =>
      await client(t, { url, ca, ...options }).list().catch((error: unknown) => error)
    const without = await refused({})
    t.type(without, SwitchRequestError)
    t.match(without, { status: 401, code: 'unauthorized', message: /requires a client certificate/ })
    t.match(await refused({ cert: await readFile(c.strangerCert), key: await readFile(c.strangerKey) }),
      { status: 401, code: 'unauthorized', message: /not signed by the CA/ })
    t.same(await client(t, { url, ca, cert: clientCert, key: clientKey }).list(), [])
  })

  t.test('the CLI with --cert and --key', async (t) => {
    t.same(await run(t, ['list', '--url', url, '--ca', c.ca, '--cert', c.clientCert, '--key', c.clientKey]), { ...OK, stdout: '' })
    const without = await run(t, ['list', '--url', url, '--ca', c.ca])
    t.same(without, { code: 1, signal: null, stdout: '', stderr: 'switch: this switch requires a client certificate signed by the CA it trusts\n' })
  })

  t.test('curl', async (t) => {
    const admitted = await curl('--cacert', c.ca, '--cert', c.clientCert, '--key', c.clientKey, `${url}/v1/queues`)
    t.same({ code: admitted.code, body: admitted.stdout }, { code: 0, body: '{"queues":[]}' }, admitted.stderr)
    const refused = await curl('--cacert', c.ca, '-w', '\n%{http_code}', `${url}/v1/queues`)
    t.match(refused, { code: 0, stdout: /"code":"unauthorized".*\n401$/ })
  })

  t.test('rpc and serve open their sockets through TLS, with the client certificate', async (t) => {
    const options = { url, ca, cert: clientCert, key: clientKey }
    const server = client(t, { ...options, client: 'tls-server' })
    const caller = client(t, { ...options, client: 'tls-caller' })
    const service = server.serve('upper', (request) => request.toString().toUpperCase())
    t.equal((await caller.rpc('upper', 'over tls')).toString(), 'OVER TLS')
    const agent = new Agent({ connect: { ca, cert: clientCert, key: clientKey } })
    t.teardown(async () => { await agent.close() })
    await eventually('both sockets open', async () => await openSockets(url, agent) === 2 ? true : undefined)
    await service.stop()
  })
})

t.test('switch serve refuses TLS flags it cannot use, in one line', async (t) => {
  const refusal = async (code: number, stderr: RegExp, ...flags: string[]): Promise<void> => {
    const result = await run(t, ['serve', '--port', '0', ...flags])
    t.match(result, { code, stdout: '', stderr }, flags.join(' '))
    t.equal(result.stderr.split('\n').length, 2, 'one line')
  }
  await refusal(2, /^switch: --tls-cert needs --tls-key FILE/, '--tls-cert', c.serverCert)
  await refusal(2, /^switch: --tls-key needs --tls-cert FILE/, '--tls-key', c.serverKey)
  await refusal(2, /^switch: --tls-ca needs --tls-cert and --tls-key/, '--tls-ca', c.ca)
  await refusal(1, /^switch: cannot read the TLS certificate .*missing\.crt: no such file or directory\n$/,
    '--tls-cert', join(c.dir, 'missing.crt'), '--tls-key', c.serverKey)
  await refusal(1, /^switch: the TLS key .*server\.crt is not a PEM private key/, '--tls-cert', c.serverCert, '--tls-key', c.serverCert)
  await refusal(1, /^switch: the TLS certificate .*server\.key is not a PEM certificate/, '--tls-cert', c.serverKey, '--tls-key', c.serverKey)
  await refusal(1, /^switch: the TLS key .*client\.key does not belong to the certificate .*server\.crt\n$/, '--tls-cert', c.serverCert, '--tls-key', c.clientKey)
  await refusal(1, /^switch: the TLS CA certificate .*server\.key is not a PEM certificate/,
    '--tls-cert', c.serverCert, '--tls-key', c.serverKey, '--tls-ca', c.serverKey)
})
