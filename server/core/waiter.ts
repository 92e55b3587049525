import type { Session } from './session.js'
import type { StoredMessage } from './queue.js'
import { Timeouts, type Expiring } from './timeouts.js'

/**
 * What ends a wait early: its requester has gone. An AbortSignal is one; the HTTP routes pass a lighter one, as
 * every object a held long-poll keeps counts when thousands are held. The listener is called at most once.
 */
export interface WaitSignal {
  readonly aborted: boolean
  addEventListener: (type: 'abort', listener: () => void, options?: { once: true }) => void
  removeEventListener: (type: 'abort', listener: () => void) => void
}

/** Long-polls waiting per queue name: a send looks up only the waiters of its own queue. */
export type WaiterRegistry = Map<string, Set<Waiter>>

/** The deadlines of every waiting transfer in the process, under one timer (as Node keeps its own timers). */
const TIMEOUTS = new Timeouts()

/**
 * One waiting transfer. It registers under each queue it watches; a send to one of them wakes it, it collects
 * what is new (once per burst of sends, via a microtask) and settles, unregistering everywhere.
 */
export class Waiter implements Expiring {
  readonly session: Session
  readonly after: number
  /** False for a long-poll on queues named by the caller: a new subscription does not concern it. */
  readonly followsSubscriptions: boolean
  private readonly registry: WaiterRegistry
  private readonly collect: (waiter: Waiter) => StoredMessage[]
  private readonly finish: (messages: StoredMessage[]) => void
  private readonly watched: string[] = []
  // Its place among the deadlines (Expiring).
  deadline = 0
  slot = -1
  private settled = false
  private scheduled = false

  constructor (
    session: Session,
    after: number,
    registry: WaiterRegistry,
    collect: (waiter: Waiter) => StoredMessage[],
    followsSubscriptions: boolean,
    finish: (messages: StoredMessage[]) => void
  ) {
    this.session = session
    this.after = after
    this.followsSubscriptions = followsSubscriptions
    this.registry = registry
    this.collect = collect
    this.finish = finish
  }

  get done (): boolean {
    return this.settled
  }

  watch (queue: string): void {
    if (this.settled) return
    let waiters = this.registry.get(queue)
    if (waiters === undefined) {
      waiters = new Set()
      this.registry.set(queue, waiters)
    }
    waiters.add(this)
    this.watched.push(queue)
  }

  expireAfter (ms: number): void {
    if (!this.settled) TIMEOUTS.add(this, ms)
  }

  expire (): void {
    this.settle([])
  }

  wake (): void {
    if (this.settled || this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (this.settled) return
      const messages = this.collect(this)
      if (messages.length > 0) this.settle(messages)
    })
  }

  settle (messages: StoredMessage[]): void {
    if (this.settled) return
    this.settled = true
    TIMEOUTS.remove(this)
    for (const queue of this.watched) {
      const waiters = this.registry.get(queue)
      if (waiters === undefined) continue
      waiters.delete(this)
      if (waiters.size === 0) this.registry.delete(queue)
    }
    this.finish(messages)
  }
}
