// Wire types of the switch's JSON API (under /v1). Shared by the server, the client library and the CLI,
// so that a change to the protocol is a compile error everywhere it matters. openapi.yaml documents the same
// shapes for clients in other languages.

import type { RetainedInfo } from './topics.js'

export const API_PREFIX = '/v1'

/** The header carrying the session token: `Authorization: Bearer <token>`. */
export const SESSION_HEADER = 'authorization'

/** The header carrying an idempotency key on a send. */
export const IDEMPOTENCY_HEADER = 'idempotency-key'

/**
 * Queue names: 1 to 200 characters from `A-Z a-z 0-9 . _ - : @ /`, not starting with `/` or `.`.
 * Wide enough for service names like `org.xen.xapi.xenops`, reply queues like `client-3:7`, and pub/sub
 * style paths; narrow enough to be safe in a URL segment (after percent-encoding `/`) and in a log line.
 */
export const QUEUE_NAME_MAX_LENGTH = 200
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_:@-][A-Za-z0-9._:@/-]*$/

export function queueNameProblem (name: string): string | undefined {
  if (name.length === 0) return 'queue name is empty'
  if (name.length > QUEUE_NAME_MAX_LENGTH) return `queue name is longer than ${QUEUE_NAME_MAX_LENGTH} characters`
  if (!QUEUE_NAME_PATTERN.test(name)) {
    return 'queue name may only hold A-Z a-z 0-9 . _ - : @ / and may not start with . or /'
  }
  return undefined
}

export type QueueKind = 'persistent' | 'temporary'

/**
 * How a queue hands out its messages. `cursor` (the default, the original's): every receiver sees every unacked
 * message above its cursor. `work`: each message is leased to one receiver at a time (competing consumers).
 */
export type QueueMode = 'cursor' | 'work'

/** A queue's options, set when it is created (`PUT /v1/queues/{name}` with a JSON body). Times in seconds. */
export interface QueueOptions {
  mode?: QueueMode
  /** Work queues: how long a delivery leases a message (default 30 s); extend it with POST /v1/messages/{id}/lease. */
  visibilityTimeout?: number
  /** Work queues: deliveries without an ack after which a message is dead-lettered (or dropped without `deadLetter`). */
  maxDeliveries?: number
  /** The queue that takes this queue's messages that reach maxDeliveries or expire; it must exist. */
  deadLetter?: string
  /** Seconds a message may stay unacked before it expires (to `deadLetter`, else dropped); a send's `ttl` overrides it. */
  messageTtl?: number
}

/** The longest visibility timeout, message TTL or delay, in seconds (12 hours, 14 days, 14 days). */
export const MAX_VISIBILITY_TIMEOUT = 43_200
export const MAX_MESSAGE_TTL = 1_209_600
export const MAX_DELAY = 1_209_600
/** A work queue's lease when its creator gives none, in seconds. */
export const DEFAULT_VISIBILITY_TIMEOUT = 30

/** Why a message was moved to a dead-letter queue, and from where. */
export interface DeadLetterInfo {
  reason: 'max_deliveries' | 'expired'
  /** The queue it was moved from. */
  from: string
  /** Its deliveries there, without an ack. */
  deliveries: number
  /** Milliseconds since the epoch when it was moved. */
  time: number
}

/** A lease extended (or given back, with 0 seconds): `POST /v1/messages/{id}/lease`. */
export interface LeaseResponse {
  id: number
  /** Milliseconds since the epoch when the lease runs out. */
  expires: number
}

/** Dead letters moved back: `POST /v1/queues/{name}/redrive?to=QUEUE`. */
export interface RedriveResponse {
  moved: number
}

/** A login: with an auth file, a principal's name and secret, or an API key. */
export interface LoginRequest {
  client: string
  principal?: string
  secret?: string
  apiKey?: string
  /**
   * Seconds of inactivity after which the session should end, instead of the switch's default (`switch serve
   * --session-ttl`): granted up to `--max-session-ttl`. A person typing requests by hand wants more than 30 s.
   */
  ttl?: number
}

export interface LoginResponse {
  token: string
  client: string
  /** Seconds of inactivity after which the session ends: the lease granted. */
  ttl: number
}

/** A stream ticket (POST /v1/stream/tickets): opens the session's event stream once, without the bearer header. */
export interface StreamTicketResponse {
  ticket: string
  /** Milliseconds since the epoch after which the ticket is refused. */
  expires: number
}

export interface SessionInfo {
  token: string
  client: string
  subscriptions: string[]
  /** Temporary queues the session owns. */
  queues: string[]
  /** Milliseconds since the epoch of the session's last request. */
  lastActivity: number
  /** Requests of this session in flight now (a long-poll counts). */
  inFlight: number
}

export interface QueueInfo {
  name: string
  kind: QueueKind
  /** Client name of the owning session, for temporary queues. */
  owner?: string
  /** Unacked messages held. */
  length: number
  /** True while a transfer waits on the queue or ended within the session TTL. */
  alive: boolean
  /** Its topic filters (see lib/pubsub.ts), sorted; absent when it has none. */
  bindings?: string[]
  /** The options it was created with; absent for a plain cursor queue. */
  options?: QueueOptions
  /** Work queues: messages leased to a receiver now. */
  leased?: number
  /**
   * Messages expired or delivered maxDeliveries times that wait here, never delivered again, for room in the
   * full dead-letter queue (see maxQueueLength); absent when none.
   */
  deadLetterWaiting?: number
}

export interface CreateQueueResponse {
  name: string
  kind: QueueKind
  /** False when a persistent queue of that name already existed. */
  created: boolean
}

export interface ListResponse {
  queues: QueueInfo[]
}

export interface SendResponse {
  id: number
  /** True when an idempotency key matched an earlier send: nothing new was enqueued. */
  duplicate: boolean
}

/**
 * The answer (200, where a send answers 201) to a reply-and-ack (`ack=<id>`) whose queue no longer exists: the
 * caller is gone (its session ended, and its temporary reply queue with it). The request is acked, since it was
 * answered, and the reply dropped: a `drop` event in the trace, counted in diagnostics' `dropped`. No message
 * was made, so there is no id.
 */
export interface ReplyDropped {
  dropped: true
  /** The request's id, now acked. */
  acked: number
}

/** What a send answers: its message, or, for a reply whose caller is gone, the drop. */
export type SendResult = SendResponse | ReplyDropped

/** The most items one batch request (`POST /v1/messages`, `POST /v1/acks`) may carry. */
export const BATCH_MAX_ITEMS = 1000

/** One message of a batch send: the single send's query parameters and header as members. */
export interface BatchSendItem {
  queue: string
  /** UTF-8 text, or base64 when `encoding` says so. */
  payload: string
  encoding?: 'base64'
  correlationId?: string
  replyTo?: string
  ack?: number
  error?: boolean
  idempotencyKey?: string
  /** Seconds, as the single send's `ttl` and `delay` (a delay only on a work queue). */
  ttl?: number
  delay?: number
}

export interface BatchSendRequest {
  messages: BatchSendItem[]
}

/** What the single send would have answered: its response, or its error body. */
export type BatchSendResult = SendResult | ErrorBody

export interface BatchSendResponse {
  /** One per message, in order. */
  results: BatchSendResult[]
}

export interface BatchAckRequest {
  ids: number[]
}

export interface BatchAckResponse {
  acked: number[]
  /** Never sent, or acked already: the single ack's 404. */
  missing: number[]
}

/** A message as transfer returns it. */
export interface Message {
  id: number
  queue: string
  /** The payload: UTF-8 text, or base64 when `encoding` says so (the payload was not valid UTF-8). */
  payload: string
  encoding?: 'base64'
  correlationId?: string
  replyTo?: string
  /** Set on replies that report a failure of the request they answer. */
  error?: boolean
  /** Client name of the sender. */
  origin: string
  /** Milliseconds since the epoch when the switch accepted it. */
  time: number
  /** The topic it was published to, for a copy a publish delivered. */
  topic?: string
  /** Set on a retained message delivered because a new binding of the queue matched its topic. */
  retained?: boolean
  /**
   * How many times it has been delivered, this delivery included. Work queues count leases durably; a cursor
   * queue counts in the memory of the switch that delivers it.
   */
  deliveries: number
  /** Why it is in this (dead-letter) queue. */
  deadLetter?: DeadLetterInfo
}

export interface TransferResponse {
  messages: Message[]
  /** The cursor to pass as `after` next time: the highest id returned, else the `after` given. */
  next: number
}

export type TraceEventType =
  | 'send' | 'deliver' | 'ack' | 'create' | 'destroy' | 'login' | 'session_end' | 'drop' | 'dead_letter'

export interface TraceEvent {
  id: number
  time: number
  type: TraceEventType
  /** Client name of whoever caused the event (sender, receiver, acker, creator). */
  client?: string
  queue?: string
  messageId?: number
  correlationId?: string
  /** For a reply that acked its request: milliseconds between the request's send and the reply. */
  processingTime?: number
}

export interface TraceResponse {
  events: TraceEvent[]
  next: number
}

export interface DiagnosticsMessage {
  id: number
  origin: string
  time: number
  /** Milliseconds since it was sent. */
  age: number
  correlationId?: string
  replyTo?: string
  size: number
  /** The first bytes of the payload, as text. */
  preview: string
  /** Deliveries so far; absent when none. */
  deliveries?: number
  /** Work queues: when its lease runs out, ms since the epoch, while it is leased. */
  leaseExpires?: number
  /** Why it is in this (dead-letter) queue. */
  deadLetter?: DeadLetterInfo
}

export interface DiagnosticsQueue {
  name: string
  kind: QueueKind
  owner?: string
  messages: DiagnosticsMessage[]
  /** When the last transfer on this queue started, ms since the epoch; absent if never polled. */
  lastTransfer?: number
  /** The deadline of the latest long-poll on this queue; absent if never polled. */
  nextTransferExpected?: number
  /**
   * When the last session subscribed to it unsubscribed or logged out (its service stopped cleanly), ms since the
   * epoch; absent if it is polled still, or was since.
   */
  left?: number
  /** Long-polls waiting on it now. */
  waiting: number
  /** Its topic filters, sorted; absent when it has none. */
  bindings?: string[]
  /** The options it was created with; absent for a plain cursor queue. */
  options?: QueueOptions
  /** Work queues: messages leased to a receiver now. */
  leased?: number
  /**
   * Messages expired or delivered maxDeliveries times that wait here, never delivered again, for room in the
   * full dead-letter queue (see maxQueueLength); absent when none.
   */
  deadLetterWaiting?: number
  /** Messages it holds that `messages` leaves out, the answer having reached its byte budget; absent when none. */
  omitted?: number
}

export interface DiagnosticsSession {
  /** A short id that tells sessions apart; it reveals nothing of the session's token. */
  id: string
  /** The client name it logged in with; for a session of the original protocols, whose name is its token, not that. */
  client: string
  /** The principal it logged in as (`anonymous` on a switch without an auth file). */
  principal: string
  subscriptions: string[]
  queues: string[]
  lastActivity: number
  inFlight: number
}

export interface StoreInfo {
  kind: string
  location?: string
}

/** A configured limit and, for the limits on what the switch holds, how much of it is in use now. */
export interface LimitUsage {
  limit: number
  used?: number
}

/** Every limit of the switch against its use now. */
export interface DiagnosticsLimits {
  /** Bytes of one payload. */
  payload: LimitUsage
  /** Queues in all. */
  queues: LimitUsage
  /** Temporary queues of one session; `used` is the most any session owns. */
  sessionQueues: LimitUsage
  /** Unacked messages in one queue; `used` is the longest queue. */
  queueLength: LimitUsage
  /** Payload bytes held by all queues together. */
  queuedBytes: LimitUsage
  /** Long-polls of one session waiting at once; `used` is the most any session has. */
  sessionPolls: LimitUsage
  /** Messages one transfer returns. */
  transfer: LimitUsage
  /**
   * Bytes one answer encodes (a transfer, a stream batch, diagnostics, trace): past it, fewer messages and a
   * cursor that continues; at least one message always goes. Absent from an older switch's answer.
   */
  answerBytes?: LimitUsage
  /** Seconds a long-poll may wait. */
  timeout: LimitUsage
  /** HTTP connections open at once (TCP); absent when the switch is not served over HTTP. */
  connections?: LimitUsage
  /** TCP connections of one client address; `used` is the most any address holds. Absent without HTTP. */
  connectionsPerAddress?: LimitUsage
  /** Bytes written to connections and not yet read by their clients, all together. Absent without HTTP. */
  unreadBytes?: LimitUsage
}

/** What the HTTP server did to keep connections fair, since start. */
export interface DiagnosticsConnections {
  /** Connections refused (429) because their address held `connectionsPerAddress` already. */
  refusedPerAddress: number
  /** Connections closed because they sent no request within the idle-connection timeout. */
  closedIdle: number
  /** Connections closed because their client did not read while `unreadBytes` was over its limit. */
  closedSlowReaders: number
}

export interface Diagnostics {
  startTime: number
  now: number
  /**
   * Messages dropped since start because their queue did not exist: sends through the original protocols, and
   * replies (with `ack`) to a caller whose reply queue had gone.
   */
  dropped?: number
  store: StoreInfo
  /** Always sent by this version; optional for reports built from an older switch's answer. */
  limits?: DiagnosticsLimits
  queues: DiagnosticsQueue[]
  sessions: DiagnosticsSession[]
  /** The topics holding a retained message. Always sent by this version. */
  retained?: RetainedInfo
  /** Absent when the switch is not served over HTTP. */
  connections?: DiagnosticsConnections
  /**
   * Present when the answer reached its byte budget (maxAnswerBytes): how many queues, sessions and messages it
   * leaves out. Queues and sessions are listed first, then messages queue by queue; `retained.count` still counts all.
   */
  omitted?: DiagnosticsOmitted
}

export interface DiagnosticsOmitted {
  queues: number
  sessions: number
  messages: number
}

export interface HealthResponse {
  status: 'ok' | 'shutting_down'
  uptime: number
}

export interface ErrorBody {
  error: {
    code: string
    message: string
    /** The request field at fault, when one is: a parameter (`timeout`, `name`), a header or a body member. */
    field?: string
  }
}

/** Every error `code` the switch answers with. Stable: clients may branch on them. */
export const ERROR_CODES = [
  'invalid_request', // a parameter, header or body failed validation; the message names the field
  'invalid_queue_name',
  'session_required', // no `Authorization: Bearer <token>` header
  'session_not_found', // unknown or expired token: log in again
  'ticket_not_found', // an unknown, used or expired stream ticket (GET /v1/stream?ticket=): ask for a new one
  'host_not_allowed', // the Host header names none of the switch's names (DNS rebinding): see --allowed-host
  'origin_not_allowed', // a request from a web page of an origin not listed with --cors-origin
  'unauthorized', // a login without valid credentials, or a session whose principal is gone
  'forbidden', // authenticated, but the principal may not do this
  'too_many_logins', // too many failed logins from this address: wait Retry-After seconds
  'queue_not_found',
  'queue_conflict', // PUT /v1/queues/{name} with options other than those the queue was created with
  'message_not_found',
  'not_leased', // a lease extended that this session does not hold (it ran out, or the message is another's)
  'not_found', // no such route
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'limit_exceeded', // a configured limit (queues, temporary queues, long-polls) was reached
  'insufficient_storage', // the queue, or the switch, holds as many messages or bytes as it may: retry later
  'request_timeout', // the request was not received in time (slow headers or body)
  'headers_too_large',
  'shutting_down',
  'storage_failed', // the durable store could not commit: nothing was applied
  'internal'
] as const

export type ErrorCode = typeof ERROR_CODES[number]

/** The HTTP status the switch answers each code with (the client gives errors of batch items the same). */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_queue_name: 400,
  session_required: 401,
  session_not_found: 401,
  ticket_not_found: 401,
  host_not_allowed: 403,
  origin_not_allowed: 403,
  unauthorized: 401,
  forbidden: 403,
  too_many_logins: 429,
  queue_not_found: 404,
  queue_conflict: 409,
  message_not_found: 404,
  not_leased: 409,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  limit_exceeded: 429,
  insufficient_storage: 507,
  request_timeout: 408,
  headers_too_large: 431,
  shutting_down: 503,
  storage_failed: 503,
  internal: 500
}
