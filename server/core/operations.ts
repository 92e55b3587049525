import type { QueueKind, QueueOptions } from '../../protocol/wire.js'

/**
 * An operation is a value: what a client asked for, with the time it asked and who asked, but none of the
 * decisions (does the queue exist, which id, is the key a retry). `Switch.applyOperation` makes those, on the
 * state as it is when the operation comes up, so that applying the same operations in the same order gives the
 * same state and the same answers anywhere: the live path, a replay at start-up, and every node of a switch
 * sharing one log (the original's `do_op`).
 */
export type Operation =
  /** `ttl`: the lease in milliseconds, as granted at login. */
  | { type: 'session', token: string, client: string, principal: string, ttl: number, time: number }
  | { type: 'session_end', token: string, time: number }
  /**
   * Creates a queue; one that exists already is left as it is (refused if `options` are given and differ).
   * `owner`: a temporary queue's session. `options`: normalized (see `queueOptions`).
   */
  | { type: 'queue', name: string, kind: QueueKind, owner?: string, options?: QueueOptions, client: string, time: number }
  /** `token`: the session asking, absent for a protocol without owners. */
  | { type: 'destroy', name: string, token?: string, client?: string, time: number }
  | { type: 'subscribe', token: string, queue: string }
  | { type: 'unsubscribe', token: string, queue: string }
  | {
    type: 'send', token: string, client: string, queue: string, payload: Buffer, time: number,
    correlationId?: string, replyTo?: string, error?: boolean, idempotencyKey?: string, ack?: number,
    /** Milliseconds: expires this long after `time` (instead of its queue's messageTtl); not delivered before `delay`. */
    ttl?: number, delay?: number
  }
  /** Leases those of `ids` still available at `time` to the session, each for its work queue's visibility timeout. */
  | { type: 'lease', token: string, client: string, ids: number[], time: number }
  /** Sets the session's lease on message `id` to end `ms` (else its queue's visibility timeout) after `time`; 0 gives it back. */
  | { type: 'extend', token: string, id: number, ms?: number, time: number }
  /**
   * Looks at messages `ids` at `time`: those expired, and those spent (maxDeliveries reached, lease run out), go
   * to their queue's dead-letter queue, or are dropped. A timer submits it when their deadlines come due.
   */
  | { type: 'expire', ids: number[], time: number }
  /** Moves every message of `from` (a dead-letter queue) to `to`, as new messages with their deliveries counted afresh. */
  | { type: 'redrive', token: string, client: string, from: string, to: string, time: number }
  /** `queue`: only if that queue holds it (the xapi protocol names both). */
  | { type: 'ack', token: string, client: string, id: number, queue?: string, time: number }
  | {
    type: 'publish', token: string, client: string, topic: string, payload: Buffer, time: number,
    retain?: boolean, idempotencyKey?: string
  }
  | { type: 'bind', token: string, client: string, queue: string, filter: string, time: number }
  | { type: 'unbind', token?: string, queue: string, filter: string }

export type OperationType = Operation['type']
