import { nanoid } from 'nanoid'
import { isSessionLost } from './errors.js'
import { encodeName, type Connection } from './connection.js'
import type { CreateQueueResponse, LeaseResponse, QueueOptions, SendResponse, SendResult, TransferResponse } from '../protocol/wire.js'

// The session operations that rpc and serve build on, shared with SwitchClient so each is written once.
// `pin` and `retry` are internal: the public methods do not offer them.

export interface RequestOptions {
  signal?: AbortSignal
}

export interface SendOptions extends RequestOptions {
  correlationId?: string
  /** The queue a reply should go to. */
  replyTo?: string
  /** Ack this message in the same step (a server's reply to the request it answers). */
  ack?: number
  /** Mark the message as a failure reply. */
  error?: boolean
  /** Sends with the same key to the same queue enqueue once; by default a fresh key per call. */
  idempotencyKey?: string
  /** Seconds after which it expires unacked, instead of its queue's messageTtl. */
  ttl?: number
  /** Seconds before which it is not delivered (work queues only). */
  delay?: number
}

/** A queue's options (see QueueOptions); with none, an existing queue is found as it is. */
export interface CreateQueueOptions extends RequestOptions, QueueOptions {}

export interface TransferOptions extends RequestOptions {
  /** Return messages with ids above this cursor; 0 for everything. */
  after?: number
  /** Seconds to wait when nothing is there yet; 0 (the default) answers at once. */
  timeout?: number
  max?: number
}

export interface Internal {
  /** Run only in this session epoch (see Connection.request). */
  pin?: number
  /** False: one attempt even if the switch cannot be reached. */
  retry?: boolean
}

export async function createQueue (connection: Connection, name: string, options: CreateQueueOptions & Internal = {}): Promise<CreateQueueResponse> {
  const { mode, visibilityTimeout, maxDeliveries, deadLetter, messageTtl, ...rest } = options
  const given = Object.fromEntries(Object.entries({ mode, visibilityTimeout, maxDeliveries, deadLetter, messageTtl }).filter(([, value]) => value !== undefined))
  // Without options no body: an older switch takes none.
  const json = Object.keys(given).length === 0 ? undefined : given
  return await connection.request<CreateQueueResponse>({ method: 'PUT', path: `/queues/${encodeName(name)}`, json, ...rest })
}

/** Extends this session's lease on a work-queue message by `seconds` (default: the queue's visibilityTimeout); 0 gives it back. */
export async function extendLease (connection: Connection, id: number, seconds?: number, options: RequestOptions & Internal = {}): Promise<LeaseResponse> {
  return await connection.request<LeaseResponse>({ method: 'POST', path: `/messages/${id}/lease`, query: { seconds }, once: true, ...options })
}

export async function createTemporaryQueue (connection: Connection, options: RequestOptions & Internal = {}): Promise<CreateQueueResponse> {
  return await connection.request<CreateQueueResponse>({ method: 'POST', path: '/queues', ...options })
}

export async function subscribe (connection: Connection, queue: string, options: RequestOptions & Internal = {}): Promise<void> {
  const { subscriptions } = connection
  const known = subscriptions.has(queue)
  // Remembered before the request: a re-login while it is on its way then restores it too.
  subscriptions.add(queue)
  try {
    await connection.request<void>({ method: 'PUT', path: `/session/subscriptions/${encodeName(queue)}`, ...options })
  } catch (error) {
    if (!known && !isSessionLost(error)) subscriptions.delete(queue)
    throw error
  }
}

export async function unsubscribe (connection: Connection, queue: string, options: RequestOptions & Internal = {}): Promise<void> {
  connection.subscriptions.delete(queue)
  await connection.request<void>({ method: 'DELETE', path: `/session/subscriptions/${encodeName(queue)}`, ...options })
}

/** Answers SendResponse, or with `ack` possibly ReplyDropped: the reply's queue was gone, the request is acked. */
export async function send (
  connection: Connection, queue: string, body: string | Uint8Array, options?: SendOptions & Internal & { ack?: undefined }
): Promise<SendResponse>
export async function send (connection: Connection, queue: string, body: string | Uint8Array, options: SendOptions & Internal): Promise<SendResult>
export async function send (
  connection: Connection, queue: string, body: string | Uint8Array, options: SendOptions & Internal = {}
): Promise<SendResult> {
  const { correlationId, replyTo, ack, error, idempotencyKey, ttl, delay, ...rest } = options
  return await connection.request<SendResult>({
    method: 'POST',
    path: `/queues/${encodeName(queue)}/messages`,
    query: { correlationId, replyTo, ack, error: error === true ? true : undefined, ttl, delay },
    body,
    // One key per logical send, the same over its retries: a send retried after a lost response is not doubled.
    idempotencyKey: idempotencyKey ?? nanoid(),
    once: ack !== undefined,
    ...rest
  })
}

export async function ack (connection: Connection, id: number, options: RequestOptions & Internal = {}): Promise<void> {
  await connection.request<void>({ method: 'DELETE', path: `/messages/${id}`, once: true, ...options })
}

export async function transfer (connection: Connection, options: TransferOptions & Internal = {}): Promise<TransferResponse> {
  const { after, timeout, max, ...rest } = options
  return await connection.request<TransferResponse>({
    method: 'GET', path: '/transfer', query: { after, timeout, max }, poll: timeout, ...rest
  })
}
