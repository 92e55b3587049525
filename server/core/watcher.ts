import type { Session } from './session.js'

/** What watches each queue, by name: a send looks up only the watchers of its own queue. */
export type WatcherRegistry = Map<string, Set<Watcher>>

/**
 * Something of a session's that waits for messages on queues: a long-poll (Waiter), which settles once, or a
 * running delivery (Follower), which stays. It is registered under each queue it watches until it is done.
 */
export abstract class Watcher {
  /** Messages with ids above this are new to it. */
  after: number
  private readonly watched: string[] = []

  constructor (
    readonly session: Session,
    after: number,
    private readonly registry: WatcherRegistry,
    /** False when the caller named the queues: a new subscription does not concern it. */
    readonly followsSubscriptions: boolean
  ) {
    this.after = after
  }

  /** Takes registrations now: false once done (or, for a delivery, while out of credit). */
  protected abstract get watching (): boolean

  /** One of its queues may have something new. */
  abstract wake (): void

  /** Its session ended or the switch is stopping: it stops waiting (a waiter answers with nothing). */
  abstract release (): void

  watch (queue: string): void {
    if (!this.watching) return
    let watchers = this.registry.get(queue)
    if (watchers === undefined) {
      watchers = new Set()
      this.registry.set(queue, watchers)
    }
    watchers.add(this)
    this.watched.push(queue)
  }

  protected unwatch (): void {
    for (const queue of this.watched) {
      const watchers = this.registry.get(queue)
      if (watchers === undefined) continue
      watchers.delete(this)
      if (watchers.size === 0) this.registry.delete(queue)
    }
    this.watched.length = 0
  }
}
