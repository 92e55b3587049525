import type { Session } from './session.js'
import type { Expiring } from './timeouts.js'
import { TIMEOUTS } from './waiter.js'
import { Watcher, type WatcherRegistry } from './watcher.js'

/**
 * A running delivery's standing watch on its queues, registered once for the delivery's life: a long-poll per
 * push made and dropped a waiter, a promise, a deadline and a registration under each queue for every message.
 * It calls `woken(false)` once per burst of sends to its queues (in a microtask, after the burst), when the
 * session ends and when the switch stops; and `woken(true)` when nothing was written for `heartbeat` ms.
 */
export class Follower extends Watcher implements Expiring {
  // Its place among the deadlines (Expiring).
  deadline = 0
  slot = -1
  private closed = false
  private paused = false
  private scheduled = false
  private lastActive = performance.now()

  constructor (
    session: Session,
    after: number,
    registry: WatcherRegistry,
    followsSubscriptions: boolean,
    private readonly heartbeat: number,
    private readonly woken: (idle: boolean) => void
  ) {
    super(session, after, registry, followsSubscriptions)
    TIMEOUTS.add(this, heartbeat)
  }

  protected get watching (): boolean {
    return !this.closed && !this.paused
  }

  /**
   * Out of credit: off its queues until `resume`, as a long-poll between batches was. It takes nothing now, and
   * what watches a queue counts as waiting on it (and holds a sender's answer until it is woken).
   */
  pause (): void {
    this.paused = true
    this.unwatch()
  }

  resume (queues: Iterable<string>): void {
    this.paused = false
    for (const queue of queues) this.watch(queue)
  }

  wake (): void {
    if (this.closed || this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.fire)
  }

  private readonly fire = (): void => {
    this.scheduled = false
    if (!this.closed) this.woken(false)
  }

  /** Its owner must look at why: the session or the switch is ending. */
  release (): void {
    this.wake()
  }

  /** Something was written: the heartbeat counts from now. */
  active (): void {
    this.lastActive = performance.now()
  }

  /**
   * The deadline is not moved on every write; when it comes, it is put off by the time since the last one. Within
   * a couple of milliseconds of the heartbeat counts as due: the deadlines' own slack would find it due again at once.
   */
  expire (): void {
    if (this.closed) return
    const quiet = performance.now() - this.lastActive
    if (quiet + 2 < this.heartbeat) {
      TIMEOUTS.add(this, this.heartbeat - quiet)
      return
    }
    this.lastActive = performance.now()
    TIMEOUTS.add(this, this.heartbeat)
    this.woken(true)
  }

  /** Unregistered everywhere, and out of its session's waits. */
  close (): void {
    if (this.closed) return
    this.closed = true
    TIMEOUTS.remove(this)
    this.unwatch()
    this.session.waiters.delete(this)
  }
}
