/** Something with a deadline: `slot` is the deadlines' own bookkeeping (-1 while not waiting). */
export interface Expiring {
  deadline: number
  slot: number
  expire: () => void
}

/**
 * Node's timers fire by a loop time that may be a little behind the clock: an entry this close to its deadline
 * counts as due, as it would have with a timer of its own (whose granularity is a millisecond anyway).
 */
const SLACK_MS = 1

/**
 * Waits' timeouts under one timer: a timer of its own and its closure would cost a waiting long-poll more than the rest
 * of its waiter, with thousands waiting. A binary heap by deadline; the timer is set for the earliest and, when it
 * fires, expires every entry due and is set again for the next. Real time, as a timer of each's own was.
 */
export class Timeouts {
  private readonly heap: Expiring[] = []
  private timer: NodeJS.Timeout | undefined
  /** The deadline the timer is set for: an entry due before it sets it again. */
  private armedFor = Infinity

  get size (): number {
    return this.heap.length
  }

  /** Expires `entry` in `ms` unless removed first. */
  add (entry: Expiring, ms: number): void {
    entry.deadline = Math.ceil(performance.now() + ms)
    entry.slot = this.heap.length
    this.heap.push(entry)
    this.up(entry.slot)
    if (entry.deadline < this.armedFor) this.arm()
  }

  remove (entry: Expiring): void {
    const { slot } = entry
    if (slot < 0) return
    entry.slot = -1
    const last = this.heap.pop() as Expiring
    if (last !== entry) {
      this.heap[slot] = last
      last.slot = slot
      this.down(slot)
      this.up(last.slot)
    }
    // A timer set for an earlier entry that went is left to fire: it finds nothing due and is set again.
    if (this.heap.length === 0) this.disarm()
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.armedFor = Infinity
    const due = performance.now() + SLACK_MS
    while (this.heap.length > 0 && this.heap[0].deadline <= due) {
      const entry = this.heap[0]
      this.remove(entry)
      entry.expire()
    }
    if (this.heap.length > 0 && this.timer === undefined) this.arm()
  }

  private arm (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    const { deadline } = this.heap[0]
    this.armedFor = deadline
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(deadline - performance.now())))
  }

  private disarm (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Infinity
  }

  private up (slot: number): void {
    const { heap } = this
    const entry = heap[slot]
    while (slot > 0) {
      const parent = (slot - 1) >>> 1
      if (heap[parent].deadline <= entry.deadline) break
      heap[slot] = heap[parent]
      heap[slot].slot = slot
      slot = parent
    }
    heap[slot] = entry
    entry.slot = slot
  }

  private down (slot: number): void {
    const { heap } = this
    const entry = heap[slot]
    for (;;) {
      let child = 2 * slot + 1
      if (child >= heap.length) break
      if (child + 1 < heap.length && heap[child + 1].deadline < heap[child].deadline) child++
      if (heap[child].deadline >= entry.deadline) break
      heap[slot] = heap[child]
      heap[slot].slot = slot
      slot = child
    }
    heap[slot] = entry
    entry.slot = slot
  }
}
