import type { TraceEvent } from '../../lib/protocol.js'

type Listener = () => void

/** A ring buffer of recent events with increasing ids, which readers poll with a cursor like transfer. */
export class TraceLog {
  private readonly events: TraceEvent[] = []
  private readonly capacity: number
  private nextId = 1
  private readonly listeners = new Set<Listener>()
  private notifyScheduled = false

  constructor (capacity: number) {
    this.capacity = capacity
  }

  get lastId (): number {
    return this.nextId - 1
  }

  record (event: Omit<TraceEvent, 'id'>): void {
    const full = event as TraceEvent
    full.id = this.nextId++
    this.events.push(full)
    if (this.events.length > this.capacity) this.events.shift()
    if (this.listeners.size > 0 && !this.notifyScheduled) {
      // One wake-up per burst of events, not one per event.
      this.notifyScheduled = true
      queueMicrotask(() => {
        this.notifyScheduled = false
        for (const listener of [...this.listeners]) listener()
      })
    }
  }

  /** Events with id > `after`, oldest first, at most `max`. */
  since (after: number, max: number): TraceEvent[] {
    const first = this.events.length === 0 ? this.nextId : this.events[0].id
    const start = Math.max(0, after + 1 - first)
    return this.events.slice(start, start + max)
  }

  listen (listener: Listener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  releaseAll (): void {
    for (const listener of [...this.listeners]) listener()
  }
}
