// GET /metrics, scraped after real traffic and parsed strictly as Prometheus text (format 0.0.4): the series
// there are and their values, as the traffic implies them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { SendResponse, TransferResponse } from '../../../protocol/wire.js'
import { generateApiKey, hashApiKey, hashSecret } from '../../../server/auth/secrets.js'
import { MAX_QUEUE_SERIES } from '../../../server/metrics/registry.js'
import { codeOf, eventually, startHttp, waitingOn, type Api } from './fixtures.js'

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Family { type: string, help: string, samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** Label values: `"…"` with \\, \" and \n escaped; returns the labels and what follows the closing brace. */
function parseLabels (text: string, line: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {}
  let rest = text
  for (;;) {
    rest = rest.trimStart()
    if (rest.startsWith('}')) return [labels, rest.slice(1)]
    const match = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest)
    if (match === null) throw new Error(`bad label in: ${line}`)
    rest = rest.slice(match[0].length)
    let value = ''
    for (;;) {
      if (rest === '') throw new Error(`unterminated label value in: ${line}`)
      const c = rest[0]
      if (c === '"') { rest = rest.slice(1); break }
      if (c === '\\') {
        const escaped = rest[1]
        if (escaped === 'n') value += '\n'
        else if (escaped === '\\' || escaped === '"') value += escaped
        else throw new Error(`bad escape in: ${line}`)
        rest = rest.slice(2)
      } else {
        value += c
        rest = rest.slice(1)
      }
    }
    if (match[1] in labels) throw new Error(`label ${match[1]} twice in: ${line}`)
    labels[match[1]] = value
    rest = rest.trimStart()
    if (rest.startsWith(',')) rest = rest.slice(1)
    else if (!rest.startsWith('}')) throw new Error(`expected , or } in: ${line}`)
  }
}

function parseValue (text: string, line: string): number {
  if (/^[+]?inf$/i.test(text)) return Infinity
  if (/^-inf$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`)
  return Number(text)
}

/** The family a sample belongs to: a histogram's _bucket, _sum and _count are its own. */
function familyOf (name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name)
  if (direct !== undefined) return direct
  const base = name.replace(/_(bucket|sum|count)$/, '')
  const family = families.get(base)
  return family?.type === 'histogram' || family?.type === 'summary' ? family : undefined
}

/** Prometheus text exposition, parsed strictly: every sample has its family's TYPE and HELP before it. */
function parse (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline')
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
      if (match === null) throw new Error(`bad comment: ${line}`)
      const [, kind, name, rest] = match
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`)
      const family = families.get(name) ?? { type: '', help: '', samples: [] }
      families.set(name, family)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest) || family.type !== '') throw new Error(`bad or repeated TYPE: ${line}`)
        family.type = rest
      } else {
        family.help = rest
      }
      continue
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)/.exec(line)
    if (match === null) throw new Error(`bad sample: ${line}`)
    const name = match[1]
    let labels: Record<string, string> = {}
    let rest = line.slice(name.length)
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest.slice(1), line)
    const fields = rest.trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2 || (fields.length === 2 && !/^-?\d+$/.test(fields[1]))) throw new Error(`bad sample: ${line}`)
    const family = familyOf(name, families)
    if (family === undefined || family.type === '') throw new Error(`sample without a TYPE before it: ${line}`)
    family.samples.push({ name, labels, value: parseValue(fields[0], line) })
  }
  for (const [name, family] of families) {
    if (family.type === '' || family.help === '') throw new Error(`${name} lacks TYPE or HELP`)
  }
  return families
}

/** Scrapes and parses; the answer must be Prometheus text. */
async function scrape (t: Test, api: Api, token?: string): Promise<Map<string, Family>> {
  const reply = await api.call('GET', '/metrics', { token })
  t.equal(reply.status, 200, 'scraped')
  t.match(reply.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  return parse(reply.text)
}

/** The value of the one sample named `name` whose labels include `labels`. */
function value (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families)
  const found = family?.samples.filter((sample) => sample.name === name &&
    Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted)) ?? []
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`)
  return found[0]?.value
}

t.test('the parser is strict', async (t) => {
  t.throws(() => parse('x 1\n'), /without a TYPE/)
  t.throws(() => parse('# TYPE x gauge\n# HELP x y\nx{a="1} 1\n'), /unterminated/)
  t.throws(() => parse('# TYPE x gauge\n# HELP x y\nx one\n'), /bad value/)
  t.throws(() => parse('# TYPE x gauge\n# HELP x y\nx 1'), /newline/)
  t.same([...parse('# HELP x y\n# TYPE x gauge\nx{a="q\\"\\n",b="2"} 1.5e3\n').get('x')?.samples ?? []],
    [{ name: 'x', labels: { a: 'q"\n', b: '2' }, value: 1500 }])
})

t.test('a scrape after traffic: messages, depth, sessions, latencies, limits, errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-metrics-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { api } = await startHttp(t, { dataDir: dir, maxQueues: 1000 })
  const caller = await api.login('caller')
  const service = await api.login('service')
  await api.call('PUT', '/v1/queues/jobs', { token: caller })
  const sent: number[] = []
  for (const body of ['a', 'b', 'c']) sent.push(((await api.call('POST', '/v1/queues/jobs/messages', { token: caller, body })).json as SendResponse).id)
  await api.call('PUT', '/v1/session/subscriptions/jobs', { token: service })
  const taken = (await api.call('GET', '/v1/transfer?timeout=0', { token: service })).json as TransferResponse
  t.equal(taken.messages.length, 3)
  await api.call('DELETE', `/v1/messages/${sent[0]}`, { token: service })
  // An RPC: a request with a reply queue, answered by a reply that acks it.
  const { name: replies } = (await api.call('POST', '/v1/queues', { token: caller })).json as { name: string }
  await api.call('POST', `/v1/queues/jobs/messages?replyTo=${replies}&correlationId=c1`, { token: caller, body: 'ping' })
  const request = ((await api.call('GET', `/v1/transfer?after=${taken.next}&timeout=0`, { token: service })).json as TransferResponse).messages[0]
  await api.call('POST', `/v1/queues/${replies}/messages?ack=${request.id}&correlationId=c1`, { token: service, body: 'pong' })
  // A publish copied into one bound queue.
  await api.call('PUT', `/v1/queues/${replies}/bindings/news%2F%23`, { token: caller })
  await api.call('POST', '/v1/topics/news%2Ftoday/messages', { token: caller, body: 'extra' })
  // Errors: a queue that is not there (twice), a route that is not there.
  await api.call('GET', '/v1/queues/missing')
  await api.call('POST', '/v1/queues/missing/messages', { token: caller, body: 'x' })
  await api.call('GET', '/v1/queues/missing')
  await api.call('GET', '/nowhere')
  // A long-poll waiting, and a delivery stream open.
  const aborter = new AbortController()
  const poll = api.call('GET', '/v1/transfer?after=1000000&timeout=30', { token: service, signal: aborter.signal }).catch(() => undefined)
  await waitingOn(api, 'jobs', 1)
  const stream = await fetch(`${api.url}/v1/deliveries?queue=jobs&after=1000000&credit=10`, { headers: { authorization: `Bearer ${service}` }, signal: aborter.signal })
  t.equal(stream.status, 200)

  const metrics = await scrape(t, api)
  t.equal(value(metrics, 'switch_messages_sent_total'), 5, 'sends: three, the request and its reply')
  t.equal(value(metrics, 'switch_messages_published_total'), 1)
  t.equal(value(metrics, 'switch_messages_delivered_total'), 4)
  t.equal(value(metrics, 'switch_messages_acked_total'), 2, 'one ack, one reply that acked')
  t.equal(value(metrics, 'switch_messages_dropped_total'), 0)
  t.equal(value(metrics, 'switch_logins_total'), 2)
  t.equal(value(metrics, 'switch_sessions'), 2)
  t.equal(value(metrics, 'switch_queues'), 2)
  t.equal(value(metrics, 'switch_queue_depth', { queue: 'jobs' }), 2, 'depth: the unacked messages')
  t.equal(value(metrics, 'switch_queue_depth', { queue: replies }), 2, 'the reply and the published copy')
  t.equal(value(metrics, 'switch_queue_waiting', { queue: 'jobs' }), 2, 'the long-poll and the stream')
  t.ok((value(metrics, 'switch_long_polls_waiting') ?? 0) >= 1)
  t.equal(value(metrics, 'switch_streams_open', { kind: 'deliveries' }), 1)
  t.equal(value(metrics, 'switch_streams_open', { kind: 'events' }), 0)
  t.equal(value(metrics, 'switch_rpc_duration_seconds_count'), 1, 'one reply acked its request')
  t.equal(value(metrics, 'switch_rpc_duration_seconds_bucket', { le: '+Inf' }), 1)
  t.ok((value(metrics, 'switch_commit_duration_seconds_count') ?? 0) >= 10, 'every durable change timed (SQLite)')
  t.equal(value(metrics, 'switch_http_request_duration_seconds_count', { route: '/v1/queues/:name/messages', method: 'POST' }), 6)
  t.equal(value(metrics, 'switch_http_errors_total', { route: '/v1/queues/:name', method: 'GET', code: 'queue_not_found' }), 2)
  t.equal(value(metrics, 'switch_http_errors_total', { route: '/v1/queues/:name/messages', method: 'POST', code: 'queue_not_found' }), 1)
  t.equal(value(metrics, 'switch_http_errors_total', { route: 'none', method: 'GET', code: 'not_found' }), 1)
  t.equal(value(metrics, 'switch_limit', { limit: 'queues' }), 1000)
  t.equal(value(metrics, 'switch_limit_used', { limit: 'queues' }), 2)
  t.equal(value(metrics, 'switch_limit', { limit: 'timeout' }), 300)
  t.equal(value(metrics, 'switch_limit_used', { limit: 'queuedBytes' }), 1 + 1 + 4 + 5, 'b, c, pong and extra')
  t.ok((value(metrics, 'switch_limit_used', { limit: 'connections' }) ?? 0) >= 1, 'the connection limits, as diagnostics has them')
  t.equal(value(metrics, 'switch_limit_used', { limit: 'payload' }), undefined, 'a limit on one request has no use')
  t.ok(metrics.has('process_cpu_user_seconds_total'), 'the default process metrics')
  t.ok(metrics.has('nodejs_eventloop_lag_seconds'))
  // Buckets are cumulative and end with the count.
  const buckets = metrics.get('switch_http_request_duration_seconds')?.samples
    .filter((sample) => sample.name.endsWith('_bucket') && sample.labels.route === '/v1/sessions') ?? []
  t.same(buckets.map((sample) => sample.value), [...buckets.map((sample) => sample.value)].sort((a, b) => a - b), 'cumulative')
  t.equal(buckets.at(-1)?.labels.le, '+Inf')
  t.equal(buckets.at(-1)?.value, 2)

  aborter.abort()
  await poll
  await eventually('the stream counted closed', async () =>
    value(await scrape(t, api), 'switch_streams_open', { kind: 'deliveries' }) === 0 ? true : undefined)
})

t.test('queues are listed one by one up to a cap, the deepest first; every switch has a registry of its own', async (t) => {
  const { api } = await startHttp(t)
  const other = (await startHttp(t)).api
  const token = await api.login('maker')
  const count = MAX_QUEUE_SERIES + 5
  for (let i = 0; i < count; i++) await api.call('PUT', `/v1/queues/q${String(i).padStart(3, '0')}`, { token })
  await api.call('POST', '/v1/queues/q204/messages', { token, body: 'deep' })
  const metrics = await scrape(t, api)
  t.equal(value(metrics, 'switch_queues'), count)
  t.equal(metrics.get('switch_queue_depth')?.samples.length, MAX_QUEUE_SERIES, `only ${MAX_QUEUE_SERIES} queue series`)
  t.equal(value(metrics, 'switch_queue_depth', { queue: 'q204' }), 1, 'the deepest is listed, wherever it sorts by name')
  t.equal(value(metrics, 'switch_queue_depth', { queue: 'q203' }), undefined, 'the last by name is not')
  const theirs = await scrape(t, other)
  t.equal(value(theirs, 'switch_queues'), 0, 'the other switch counts its own')
  t.equal(value(theirs, 'switch_messages_sent_total'), 0)
})

t.test('with an auth file: observe is needed, shown by a session or an API key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-metrics-auth-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const scraperKey = generateApiKey()
  const appKey = generateApiKey()
  const file = join(dir, 'auth.json')
  await writeFile(file, JSON.stringify({
    principals: [
      { name: 'prometheus', apiKey: hashApiKey(scraperKey), permissions: [{ actions: ['observe'] }] },
      { name: 'ops', secret: await hashSecret('ops-secret'), permissions: [{ actions: ['observe'] }] },
      { name: 'app', apiKey: hashApiKey(appKey), permissions: [{ actions: ['send'], queues: ['*'] }] }
    ]
  }))
  const { api } = await startHttp(t, { authFile: file })

  const anonymous = await api.call('GET', '/metrics')
  t.equal(anonymous.status, 401)
  t.equal(codeOf(anonymous), 'session_required')
  const forged = await api.call('GET', '/metrics', { token: 'sk_forged' })
  t.equal(forged.status, 401)
  t.equal(codeOf(forged), 'unauthorized')
  const app = await api.call('GET', '/metrics', { token: appKey })
  t.equal(app.status, 403, 'an API key without observe')
  t.equal(codeOf(app), 'forbidden')
  // The key is no session: it is refused where a session is needed.
  t.equal((await api.call('GET', '/v1/diagnostics', { token: scraperKey })).status, 401)

  const metrics = await scrape(t, api, scraperKey)
  t.equal(value(metrics, 'switch_http_errors_total', { route: '/metrics', method: 'GET', code: 'session_required' }), 1)
  t.equal(value(metrics, 'switch_http_errors_total', { route: '/metrics', method: 'GET', code: 'unauthorized' }), 1)
  t.equal(value(metrics, 'switch_http_errors_total', { route: '/metrics', method: 'GET', code: 'forbidden' }), 1)
  t.equal(value(metrics, 'switch_sessions'), 0, 'scraping with a key starts no session')

  const login = await api.call('POST', '/v1/sessions', { json: { client: 'ops', principal: 'ops', secret: 'ops-secret' } })
  await scrape(t, api, (login.json as { token: string }).token)
})
