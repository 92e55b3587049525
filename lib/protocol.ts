// Wire types of the switch's JSON API (under /v1). Shared by the server, the client library and the CLI,
// so that a change to the protocol is a compile error everywhere it matters. openapi.yaml documents the same
// shapes for clients in other languages.

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

export interface LoginRequest {
  client: string
}

export interface LoginResponse {
  token: string
  client: string
  /** Seconds of inactivity after which the session ends. */
  ttl: number
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
}

export interface TransferResponse {
  messages: Message[]
  /** The cursor to pass as `after` next time: the highest id returned, else the `after` given. */
  next: number
}

export type TraceEventType =
  | 'send' | 'deliver' | 'ack' | 'create' | 'destroy' | 'login' | 'session_end' | 'drop'

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
  /** Long-polls waiting on it now. */
  waiting: number
}

export interface DiagnosticsSession {
  client: string
  /** The first characters of the token: enough to tell sessions apart, not enough to use one. */
  tokenPrefix: string
  subscriptions: string[]
  queues: string[]
  lastActivity: number
  inFlight: number
}

export interface StoreInfo {
  kind: string
  location?: string
}

export interface Diagnostics {
  startTime: number
  now: number
  /** Messages dropped since start because their queue did not exist (sends through the original protocols). */
  dropped?: number
  store: StoreInfo
  queues: DiagnosticsQueue[]
  sessions: DiagnosticsSession[]
}

export interface HealthResponse {
  status: 'ok' | 'shutting_down'
  uptime: number
}

export interface ErrorBody {
  error: {
    code: string
    message: string
  }
}

/** Every error `code` the switch answers with. Stable: clients may branch on them. */
export const ERROR_CODES = [
  'invalid_request', // a parameter, header or body failed validation; the message names the field
  'invalid_queue_name',
  'session_required', // no `Authorization: Bearer <token>` header
  'session_not_found', // unknown or expired token: log in again
  'queue_not_found',
  'message_not_found',
  'not_found', // no such route
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'limit_exceeded', // a configured limit (queues, messages, bytes, long-polls) was reached
  'shutting_down',
  'storage_failed', // the durable store could not commit: nothing was applied
  'internal'
] as const

export type ErrorCode = typeof ERROR_CODES[number]
