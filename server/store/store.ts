import type { QueueKind, QueueOptions } from '../../protocol/wire.js'
import type { Operation } from '../core/operations.js'
import type { StoredMessage } from '../core/queue.js'
import type { RetainedMessage } from '../core/retained.js'

/**
 * What an operation changed (`Switch.applyOperation` says), for a store that mirrors the state: the core
 * applies the operation to its in-memory state first and answers the client only once `write` has resolved, so
 * a store that commits to disk (in groups) makes every "done" durable, and the in-memory store makes it free.
 */
export type StoreRecord =
  | { type: 'session', token: string, client: string, principal: string }
  | { type: 'session_end', token: string }
  | { type: 'queue', name: string, kind: QueueKind, owner?: string, options?: QueueOptions }
  | { type: 'destroy', name: string }
  // Leases granted, extended or given back: each message's delivery count and lease as they are now.
  | { type: 'lease', leases: PersistedLease[] }
  // Messages taken out (expired, dead-lettered, redriven) and the new ones made of them elsewhere.
  | { type: 'move', removed: number[], messages: StoredMessage[] }
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
  /** The lease granted at login (ms), where the store keeps it (a log's snapshot); else the switch's TTL. */
  ttl?: number
}

export interface PersistedQueue {
  name: string
  kind: QueueKind
  owner?: string
  options?: QueueOptions
}

export interface PersistedLease {
  id: number
  deliveries: number
  /** Absent: not leased. */
  leaseUntil?: number
  leasedBy?: string
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
  /** A log's operations after the state above, to apply in order (`Switch.applyOperation`). */
  operations?: Operation[]
}

export interface Store {
  /** For diagnostics: which store, and where. */
  readonly kind: string
  readonly location?: string
  /**
   * What is durable now: read at start-up, and again after a failed write to undo it in memory. A store that
   * fails a write resolves its `load` within the event-loop turn that reports the failure (the core reads the
   * store back before anything else runs).
   */
  load (): Promise<Snapshot>
  /**
   * Resolves once the record is durable; rejects if it could not be made so (then nothing of it applies).
   * Writes settle in the order they were made, and a failure fails every write made before it was reported:
   * they may build on the failed one. Failures are reported in their own event-loop turn, so that the core can
   * read the store back (`load`) before anything else runs. Not called on a store with a `log`.
   */
  write (record: StoreRecord): Promise<void> | undefined
  /** Present on a store several switches share: operations go through its log instead of `write`. */
  readonly log?: SharedLog
  close (): Promise<void>
}

/**
 * An ordered log of operations shared by several switches. Each applies every operation, its own and the
 * others', in log order with the same rules (state machine replication): the same state and the same answers
 * everywhere, ids from one counter, and replay at start-up is the live path.
 */
export interface SharedLog {
  /**
   * Hands every operation after what `load` returned to the follower, in log order, as it comes. A log that
   * compacts saves the follower's snapshot from time to time, and gives it one back if it fell behind the
   * log's start.
   */
  follow (follower: Follower): void
  /**
   * Appends the operation; resolves with what `apply` returned for it here (rejects with what it threw) once
   * this switch has applied it, after every operation before it. Rejects with StorageFailedError if it cannot
   * be appended: then it was not, or it is still applied, by every switch, when it comes up in the log.
   */
  submit (operation: Operation): Promise<unknown>
  /** Keeps a session's lease alive for its TTL (ms): called on every request, so cheap and never awaited. */
  touch (token: string, ttl: number): void
  /** Those of `tokens` whose lease has lapsed: no switch has seen them for a TTL. */
  lapsed (tokens: string[]): Promise<string[]>
}

/** The switch following a shared log. */
export interface Follower {
  /**
   * Applies an operation as it comes up; what it returns (or throws) answers the operation's submit. `own`:
   * this switch submitted it (the one to act first on what follows from it, see `Switch.due`).
   */
  apply: (operation: Operation, own: boolean) => unknown
  /** The state as of the last operation applied (`lastId` and all, no `operations`): what a compaction saves. */
  snapshot: () => Snapshot
  /** Replaces the state with a saved one: for a switch that fell behind what the log still holds. */
  restore: (snapshot: Snapshot) => void
}
