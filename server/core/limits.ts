import type { DiagnosticsLimits } from '../../protocol/wire.js'
import { InsufficientStorageError, LimitExceededError } from './errors.js'
import type { Queue } from './queue.js'
import type { Session } from './session.js'

/** What the switch may hold at once, so that no client can run it out of memory. Each is a `switch serve` flag. */
export interface LimitOptions {
  /** Queues in all, persistent and temporary. */
  maxQueues: number
  /** Temporary queues one session may own. */
  maxSessionQueues: number
  /** Unacked messages one queue may hold. */
  maxQueueLength: number
  /** Payload bytes all queues together may hold. */
  maxQueuedBytes: number
  /** Long-polls one session may have waiting. */
  maxSessionPolls: number
}

export const DEFAULT_LIMITS: LimitOptions = {
  // Room for 10,000 idle long-polls, each on its own queue, and everyone else's queues.
  maxQueues: 100_000,
  maxSessionQueues: 100,
  maxQueueLength: 1_000_000,
  maxQueuedBytes: 256 * 1024 * 1024,
  maxSessionPolls: 100
}

/** The limits on a single request, which the switch has always had, for the report. */
export interface RequestLimits {
  maxPayload: number
  maxTransfer: number
  /** Bytes one answer (a transfer, a stream batch, diagnostics, trace) encodes; at least one item always goes. */
  maxAnswerBytes: number
  /** Milliseconds. */
  maxTimeout: number
}

/**
 * The checks made before the switch takes on more. Each compares a count the switch keeps anyway (a map's
 * size, a running total), so a send pays a few comparisons, never a scan.
 */
export class Limits {
  private readonly options: LimitOptions & RequestLimits

  constructor (options: LimitOptions & RequestLimits) {
    this.options = options
  }

  /** Before a new queue: `queues` is how many there are. */
  allowQueue (queues: number): void {
    if (queues >= this.options.maxQueues) {
      throw new LimitExceededError(`the switch holds ${queues} queues, as many as it may (maxQueues): destroy some first`)
    }
  }

  /** Before a new temporary queue of a session that owns `owned`. */
  allowTemporaryQueue (owned: number): void {
    if (owned >= this.options.maxSessionQueues) {
      throw new LimitExceededError(`this session owns ${owned} temporary queues, as many as it may (maxSessionQueues): destroy some first`)
    }
  }

  /** Before enqueueing `size` bytes on `queue` (holding `length` messages) while all queues hold `queuedBytes`. */
  allowMessage (queue: string, length: number, queuedBytes: number, size: number): void {
    if (!this.queueHasRoom(length)) {
      throw new InsufficientStorageError(`queue ${JSON.stringify(queue)} holds ${length} unacked messages, as many as it may (maxQueueLength): retry once its receivers have caught up`)
    }
    if (queuedBytes + size > this.options.maxQueuedBytes) {
      throw new InsufficientStorageError(`the switch holds ${queuedBytes} bytes of messages and may hold ${this.options.maxQueuedBytes} (maxQueuedBytes): retry once receivers have caught up`)
    }
  }

  /** Whether a queue holding `length` messages may take one more (a move between queues adds no bytes). */
  queueHasRoom (length: number): boolean {
    return length < this.options.maxQueueLength
  }

  /** Before a long-poll waits, in a session with `waiting` long-polls waiting already. */
  allowPoll (waiting: number): void {
    if (waiting >= this.options.maxSessionPolls) {
      throw new LimitExceededError(`this session has ${waiting} long-polls waiting, as many as it may (maxSessionPolls)`)
    }
  }

  /** Each limit against its use now; the per-session and per-queue ones report the fullest session or queue. */
  report (queues: Iterable<Queue>, sessions: Iterable<Session>, queuedBytes: number): DiagnosticsLimits {
    let queueCount = 0
    let queueLength = 0
    for (const queue of queues) {
      queueCount++
      queueLength = Math.max(queueLength, queue.length)
    }
    let sessionQueues = 0
    let sessionPolls = 0
    for (const session of sessions) {
      sessionQueues = Math.max(sessionQueues, session.queues.size)
      sessionPolls = Math.max(sessionPolls, session.waiters.size)
    }
    const { options } = this
    return {
      payload: { limit: options.maxPayload },
      queues: { limit: options.maxQueues, used: queueCount },
      sessionQueues: { limit: options.maxSessionQueues, used: sessionQueues },
      queueLength: { limit: options.maxQueueLength, used: queueLength },
      queuedBytes: { limit: options.maxQueuedBytes, used: queuedBytes },
      sessionPolls: { limit: options.maxSessionPolls, used: sessionPolls },
      transfer: { limit: options.maxTransfer },
      answerBytes: { limit: options.maxAnswerBytes },
      timeout: { limit: options.maxTimeout / 1000 }
    }
  }
}
