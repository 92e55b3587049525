import t from 'tap'
import type { Diagnostics, DiagnosticsQueue } from '../../protocol/wire.js'
import { diagnosticsReport, formatBytes, formatDuration, formatTraceEvent, pollState, serviceState } from '../../cli/report.js'

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5)

function queue (name: string, fields: Partial<DiagnosticsQueue> = {}): DiagnosticsQueue {
  return { name, kind: 'persistent', messages: [], waiting: 0, ...fields }
}

function request (id: number, fields: Partial<DiagnosticsQueue['messages'][number]> = {}): DiagnosticsQueue['messages'][number] {
  return { id, origin: 'caller', time: NOW - 5000, age: 5000, size: 5, preview: 'hello', ...fields }
}

const diagnostics: Diagnostics = {
  startTime: NOW - (2 * 3600 + 3 * 60) * 1000,
  now: NOW,
  store: { kind: 'memory' },
  queues: [
    // Long-polled right now.
    queue('svc.running', { waiting: 1, lastTransfer: NOW - 1000, nextTransferExpected: NOW + 29_000 }),
    // Between two long-polls: its last one ended 2 s ago.
    queue('svc.between', { lastTransfer: NOW - 32_000, nextTransferExpected: NOW - 2000, messages: [request(7)] }),
    queue('svc.never', {
      messages: [request(3, { correlationId: 'c-3', replyTo: 'tmp-waiting' }), request(4, { replyTo: 'tmp-gone', age: 90_000 })]
    }),
    queue('svc.stuck', {
      lastTransfer: NOW - 100_000,
      nextTransferExpected: NOW - 70_000,
      messages: [request(5, { replyTo: 'tmp-crashed', preview: 'a'.repeat(80), size: 4096 })]
    }),
    queue('svc.idle', { lastTransfer: NOW - 100_000, nextTransferExpected: NOW - 70_000 }),
    queue('tmp-waiting', { kind: 'temporary', owner: 'caller', waiting: 1, lastTransfer: NOW - 100, nextTransferExpected: NOW + 5000 }),
    queue('tmp-crashed', { kind: 'temporary', owner: 'old-caller', lastTransfer: NOW - 99_000, nextTransferExpected: NOW - 69_000 }),
    queue('tmp-replied', {
      kind: 'temporary',
      owner: 'slow-caller',
      messages: [request(9, { origin: 'svc.between-server', correlationId: 'c-1', preview: 'line1\nline2', size: 11 })]
    })
  ],
  sessions: [
    { client: 'caller', principal: 'anonymous', id: 'abc12345', subscriptions: ['tmp-waiting'], queues: ['tmp-waiting'], lastActivity: NOW - 100, inFlight: 1 },
    { client: 'server', principal: 'anonymous', id: 'def45678', subscriptions: ['svc.running'], queues: [], lastActivity: NOW - 1000, inFlight: 0 }
  ]
}

t.test('services are classified as the original did', async (t) => {
  const state = (name: string): string => {
    const found = diagnostics.queues.find((q) => q.name === name)
    if (found === undefined) throw new Error(name)
    return `${pollState(found, NOW)}/${serviceState(found, NOW)}`
  }
  t.equal(state('svc.running'), 'polling/running')
  t.equal(state('svc.between'), 'recent/running', 'a deadline up to 30 s past is between two polls')
  t.equal(state('svc.never'), 'never/never_started')
  t.equal(state('svc.stuck'), 'stale/crashed')
  t.equal(state('svc.idle'), 'stale/idle', 'nothing waiting: nobody is kept waiting')
  t.equal(serviceState(queue('fresh'), NOW), 'idle', 'created, never called')
  // Its last long-poll's deadline is still ahead, but its session unsubscribed (Ctrl-C on `switch serve QUEUE`).
  const left = queue('svc.left', { lastTransfer: NOW - 1000, nextTransferExpected: NOW + 20_000, left: NOW - 500 })
  t.equal(`${pollState(left, NOW)}/${serviceState(left, NOW)}`, 'left/idle', 'a stopped service is not running')
  const leftBehind = { ...left, messages: [request(11)] }
  t.equal(serviceState(leftBehind, NOW), 'stopped', 'stopped with requests waiting')
  t.match(diagnosticsReport({ ...diagnostics, queues: [leftBehind] }), /Stopped \(logged out\):\n {2}svc\.left {2}stopped 500ms ago, 1 request waiting\n/)
})

t.test('the report', async (t) => {
  const report = diagnosticsReport(diagnostics)
  const lines = report.split('\n')
  t.equal(lines[0], 'Switch up 2h03m (since 2024-01-02T01:01:05.000Z), store: memory, 8 queues, 2 sessions')
  const sectionOf = (title: string): string[] => {
    const start = lines.indexOf(`${title}:`)
    t.not(start, -1, `has a ${title} section`)
    const end = lines.findIndex((line, i) => i > start && !line.startsWith('  '))
    return lines.slice(start + 1, end)
  }
  t.match(sectionOf('Running'), [/^ {2}svc\.between +last long-poll ended 2\.0s ago, 1 request waiting$/, /^ {2}svc\.running +1 long-poll waiting on it now, 0 requests waiting$/])
  t.match(sectionOf('Called but never started'), [/^ {2}svc\.never +never polled, 2 requests waiting$/])
  t.match(sectionOf('Crashed or deadlocked'), [/^ {2}svc\.stuck +last long-poll ended 1m10s ago, 1 request waiting$/])
  t.match(sectionOf('Idle'), [/^ {2}svc\.idle /])
  t.same(sectionOf('Temporary queues holding replies'), ['  tmp-replied (owner slow-caller): 1 reply waiting, caller not waiting yet'])
  t.same(sectionOf('Messages waiting'), [
    '  svc.between:',
    '    #7 from caller, sent 5.0s ago',
    '      "hello" (5 bytes)',
    '  svc.never:',
    '    #3 from caller, sent 5.0s ago, correlation id c-3, reply to tmp-waiting (caller waiting)',
    '      "hello" (5 bytes)',
    '    #4 from caller, sent 1m30s ago, reply to tmp-gone (reply queue gone: the caller gave up)',
    '      "hello" (5 bytes)',
    '  svc.stuck:',
    '    #5 from caller, sent 5.0s ago, reply to tmp-crashed (caller appears to have crashed)',
    `      "${'a'.repeat(80)}"... (4096 bytes)`,
    '  tmp-replied:',
    '    #9 from svc.between-server, sent 5.0s ago, correlation id c-1',
    '      "line1\\nline2" (11 bytes)'
  ])
  t.same(sectionOf('Sessions'), [
    '  caller [abc12345], last active 100ms ago, 1 request in flight, subscribed to tmp-waiting, owns tmp-waiting',
    '  server [def45678], last active 1.0s ago, subscribed to svc.running'
  ])
  t.ok(report.endsWith('\n'))
})

t.test('an empty switch', async (t) => {
  const report = diagnosticsReport({ startTime: NOW - 1500, now: NOW, store: { kind: 'file', location: '/var/lib/switch' }, queues: [], sessions: [] })
  t.equal(report, [
    'Switch up 1.5s (since 2024-01-02T03:04:03.500Z), store: file at /var/lib/switch, 0 queues, 0 sessions',
    '',
    'Running: none',
    'Called but never started: none',
    'Crashed or deadlocked: none',
    '',
    'No messages waiting.',
    '',
    'Sessions: none',
    ''
  ].join('\n'))
})

t.test('topic bindings and retained messages, when there are any', async (t) => {
  const report = diagnosticsReport({
    startTime: NOW - 1500,
    now: NOW,
    store: { kind: 'memory' },
    queues: [queue('dashboard', { bindings: ['alerts/#', 'site/+/temp'] }), queue('plain')],
    sessions: [],
    retained: { count: 2, topics: ['site/rack1/temp', 'site/rack2/temp'] }
  })
  t.match(report, [
    '',
    'Topic bindings:',
    '  dashboard  <- alerts/#, site/+/temp',
    'Retained messages (2 topics):',
    '  site/rack1/temp',
    '  site/rack2/temp',
    '',
    'Sessions: none'
  ].join('\n'))
})

t.test('a queue\'s options, as switch list shows them', async (t) => {
  const report = diagnosticsReport({
    startTime: NOW - 1500,
    now: NOW,
    store: { kind: 'memory' },
    queues: [
      queue('jobs', { options: { mode: 'work', visibilityTimeout: 30, maxDeliveries: 3, deadLetter: 'dead' } }),
      queue('dead', { options: { messageTtl: 86400 } }),
      queue('plain')
    ],
    sessions: []
  })
  t.match(report, [
    'Idle:',
    '  dead   never polled, 0 requests waiting  [message-ttl 86400 s]',
    '  jobs   never polled, 0 requests waiting  [work, visibility-timeout 30 s, max-deliveries 3, dead-letter dead]',
    '  plain  never polled, 0 requests waiting',
    ''
  ].join('\n'))
})

t.test('durations', async (t) => {
  t.equal(formatDuration(-5), '0ms')
  t.equal(formatDuration(999), '999ms')
  t.equal(formatDuration(1000), '1.0s')
  t.equal(formatDuration(59_949), '59.9s')
  t.equal(formatDuration(61_000), '1m01s')
  t.equal(formatDuration(3_600_000 + 5 * 60_000), '1h05m')
  t.equal(formatDuration(2 * 86_400_000 + 3 * 3_600_000), '2d03h')
})

t.test('trace lines', async (t) => {
  t.equal(
    formatTraceEvent({ id: 4, time: NOW, type: 'ack', client: 'srv', queue: 'svc', messageId: 12, correlationId: 'c', processingTime: 42 }),
    '2024-01-02T03:04:05.000Z ack         srv svc #12 correlation=c took 42ms'
  )
  t.equal(formatTraceEvent({ id: 1, time: NOW, type: 'login', client: 'a' }), '2024-01-02T03:04:05.000Z login       a - -')
})

t.test('limits, when the switch reports them: use against limit, the nearly full flagged', async (t) => {
  const report = diagnosticsReport({
    startTime: NOW - 1500,
    now: NOW,
    store: { kind: 'memory' },
    queues: [],
    sessions: [],
    limits: {
      payload: { limit: 1048576 },
      queues: { limit: 100, used: 95 },
      sessionQueues: { limit: 100, used: 1 },
      queueLength: { limit: 1000, used: 3 },
      queuedBytes: { limit: 4096, used: 10 },
      sessionPolls: { limit: 100, used: 0 },
      transfer: { limit: 1000 },
      answerBytes: { limit: 4194304 },
      timeout: { limit: 300 },
      connections: { limit: 20000, used: 2 },
      unreadBytes: { limit: 1000, used: 950 }
    },
    connections: { refusedPerAddress: 2, closedIdle: 0, closedSlowReaders: 1 }
  })
  t.match(report, /Limits \(in use \/ limit\):/)
  t.match(report, /unreadBytes: 950 B \/ 1000 B {2}\(nearly full\)/)
  t.match(report, /Connections since start: 2 refused over the per-address cap, 0 closed idle, 1 closed for not reading/)
  t.match(report, /queues: 95 \/ 100 {2}\(nearly full\)/)
  t.match(report, /sessionQueues: 1 \/ 100\n/)
  t.match(report, /payload: 1 MiB\n/, 'bytes in binary units')
  t.match(report, /answerBytes: 4 MiB\n/)
  t.match(report, /queuedBytes: 10 B \/ 4 KiB\n/)
  t.match(report, /timeout: 300 s\n/, 'durations in seconds')
  t.equal(formatBytes(1536), '1.5 KiB')
  t.equal(formatBytes(64 * 1024 * 1024), '64 MiB')
})

t.test('an answer cut to its byte budget: what it left out is counted, not mistaken for an idle queue', async (t) => {
  const report = diagnosticsReport({
    startTime: NOW - 1500,
    now: NOW,
    store: { kind: 'memory' },
    queues: [queue('svc.big', { messages: [request(1)], omitted: 99 }), queue('svc.unlisted', { omitted: 3 })],
    sessions: [],
    omitted: { queues: 2, sessions: 1, messages: 120 }
  })
  t.match(report, /svc\.big +never polled, 100 requests waiting/)
  t.match(report, /svc\.unlisted +never polled, 3 requests waiting/)
  t.match(report, / {4}and 99 more messages, not listed\n/)
  t.match(report, /Not listed, to keep the answer within answerBytes: 2 queues, 1 session, 120 messages\n$/)
})
