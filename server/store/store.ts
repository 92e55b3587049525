import type { QueueKind } from '../../protocol/wire.js'
import type { StoredMessage } from '../core/queue.js'
import type { RetainedMessage } from '../core/retained.js'

/**
 * What the core asks a store to make durable. Each change is a small record; the core applies it to its
 * in-memory state first and answers the client only once `write` has resolved, so a store that commits to
 * disk (in groups) makes every "done" durable, and the in-memory store makes it free.
 */
export type StoreRecord =
  | { type: 'session', token: string, client: string, principal: string }
  | { type: 'session_end', token: string }
  | { type: 'queue', name: string, kind: QueueKind, owner?: string }
  | { type: 'destroy', name: string }
  | { type: 'subscribe', token: string, queue: string }
  | { type: 'unsubscribe', token: string, queue: string }
  | { type: 'send', message: StoredMessage, idempotencyKey?: string, idempotencyExpires?: number, ack?: number }
  | { type: 'ack', id: number }
  // A publish: its copies, one per matching queue, and with the retain flag the topic's new retained message
  // (null: an empty payload cleared it).
  | {
    type: 'publish', topic: string, time: number, messages: StoredMessage[], retained?: RetainedMessage | null,
    idempotencyKey?: string, idempotencyExpires?: number
  }
  // A new binding, with the retained messages it delivered into its queue.
  | { type: 'bind', queue: string, filter: string, messages: StoredMessage[] }
  | { type: 'unbind', queue: string, filter: string }

export interface PersistedSession {
  token: string
  client: string
  /** The principal it logged in as (`anonymous` without an auth file, and for sessions stored before there were principals). */
  principal: string
  subscriptions: string[]
}

export interface PersistedQueue {
  name: string
  kind: QueueKind
  owner?: string
}

export interface PersistedIdempotencyKey {
  queue: string
  key: string
  id: number
  expires: number
}

export interface PersistedBinding {
  queue: string
  filter: string
}

/** A publish's idempotency key, with the ids of the copies that publish made. */
export interface PersistedPublishKey {
  topic: string
  key: string
  ids: number[]
  expires: number
}

/** Everything a store hands back at start-up. */
export interface Snapshot {
  lastId: number
  sessions: PersistedSession[]
  queues: PersistedQueue[]
  /** In id order. */
  messages: StoredMessage[]
  idempotencyKeys: PersistedIdempotencyKey[]
  bindings: PersistedBinding[]
  retained: RetainedMessage[]
  publishKeys: PersistedPublishKey[]
}

export interface Store {
  /** For diagnostics: which store, and where. */
  readonly kind: string
  readonly location?: string
  /** What is durable now: read at start-up, and again after a failed write to undo it in memory. */
  load (): Snapshot
  /**
   * Resolves once the record is durable; rejects if it could not be made so (then nothing of it applies).
   * Writes settle in the order they were made, and a failure fails every write made before it was reported:
   * they may build on the failed one. Failures are reported in their own event-loop turn, so that the core can
   * read the store back (`load`) before anything else runs.
   */
  write (record: StoreRecord): Promise<void> | undefined
  close (): Promise<void>
}
