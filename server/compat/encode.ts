// The response bodies of the original message-switch protocols, byte for byte: JSON as OCaml's rpclib writes
// it (records in field order, absent options omitted, variants as ["Tag", args]), and how our messages look
// through each protocol's message type.
import type { TraceEvent } from '../../protocol/wire.js'
import { AnswerBudget } from '../core/budget.js'
import type { StoredMessage } from '../core/queue.js'
import type { QueueContents } from '../core/switch.js'
import { jsonSize, jsonStringSize } from '../http/json-size.js'

/** A message id in the xapi protocol: `["<queue>", n]`, n being our global id. */
export type MessageRef = [string, number]

export type XapiKind = ['Request', string] | ['Response', MessageRef]

export interface XapiMessage {
  payload: string
  kind: XapiKind
}

// A xapi response names the request it answers; we keep that as its correlation id "<queue>/<n>".
const RESPONSE_CORRELATION = /^(.*)\/(-?\d+)$/
const INTEGER = /^-?\d+$/
const NO_PAYLOAD = Buffer.alloc(0)

/**
 * Bytes of the JSON of `encode(message)`, in which the payload is the message's as a JSON string, plus a comma:
 * what the message adds to a list in an answer, measured without encoding the payload.
 */
function sizeWithPayload (message: StoredMessage, encode: (message: StoredMessage) => unknown): number {
  return jsonSize(encode({ ...message, payload: NO_PAYLOAD })) - 2 + jsonStringSize(message.payload) + 1
}

/**
 * The correlation id a xapi response is stored with: the request's own, when it has one (a caller of another
 * protocol matches replies by it), else a reference to the request that the xapi view turns back into its kind.
 */
export function responseCorrelation (ref: MessageRef, request: StoredMessage | undefined): string {
  return request?.correlationId ?? `${ref[0]}/${ref[1]}`
}

/**
 * A message has a reply-to queue, or it is a response; one without a recognisable request is shown as answering
 * message 0 of queue "", which no xapi client waits for (a xapi server ignores responses).
 */
export function xapiKind (message: StoredMessage): XapiKind {
  if (message.replyTo !== undefined) return ['Request', message.replyTo]
  const match = message.correlationId === undefined ? null : RESPONSE_CORRELATION.exec(message.correlationId)
  return ['Response', match === null ? ['', 0] : [match[1], Number(match[2])]]
}

export function xapiMessage (message: StoredMessage): XapiMessage {
  return { payload: message.payload.toString('utf8'), kind: xapiKind(message) }
}

export function ref (message: StoredMessage): MessageRef {
  return [message.queue, message.id]
}

/** A send's answer: the new message's id, or none when the queue did not exist and the message was dropped. */
export function sendResult (queue: string, id: number | undefined): string {
  return JSON.stringify(id === undefined ? [] : [[queue, id]])
}

function xapiTransferEntry (message: StoredMessage): [MessageRef, XapiMessage] {
  return [ref(message), xapiMessage(message)]
}

/** Bytes a message adds to a xapi transfer. */
export function xapiTransferSize (message: StoredMessage): number {
  return sizeWithPayload(message, xapiTransferEntry)
}

export function xapiTransfer (messages: StoredMessage[], next: number): string {
  return JSON.stringify({ messages: messages.map(xapiTransferEntry), next: String(next) })
}

export function queueNames (names: string[]): string {
  return JSON.stringify(names)
}

/** Times in the xapi diagnostics are nanoseconds on the switch's clock, which starts at 0. */
function nanoseconds (ms: number, startTime: number): number {
  return Math.round((ms - startTime) * 1e6)
}

function diagnosticsEntry (message: StoredMessage, startTime: number): unknown {
  return [ref(message), {
    origin: ['Name', message.origin],
    time: nanoseconds(message.time, startTime),
    message: xapiMessage(message)
  }]
}

/**
 * The xapi diagnostics, at most `bytes` of them: the queues in name order, then their messages while the budget
 * lasts. The original's clients read only the fields they know, so what is left out is counted in two more,
 * `omitted_queues` and `omitted_messages`, present only when something is.
 */
export function xapiDiagnostics (contents: QueueContents[], startTime: number, now: number, bytes: number): string {
  const budget = new AnswerBudget(bytes)
  const permanent: Record<string, unknown> = {}
  const transient: Record<string, unknown> = {}
  const listed: Array<[QueueContents, unknown[]]> = []
  const sorted = [...contents].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  for (const queue of sorted) {
    const described: Record<string, unknown> = {}
    if (queue.nextTransferExpected !== undefined) {
      described.next_transfer_expected = nanoseconds(queue.nextTransferExpected, startTime)
    }
    const entries: unknown[] = []
    described.queue_contents = entries
    if (!budget.take(jsonSize({ [queue.name]: described }))) break
    listed.push([queue, entries])
    if (queue.kind === 'temporary') transient[queue.name] = described
    else permanent[queue.name] = described
  }
  let omittedMessages = 0
  for (const queue of sorted) omittedMessages += queue.length
  for (const [queue, entries] of listed) {
    for (const message of queue.messages) {
      if (!budget.take(sizeWithPayload(message, (shown) => diagnosticsEntry(shown, startTime)))) break
      entries.push(diagnosticsEntry(message, startTime))
    }
    omittedMessages -= entries.length
  }
  const diagnostics: Record<string, unknown> = {
    start_time: 0,
    current_time: nanoseconds(now, startTime),
    permanent_queues: permanent,
    transient_queues: transient
  }
  if (budget.full) {
    diagnostics.omitted_queues = sorted.length - listed.length
    diagnostics.omitted_messages = omittedMessages
  }
  return JSON.stringify(diagnostics)
}

/**
 * One of our trace events as a xapi trace event, or undefined for the kinds it has no form for (logins, queue
 * creation, drops...). `subject` is the message the event is about.
 */
export function xapiTraceEvent (event: TraceEvent, subject: StoredMessage | undefined): Record<string, unknown> | undefined {
  const { queue, messageId, client } = event
  if (queue === undefined || messageId === undefined) return undefined
  const time = event.time / 1000
  switch (event.type) {
    case 'send':
      if (subject === undefined) return undefined
      return { time, input: client, queue, message: ['Message', [queue, messageId], xapiMessage(subject)] }
    case 'deliver':
      if (subject === undefined) return undefined
      return { time, queue, output: client, message: ['Message', [queue, messageId], xapiMessage(subject)] }
    case 'ack': {
      const ack: Record<string, unknown> = { time, input: client, queue, message: ['Ack', [queue, messageId]] }
      if (event.processingTime !== undefined) ack.processing_time = Math.round(event.processingTime * 1e6)
      return ack
    }
    default:
      return undefined
  }
}

/** Bytes `[id, xapiTraceEvent(event, subject)]` adds to a trace answer; 0 for an event it does not show. */
export function xapiTraceEventSize (event: TraceEvent, subject: StoredMessage | undefined): number {
  if (subject !== undefined) return sizeWithPayload(subject, (emptied) => [event.id, xapiTraceEvent(event, emptied)])
  const shown = xapiTraceEvent(event, undefined)
  return shown === undefined ? 0 : jsonSize([event.id, shown]) + 1
}

export function traceEvents (events: Array<[number, Record<string, unknown>]>): string {
  return JSON.stringify({ events })
}

/** The message's correlation id, if it is one the 2013 protocol can carry: an integer. */
function integerCorrelation (message: StoredMessage): number | undefined {
  const correlation = message.correlationId
  return correlation !== undefined && INTEGER.test(correlation) ? Number(correlation) : undefined
}

/**
 * The 2013 message: its correlation id is an integer. Ours are strings; one that is not an integer (or none) is
 * shown as the message's own id, which a 2013 server echoes in its reply (see `legacyReplyCorrelation`).
 */
export function legacyMessage (message: StoredMessage): Record<string, unknown> {
  const described: Record<string, unknown> = {
    payload: message.payload.toString('utf8'),
    correlation_id: integerCorrelation(message) ?? message.id
  }
  if (message.replyTo !== undefined) described.reply_to = message.replyTo
  return described
}

/**
 * The correlation id a 2013 send without reply-to is stored with. Echoing the id shown for `request`, still held
 * and with this queue as its reply-to, it is that request's reply: stored with the correlation its caller (of our
 * API or xapi) matches replies by. Otherwise the 2013 integer, as it came.
 */
export function legacyReplyCorrelation (queue: string, correlationId: string, request: StoredMessage | undefined): string {
  if (request?.replyTo !== queue || String(request.id) !== correlationId || integerCorrelation(request) !== undefined) {
    return correlationId
  }
  return responseCorrelation(ref(request), request)
}

function legacyTransferEntry (message: StoredMessage): [number, Record<string, unknown>] {
  return [message.id, legacyMessage(message)]
}

/** Bytes a message adds to a 2013 transfer. */
export function legacyTransferSize (message: StoredMessage): number {
  return sizeWithPayload(message, legacyTransferEntry)
}

export function legacyTransfer (messages: StoredMessage[]): string {
  return JSON.stringify({ messages: messages.map(legacyTransferEntry) })
}
