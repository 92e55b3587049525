// Safe defaults for browsers and networks, on the switch as users start it (`switch serve`) and with real curl:
// loopback only without an auth file, the Host check (DNS rebinding), the Origin check, CORS for listed origins.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { ErrorBody } from '../../../protocol/wire.js'
import { startSwitch } from '../../../server/index.js'
import { run, start } from '../../cli/spawn.js'

interface CurlReply {
  status: number
  headers: Record<string, string>
  body: string
}

/** One request with real curl; `-H 'Host:'` sends none. */
async function curl (url: string, ...args: string[]): Promise<CurlReply> {
  const { stdout } = await promisify(execFile)('curl', ['-sS', '-D', '-', '--max-time', '10', ...args, url])
  const [head, ...body] = stdout.split('\r\n\r\n')
  const [status, ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((line) => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
  }))
  return { status: Number(status.split(' ')[1]), headers, body: body.join('\r\n\r\n') }
}

function codeOf (reply: CurlReply): string | undefined {
  return reply.headers['content-type']?.startsWith('application/json') === true
    ? (JSON.parse(reply.body) as ErrorBody).error.code
    : undefined
}

/** `switch serve --port 0 ...args`, stopped with the test; its URL. */
async function serve (test: Parameters<typeof start>[0], ...args: string[]): Promise<{ url: string, port: string, stderr: () => Promise<string> }> {
  const server = start(test, ['serve', '--port', '0', '--log-level', 'warn', ...args])
  const [, url] = await server.line(/^switch listening on (\S+)$/)
  const port = new URL(url).port
  return { url, port, stderr: async () => (await server.result).stderr }
}

t.test('without an auth file, a non-loopback address is refused with one line, unless told it is meant', async (t) => {
  for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
    const refused = await run(t, ['serve', '--port', '0', '--host', host])
    t.equal(refused.code, 2, `--host ${host}: a usage error`)
    t.match(refused.stderr, new RegExp(`^switch: refusing to listen on ${host.replaceAll('.', '\\.')} without an auth file.*--insecure-allow-remote`))
    t.equal(refused.stderr.trim().split('\n').length, 1, 'one line')
    t.equal(refused.stdout, '', 'it never listened')
  }

  const server = start(t, ['serve', '--port', '0', '--host', '0.0.0.0', '--insecure-allow-remote'])
  const [, url] = await server.line(/^switch listening on (\S+)$/)
  await server.line(/listening on 0\.0\.0\.0 without an auth file/, 'stderr')
  const port = new URL(url).port
  // It listens on every address; the test talks to loopback only, by the address the connection came in on.
  const local = `http://127.0.0.1:${port}`
  t.equal((await curl(`${local}/v1/health`)).status, 200)
  t.equal(codeOf(await curl(`${local}/v1/health`, '-H', `Host: evil.example:${port}`)), 'host_not_allowed')
})

t.test('a Host naming none of the switch\'s names is refused; its own names, listed ones and none pass', async (t) => {
  const { url, port } = await serve(t, '--allowed-host', 'switch.example', '--allowed-host', 'proxy.example:8443')
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', `localhost:${Number(port) + 1}`,
    `switch.example:${port}`, 'switch.example', 'proxy.example:8443', 'LOCALHOST']) {
    t.equal((await curl(`${url}/v1/health`, '-H', `Host: ${host}`)).status, 200, `Host: ${host}`)
  }
  t.equal((await curl(`${url}/v1/health`, '-H', 'Host:')).status, 200, 'no Host header at all')
  t.equal((await curl(`${url}/v1/health`, '--http1.0', '-H', 'Host:')).status, 200, 'HTTP/1.0 without Host')
  for (const host of [`evil.example:${port}`, 'evil.example', 'proxy.example:443', 'switch.example.evil', 'a b']) {
    const refused = await curl(`${url}/v1/health`, '-H', `Host: ${host}`)
    t.equal(refused.status, 403, `Host: ${host}`)
    t.equal(codeOf(refused), 'host_not_allowed')
  }
  // The original protocols at the root: the same check, their plain-text errors.
  const original = await curl(`${url}/`, '-H', `Host: evil.example:${port}`)
  t.equal(original.status, 403, 'GET / (the original protocols) with a foreign Host')
  t.match(original.body, /does not answer to the host evil\.example/)
  t.equal((await curl(`${url}/`, '-H', `Host: localhost:${port}`)).status, 200)
})

t.test('Unix-socket connections have no Host to check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-guard-'))
  const running = await startSwitch({ listenTcp: false, socketPath: join(dir, 'switch.sock') })
  t.teardown(async () => {
    await running.stop()
    await rm(dir, { recursive: true, force: true })
  })
  const reply = await curl('http://evil.example/v1/health', '--unix-socket', join(dir, 'switch.sock'))
  t.equal(reply.status, 200)
})

t.test('a request from another site\'s page is refused, the switch stays up; curl without Origin is unaffected', async (t) => {
  const { url } = await serve(t)
  const crossSite = [['-H', 'Origin: http://evil.example'], ['-H', 'Sec-Fetch-Site: cross-site'], ['-H', 'Origin: null'],
    ['-H', 'Sec-Fetch-Site: same-site']]
  for (const headers of crossSite) {
    for (const [method, path] of [['POST', '/v1/shutdown'], ['POST', '/shutdown'], ['GET', '/v1/diagnostics'], ['GET', '/v1/transfer'],
      ['GET', '/v1/trace'], ['GET', '/v1/stream'], ['GET', '/'], ['GET', '/trace'], ['POST', '/v1/sessions']]) {
      const refused = await curl(`${url}${path}`, '-X', method, ...headers)
      t.equal(refused.status, 403, `${method} ${path} ${headers[1]}`)
      if (path.startsWith('/v1')) t.equal(codeOf(refused), 'origin_not_allowed')
    }
  }
  t.equal((await curl(`${url}/v1/health`)).status, 200, 'still up')
  t.equal((await curl(`${url}/v1/diagnostics`, '-H', 'Sec-Fetch-Site: none')).status, 200, 'typed in the address bar')
  t.equal((await curl(`${url}/v1/diagnostics`, '-H', 'Sec-Fetch-Site: same-origin', '-H', 'Origin: http://localhost')).status, 200, 'same-origin')
  t.notOk((await curl(`${url}/v1/health`)).headers['access-control-allow-origin'], 'no CORS without listed origins')
  t.equal((await curl(`${url}/v1/shutdown`, '-X', 'POST')).status, 202, 'curl, which sends no Origin, may')
})

t.test('CORS answers only the listed origins', async (t) => {
  const { url } = await serve(t, '--cors-origin', 'http://app.example', '--cors-origin', 'https://ops.example:8443')
  const preflight = ['-X', 'OPTIONS', '-H', 'Access-Control-Request-Method: POST', '-H', 'Access-Control-Request-Headers: authorization, content-type']
  const listed = await curl(`${url}/v1/queues`, ...preflight, '-H', 'Origin: http://app.example')
  t.equal(listed.status, 204)
  t.equal(listed.headers['access-control-allow-origin'], 'http://app.example')
  t.match(listed.headers['access-control-allow-methods'], /POST/)
  t.match(listed.headers['access-control-allow-headers'], /Authorization/)
  t.equal((await curl(`${url}/v1/queues`, ...preflight, '-H', 'Origin: https://ops.example:8443')).headers['access-control-allow-origin'], 'https://ops.example:8443')

  const other = await curl(`${url}/v1/queues`, ...preflight, '-H', 'Origin: http://evil.example')
  t.equal(other.status, 403)
  t.equal(codeOf(other), 'origin_not_allowed')
  t.notOk(other.headers['access-control-allow-origin'])

  const login = await curl(`${url}/v1/sessions`, '-X', 'POST', '-H', 'Origin: http://app.example', '-H', 'Sec-Fetch-Site: cross-site',
    '-H', 'content-type: application/json', '--data', '{"client":"page"}')
  t.equal(login.status, 201, 'a listed origin\'s page may call the switch')
  t.equal(login.headers['access-control-allow-origin'], 'http://app.example')

  const unlisted = await run(t, ['serve', '--port', '0', '--cors-origin', 'http://app.example/'])
  t.equal(unlisted.code, 2, 'an origin with a path is a usage error')
  t.match(unlisted.stderr, /a CORS origin must be like/)
})
