import type { StoredMessage } from './queue.js'
import type { Session } from './session.js'
import { Timeouts, type Expiring } from './timeouts.js'
import { Watcher, type WatcherRegistry } from './watcher.js'

/**
 * What ends a wait early: its requester has gone. An AbortSignal is one; the HTTP routes pass a lighter one, as
 * every object a held long-poll keeps counts when thousands are held. The listener is called at most once.
 */
export interface WaitSignal {
  readonly aborted: boolean
  addEventListener: (type: 'abort', listener: () => void, options?: { once: true }) => void
  removeEventListener: (type: 'abort', listener: () => void) => void
}

/** The deadlines of every waiting transfer in the process, under one timer (as Node keeps its own timers). */
export const TIMEOUTS = new Timeouts()

/**
 * One waiting transfer. It registers under each queue it watches; a send to one of them wakes it, it collects
 * what is new (once per burst of sends, via a microtask) and settles, unregistering everywhere.
 */
export class Waiter extends Watcher implements Expiring {
  private readonly collect: (waiter: Waiter) => StoredMessage[]
  private readonly finish: (messages: StoredMessage[]) => void
  // Its place among the deadlines (Expiring).
  deadline = 0
  slot = -1
  private settled = false
  private scheduled = false

  constructor (
    session: Session,
    after: number,
    registry: WatcherRegistry,
    collect: (waiter: Waiter) => StoredMessage[],
    followsSubscriptions: boolean,
    finish: (messages: StoredMessage[]) => void
  ) {
    super(session, after, registry, followsSubscriptions)
    this.collect = collect
    this.finish = finish
  }

  protected get watching (): boolean {
    return !this.settled
  }

  expireAfter (ms: number): void {
    if (!this.settled) TIMEOUTS.add(this, ms)
  }

  expire (): void {
    this.settle([])
  }

  release (): void {
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
    this.unwatch()
    this.finish(messages)
  }
}
