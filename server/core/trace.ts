import type { TraceEvent } from '../../protocol/wire.js'
import { Tally } from './observe.js'
import type { StoredMessage } from './queue.js'

type Listener = () => void

/** A ring buffer of recent events with increasing ids, which readers poll with a cursor like transfer. */
export class TraceLog {
  private readonly events: TraceEvent[] = []
  /**
   * The message each event is about, in the same slots: the original protocols' trace shows whole messages,
   * acked or not. The ring's capacity bounds what this keeps alive.
   */
  private readonly subjects: Array<StoredMessage | undefined> = []
  private readonly capacity: number
  private nextId = 1
  private readonly listeners = new Set<Listener>()
  private notifyScheduled = false
  /** What every event recorded counts for, for metrics: each is a change made durable, counted once. */
  readonly tally = new Tally()

  constructor (capacity: number) {
    this.capacity = Math.max(1, capacity)
  }

  get lastId (): number {
    return this.nextId - 1
  }

  record (event: Omit<TraceEvent, 'id'>, subject?: StoredMessage): void {
    const full = event as TraceEvent
    full.id = this.nextId++
    // A circular buffer: slot of event n is n % capacity, so recording never moves the others.
    this.events[full.id % this.capacity] = full
    this.subjects[full.id % this.capacity] = subject
    this.tally.events[full.type]++
    if (full.type === 'send' && subject?.topic !== undefined) this.tally.published++
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
    const oldest = Math.max(1, this.nextId - this.capacity)
    const from = Math.max(after + 1, oldest)
    const to = Math.min(this.nextId, from + max)
    const out: TraceEvent[] = []
    for (let id = from; id < to; id++) out.push(this.events[id % this.capacity])
    return out
  }

  /** The message event `id` is about, while the event is in the buffer. */
  subject (id: number): StoredMessage | undefined {
    return this.events[id % this.capacity]?.id === id ? this.subjects[id % this.capacity] : undefined
  }

  listen (listener: Listener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  releaseAll (): void {
    for (const listener of [...this.listeners]) listener()
  }
}
