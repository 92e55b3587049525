// Human-readable views of the switch's state: the diagnostics report (after the original message-switch CLI) and
// trace lines. Pure functions of the wire types, so they are tested without a switch.
import type { Diagnostics, DiagnosticsLimits, DiagnosticsMessage, DiagnosticsQueue, QueueOptions, TraceEvent } from '../protocol/wire.js'
import { held, pollState, serviceState, type ServiceState } from '../protocol/services.js'

export { CRASHED_AFTER_MS, pollState, serviceState, type PollState, type ServiceState } from '../protocol/services.js'

export function formatDuration (ms: number): string {
  const t = Math.max(0, Math.round(ms))
  if (t < 1000) return `${t}ms`
  if (t < 59_950) return `${(t / 1000).toFixed(1)}s`
  const s = Math.round(t / 1000)
  const pad = (n: number): string => String(n).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86_400)}d${pad(Math.floor(s / 3600) % 24)}h`
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function byName (a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/**
 * A queue's options as flags of `switch create`, in brackets after two spaces (`  [work, visibility-timeout 30 s, …]`),
 * for `switch list` and the diagnostics report alike; nothing for a plain queue.
 */
export function describeOptions (options: QueueOptions | undefined): string {
  if (options === undefined) return ''
  const parts: string[] = []
  if (options.mode === 'work') parts.push('work', `visibility-timeout ${options.visibilityTimeout ?? 30} s`)
  if (options.maxDeliveries !== undefined) parts.push(`max-deliveries ${options.maxDeliveries}`)
  if (options.deadLetter !== undefined) parts.push(`dead-letter ${options.deadLetter}`)
  if (options.messageTtl !== undefined) parts.push(`message-ttl ${options.messageTtl} s`)
  return `  [${parts.join(', ')}]`
}

function describeService (queue: DiagnosticsQueue, now: number): string {
  const waiting = plural(held(queue), 'request') + ' waiting'
  const poll = pollState(queue, now)
  if (poll === 'polling') return `${plural(queue.waiting, 'long-poll')} waiting on it now, ${waiting}`
  if (poll === 'never') return `never polled, ${waiting}`
  if (poll === 'left') return `stopped ${formatDuration(now - (queue.left ?? now))} ago, ${waiting}`
  const deadline = queue.nextTransferExpected ?? now
  const when = deadline > now ? `ends in ${formatDuration(deadline - now)}` : `ended ${formatDuration(now - deadline)} ago`
  return `last long-poll ${when}, ${waiting}`
}

function describeReplyQueue (name: string, queues: Map<string, DiagnosticsQueue>, now: number): string {
  const queue = queues.get(name)
  if (queue === undefined) return 'reply queue gone: the caller gave up'
  switch (pollState(queue, now)) {
    case 'polling': return 'caller waiting'
    case 'recent': return 'caller polled recently'
    case 'never': return 'caller not waiting yet'
    case 'stale': return 'caller appears to have crashed'
    case 'left': return 'caller stopped waiting'
  }
}

function preview (message: DiagnosticsMessage): string {
  const shown = JSON.stringify(message.preview)
  const cut = Buffer.byteLength(message.preview) < message.size ? '...' : ''
  return `${shown}${cut} (${plural(message.size, 'byte')})`
}

function describeMessage (message: DiagnosticsMessage, queues: Map<string, DiagnosticsQueue>, now: number): string[] {
  const facts = [`#${message.id} from ${message.origin}`, `sent ${formatDuration(message.age)} ago`]
  if (message.correlationId !== undefined) facts.push(`correlation id ${message.correlationId}`)
  if (message.replyTo !== undefined) {
    facts.push(`reply to ${message.replyTo} (${describeReplyQueue(message.replyTo, queues, now)})`)
  }
  return [`    ${facts.join(', ')}`, `      ${preview(message)}`]
}

function section (title: string, lines: string[], whenEmpty?: string): string[] {
  if (lines.length === 0) return whenEmpty === undefined ? [] : [`${title}: ${whenEmpty}`]
  return [`${title}:`, ...lines.map((line) => `  ${line}`)]
}

/** The diagnostics report: what runs, what was called but never started, what looks stuck, and who waits. */
export function diagnosticsReport (diagnostics: Diagnostics): string {
  const { now } = diagnostics
  const queues = [...diagnostics.queues].sort(byName)
  const index = new Map(queues.map((queue) => [queue.name, queue]))
  const services = queues.filter((queue) => queue.kind === 'persistent')
  const width = Math.max(0, ...services.map((queue) => queue.name.length))
  const servicesIn = (state: ServiceState): string[] => services
    .filter((queue) => serviceState(queue, now) === state)
    .map((queue) => `${queue.name.padEnd(width)}  ${describeService(queue, now)}${describeOptions(queue.options)}`)

  const store = diagnostics.store.location === undefined
    ? diagnostics.store.kind
    : `${diagnostics.store.kind} at ${diagnostics.store.location}`
  const lines = [
    `Switch up ${formatDuration(now - diagnostics.startTime)} (since ${new Date(diagnostics.startTime).toISOString()}), ` +
      `store: ${store}, ${plural(queues.length, 'queue')}, ${plural(diagnostics.sessions.length, 'session')}`,
    '',
    ...section('Running', servicesIn('running'), 'none'),
    ...section('Called but never started', servicesIn('never_started'), 'none'),
    ...section('Crashed or deadlocked', servicesIn('crashed'), 'none'),
    ...section('Stopped (logged out)', servicesIn('stopped')),
    ...section('Idle', servicesIn('idle')),
    ...section('Temporary queues holding replies', queues
      .filter((queue) => queue.kind === 'temporary' && held(queue) > 0)
      .map((queue) => `${queue.name} (owner ${queue.owner ?? 'gone'}): ${plural(held(queue), 'reply')} waiting, ` +
        describeReplyQueue(queue.name, index, now)))
  ]

  const waiting = queues.filter((queue) => held(queue) > 0)
  lines.push('')
  if (waiting.length === 0) {
    lines.push('No messages waiting.')
  } else {
    lines.push('Messages waiting:')
    for (const queue of waiting) {
      lines.push(`  ${queue.name}:`)
      for (const message of queue.messages) lines.push(...describeMessage(message, index, now))
      if (queue.omitted !== undefined) lines.push(`    and ${plural(queue.omitted, 'more message')}, not listed`)
    }
  }

  // Publish/subscribe, shown only where it is in use.
  const bound = queues.filter((queue) => queue.bindings !== undefined && queue.bindings.length > 0)
  const retained = diagnostics.retained?.topics ?? []
  if (bound.length > 0 || retained.length > 0) {
    lines.push('', ...section('Topic bindings', bound.map((queue) => `${queue.name}  <- ${(queue.bindings ?? []).join(', ')}`), 'none'))
    lines.push(...section(`Retained messages (${plural(retained.length, 'topic')})`, retained, 'none'))
  }

  const sessions = [...diagnostics.sessions].sort((a, b) => a.client < b.client ? -1 : a.client > b.client ? 1 : 0)
  lines.push('', ...section('Sessions', sessions.map((session) => {
    const facts = [`${session.client} [${session.id}]`, `last active ${formatDuration(now - session.lastActivity)} ago`]
    if (session.inFlight > 0) facts.push(`${plural(session.inFlight, 'request')} in flight`)
    if (session.subscriptions.length > 0) facts.push(`subscribed to ${session.subscriptions.join(' ')}`)
    if (session.queues.length > 0) facts.push(`owns ${session.queues.join(' ')}`)
    return facts.join(', ')
  }), 'none'))
  if (diagnostics.limits !== undefined) lines.push('', ...section('Limits (in use / limit)', describeLimits(diagnostics.limits)))
  const { omitted } = diagnostics
  if (omitted !== undefined) {
    lines.push('', `Not listed, to keep the answer within answerBytes: ${plural(omitted.queues, 'queue')}, ` +
      `${plural(omitted.sessions, 'session')}, ${plural(omitted.messages, 'message')}`)
  }
  const closed = diagnostics.connections
  if (closed !== undefined && closed.refusedPerAddress + closed.closedIdle + closed.closedSlowReaders > 0) {
    lines.push('', `Connections since start: ${closed.refusedPerAddress} refused over the per-address cap, ` +
      `${closed.closedIdle} closed idle, ${closed.closedSlowReaders} closed for not reading`)
  }
  return lines.join('\n') + '\n'
}

/** 512 B, 4 KiB, 1.5 MiB: a byte count as people read it (`--json` keeps the exact number). */
export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  const shown = unit === 0 ? String(value) : String(Number(value.toFixed(value < 10 ? 2 : 1)))
  return `${shown} ${units[unit]}`
}

/** The limits counted in bytes, and in seconds; the others count things. */
const BYTE_LIMITS = new Set(['payload', 'queuedBytes', 'answerBytes', 'unreadBytes'])
const SECOND_LIMITS = new Set(['timeout'])

/** One line per limit, in human units, the ones that hold things with their use, the nearly full flagged. */
function describeLimits (limits: DiagnosticsLimits): string[] {
  return Object.entries(limits).map(([name, { limit, used }]) => {
    const unit = (n: number): string => BYTE_LIMITS.has(name) ? formatBytes(n) : SECOND_LIMITS.has(name) ? `${n} s` : String(n)
    if (used === undefined) return `${name}: ${unit(limit)}`
    const nearlyFull = used >= limit * 0.9 ? '  (nearly full)' : ''
    return `${name}: ${unit(used)} / ${unit(limit)}${nearlyFull}`
  })
}

/** One trace event on one line: time, type, client, queue, message id and, for replies, the processing time. */
export function formatTraceEvent (event: TraceEvent): string {
  const fields = [
    new Date(event.time).toISOString(),
    event.type.padEnd(11),
    event.client ?? '-',
    event.queue ?? '-',
    event.messageId === undefined ? '-' : `#${event.messageId}`
  ]
  if (event.correlationId !== undefined) fields.push(`correlation=${event.correlationId}`)
  if (event.processingTime !== undefined) fields.push(`took ${formatDuration(event.processingTime)}`)
  return fields.join(' ')
}
