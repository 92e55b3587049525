// The dashboard in a real browser (Debian's chromium, driven by puppeteer-core): it loads from the switch, shows a
// queue the test creates, and follows a send as it happens (the depth, the trace chart). With an auth file it
// asks for credentials first. Chromium missing is a failure: .ci/run installs it.
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import t, { type Test } from 'tap'
import type { LoginResponse } from '../../../protocol/wire.js'
import { hashSecret } from '../../../server/auth/secrets.js'
import { startSwitch } from '../../cli/spawn.js'

// What the functions run in the page use of its globals (the tests compile without the DOM's types).
declare const document: { querySelector: (selector: string) => { textContent: string | null } | null }
declare const sessionStorage: { getItem: (key: string) => string | null }
interface Hideable { hidden: boolean }

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Long enough for a loaded CI machine; every wait ends as soon as the page shows what it waits for. */
const WAIT = { timeout: 20_000 }

/** One browser for the file (launching one takes seconds); each test has a page of its own. */
let launched: Promise<Browser> | undefined
t.teardown(async () => { await (await launched)?.close() })

async function newPage (t: Test): Promise<Page> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`)
  // Root (CI) cannot use chromium's sandbox.
  launched ??= puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  const page = await (await launched).newPage()
  t.teardown(async () => { await page.close() })
  return page
}

async function call (url: string, method: string, path: string, token?: string, body?: string | object): Promise<unknown> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (typeof body === 'object') headers['content-type'] = 'application/json'
  const response = await fetch(`${url}${path}`, { method, headers, body: typeof body === 'object' ? JSON.stringify(body) : body })
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return response.status === 204 ? undefined : await response.json()
}

const depthOf = async (page: Page, queue: string, depth: number): Promise<void> => {
  await page.waitForFunction((name, expected) =>
    document.querySelector(`#queues tr[data-queue="${name}"] td.depth`)?.textContent === String(expected), WAIT, queue, depth)
}

/** Problems the page reported: script errors, refused resources (a CSP violation is one). */
function problems (page: Page): string[] {
  const seen: string[] = []
  page.on('pageerror', (error) => { seen.push(String(error)) })
  page.on('console', (message) => { if (message.type() === 'error') seen.push(message.text()) })
  return seen
}

t.test('the dashboard shows a queue and follows a send live', async (t) => {
  const { url } = await startSwitch(t)
  const { token } = await call(url, 'POST', '/v1/sessions', undefined, { client: 'tester' }) as LoginResponse
  await call(url, 'PUT', '/v1/queues/jobs', token)

  const page = await newPage(t)
  const reported = problems(page)
  const response = await page.goto(`${url}/ui`)
  t.equal(response?.status(), 200)
  t.match(response?.headers()['content-security-policy'], /default-src 'self'/)
  await page.waitForSelector('#queues tr[data-queue="jobs"]', WAIT)
  await depthOf(page, 'jobs', 0)
  t.equal(await page.$eval('#login', (form) => (form as unknown as Hideable).hidden), true, 'no login without an auth file')

  const { id } = await call(url, 'POST', '/v1/queues/jobs/messages', token, 'work') as { id: number }
  await depthOf(page, 'jobs', 1)
  await page.waitForSelector(`#trace svg g.event[data-type="send"][data-queue="jobs"][data-message="${id}"]`, WAIT)
  t.ok(await page.$('#trace svg g.head[data-lifeline="client tester"]'), 'the sender has a lifeline')
  t.ok(await page.$('#trace svg g.head[data-lifeline="queue jobs"]'), 'the queue has a lifeline')
  t.ok(await page.$('#limits tr[data-limit="queues"]'), 'the limits are shown')
  t.ok(await page.$('#sessions tr td'), 'the sessions are shown')

  await call(url, 'DELETE', `/v1/messages/${id}`, token)
  await depthOf(page, 'jobs', 0)
  await page.waitForSelector(`#trace svg g.event[data-type="ack"][data-message="${id}"]`, WAIT)
  t.same(reported, [], 'the page reported no error')
})

t.test('with an auth file, the dashboard asks for credentials, refuses a principal without observe, then shows the switch', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-ui-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'auth.json')
  await writeFile(file, JSON.stringify({
    principals: [
      { name: 'ops', secret: await hashSecret('ops-secret'), permissions: [{ actions: ['observe'] }, { actions: ['manage', 'send'], queues: ['*'] }] },
      { name: 'app', secret: await hashSecret('app-secret'), permissions: [{ actions: ['send'], queues: ['*'] }] }
    ]
  }))
  const { url } = await startSwitch(t, ['--auth-file', file])
  const { token } = await call(url, 'POST', '/v1/sessions', undefined, { client: 'tester', principal: 'ops', secret: 'ops-secret' }) as LoginResponse
  await call(url, 'PUT', '/v1/queues/orders', token)

  const page = await newPage(t)
  await page.goto(`${url}/ui`)
  await page.waitForSelector('#login:not([hidden])', WAIT)

  const logIn = async (principal: string, secret: string): Promise<void> => {
    await page.$eval('#principal', (input) => { (input as unknown as { value: string }).value = '' })
    await page.type('#principal', principal)
    await page.type('#secret', secret)
    await page.click('#login-submit')
  }
  await logIn('app', 'app-secret')
  await page.waitForFunction(() => /observe/.test(document.querySelector('#notice:not([hidden])')?.textContent ?? ''), WAIT)
  t.equal(await page.$eval('#dashboard', (main) => (main as unknown as Hideable).hidden), true, 'nothing is shown to a principal without observe')

  await logIn('ops', 'ops-secret')
  await page.waitForSelector('#queues tr[data-queue="orders"]', WAIT)
  await depthOf(page, 'orders', 0)
  t.ok(await page.evaluate(() => sessionStorage.getItem('switch.dashboard.token')), 'the token is kept for the tab')
  await call(url, 'POST', '/v1/queues/orders/messages', token, 'one')
  await depthOf(page, 'orders', 1)
})
