import type { Cancel, Timers } from './timers.js'

/** A message to look at, and whether this switch is the one to move it at once (see `Switch.due`). */
export interface Due {
  id: number
  first: boolean
}

interface Deadline extends Due {
  at: number
}

/**
 * When messages need looking at again: a lease runs out, a delay ends, a message expires. One timer, for the
 * earliest; it hands the messages due to `fire`, which decides from the stored times what is due (an entry made
 * stale by an ack or a new lease is then found to be nothing). Only scheduling: the state is the messages'.
 */
export class Deadlines {
  /** A binary min-heap on `at`. */
  private heap: Deadline[] = []
  private cancel: Cancel | undefined
  private armedAt: number | undefined
  private stopped = false

  constructor (
    private readonly timers: Timers,
    private readonly now: () => number,
    private readonly fire: (due: Due[]) => void
  ) {}

  /** `first`: this switch made the change that set the deadline, so it moves the message at once when due. */
  add (at: number, id: number, first = true): void {
    if (this.stopped) return
    const heap = this.heap
    heap.push({ at, id, first })
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1
      if (heap[parent].at <= heap[i].at) break
      ;[heap[parent], heap[i]] = [heap[i], heap[parent]]
      i = parent
    }
    if (this.armedAt === undefined || at < this.armedAt) this.arm()
  }

  /** Forgets every deadline (the state is read back, and scheduled again from it). */
  clear (): void {
    this.heap = []
    this.disarm()
  }

  stop (): void {
    this.stopped = true
    this.clear()
  }

  private disarm (): void {
    this.cancel?.()
    this.cancel = undefined
    this.armedAt = undefined
  }

  private arm (): void {
    this.disarm()
    const first = this.heap[0]
    if (first === undefined) return
    this.armedAt = first.at
    this.cancel = this.timers.after(Math.max(0, first.at - this.now()), () => { this.run() })
  }

  private run (): void {
    this.cancel = undefined
    this.armedAt = undefined
    const now = this.now()
    const due: Due[] = []
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const { id, first } = this.pop()
      due.push({ id, first })
    }
    this.arm()
    if (due.length > 0) this.fire(due)
  }

  private pop (): Deadline {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop() as Deadline
    if (heap.length > 0) {
      heap[0] = last
      for (let i = 0; ;) {
        const left = 2 * i + 1
        const right = left + 1
        let least = i
        if (left < heap.length && heap[left].at < heap[least].at) least = left
        if (right < heap.length && heap[right].at < heap[least].at) least = right
        if (least === i) break
        ;[heap[least], heap[i]] = [heap[i], heap[least]]
        i = least
      }
    }
    return top
  }
}
