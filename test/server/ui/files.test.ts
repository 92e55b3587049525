// The dashboard's files as the switch serves them: their types, the page's CSP, revalidation by ETag, and open
// to anyone under an auth file (the data behind them is what needs `observe`).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startHttp } from '../http/fixtures.js'

t.test('the dashboard files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-ui-files-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'auth.json')
  await writeFile(file, JSON.stringify({ principals: [] }))
  const { api } = await startHttp(t, { authFile: file })

  const types: Record<string, RegExp> = {
    '/ui': /^text\/html/,
    '/ui/': /^text\/html/,
    '/ui/dashboard.js': /^text\/javascript/,
    '/ui/services.js': /^text\/javascript/,
    '/ui/dashboard.css': /^text\/css/,
    '/ui/favicon.svg': /^image\/svg\+xml/
  }
  for (const [path, type] of Object.entries(types)) {
    const reply = await api.call('GET', path)
    t.equal(reply.status, 200, `${path} is served, without a session`)
    t.match(reply.headers['content-type'], type, `${path}: its type`)
    t.equal(reply.headers['content-security-policy'], "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    t.equal(reply.headers['x-content-type-options'], 'nosniff')
    t.equal(reply.headers['cache-control'], 'no-cache')
    const etag = String(reply.headers.etag)
    const again = await api.call('GET', path, { headers: { 'if-none-match': etag } })
    t.equal(again.status, 304, `${path}: unchanged, not sent again`)
    t.equal(again.text, '')
  }
  const page = await api.call('GET', '/ui')
  t.match(page.text, /<script type="module" src="\/ui\/dashboard.js">/)
  t.notMatch(page.text, /https?:\/\//, 'nothing from elsewhere')
  const services = await api.call('GET', '/ui/services.js')
  t.match(services.text, /export function serviceState/, 'the CLI\'s own classification, built')
  t.notMatch(services.text, /^import /m, 'importing nothing the browser could not fetch')
  t.equal((await api.call('GET', '/ui/other.js')).status, 404)
})
