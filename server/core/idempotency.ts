interface Entry<Answer> {
  readonly composed: string
  readonly id: Answer
  readonly expires: number
}

// Drop the forgotten head of `order` once it is this long and at least half of the array.
const COMPACT_THRESHOLD = 1024

/**
 * Remembers, for a window, which message id a (queue, idempotency key) pair produced, so that a retried send
 * returns the first send's id and enqueues nothing (for publishes: the ids a (topic, key) pair produced). The
 * window is constant, so insertion order is expiry order: `order` holds the entries oldest first and pruning
 * or evicting only ever looks at its head. (Evicting through a Map's own iterator would rescan the slots its
 * deletions leave behind, a cost that grows with every key ever forgotten.)
 */
export class IdempotencyKeys<Answer = number> {
  private readonly entries = new Map<string, Entry<Answer>>()
  private order: Array<Entry<Answer>> = []
  private head = 0
  /** The most keys kept: past it the oldest go before their window ends, so memory stays bounded under load. */
  private readonly capacity: number

  constructor (capacity = Number.POSITIVE_INFINITY) {
    this.capacity = capacity
  }

  get size (): number {
    return this.entries.size
  }

  private static compose (queue: string, key: string): string {
    return `${queue}\u0000${key}`
  }

  lookup (queue: string, key: string, now: number): Answer | undefined {
    const entry = this.entries.get(IdempotencyKeys.compose(queue, key))
    return entry !== undefined && entry.expires > now ? entry.id : undefined
  }

  remember (queue: string, key: string, id: Answer, expires: number): void {
    const entry: Entry<Answer> = { composed: IdempotencyKeys.compose(queue, key), id, expires }
    // A key remembered again replaces its entry; the old one stays in `order` but no longer counts.
    this.entries.set(entry.composed, entry)
    this.order.push(entry)
    while (this.entries.size > this.capacity) this.forgetOldest()
    this.compact()
  }

  prune (now: number): void {
    while (this.head < this.order.length && this.order[this.head].expires <= now) this.forgetOldest()
    this.compact()
  }

  private forgetOldest (): void {
    const entry = this.order[this.head++]
    if (this.entries.get(entry.composed) === entry) this.entries.delete(entry.composed)
  }

  private compact (): void {
    if (this.head > COMPACT_THRESHOLD && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head)
      this.head = 0
    }
  }

  *all (): IterableIterator<{ queue: string, key: string, id: Answer, expires: number }> {
    for (const entry of this.entries.values()) {
      const split = entry.composed.indexOf('\u0000')
      yield { queue: entry.composed.slice(0, split), key: entry.composed.slice(split + 1), id: entry.id, expires: entry.expires }
    }
  }
}
