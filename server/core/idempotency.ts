interface Entry<Answer> {
  id: Answer
  expires: number
}

/**
 * Remembers, for a window, which message id a (queue, idempotency key) pair produced, so that a retried send
 * returns the first send's id and enqueues nothing (for publishes: the ids a (topic, key) pair produced). The
 * window is constant, so insertion order is expiry order and pruning only ever looks at the oldest entries.
 */
export class IdempotencyKeys<Answer = number> {
  private readonly entries = new Map<string, Entry<Answer>>()
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
    const composed = IdempotencyKeys.compose(queue, key)
    // A key reused after its window lapsed must move to the end, or it would hold back `prune`.
    this.entries.delete(composed)
    this.entries.set(composed, { id, expires })
    if (this.entries.size > this.capacity) {
      for (const oldest of this.entries.keys()) {
        this.entries.delete(oldest)
        break
      }
    }
  }

  prune (now: number): void {
    for (const [composed, entry] of this.entries) {
      if (entry.expires > now) break
      this.entries.delete(composed)
    }
  }

  *all (): IterableIterator<{ queue: string, key: string, id: Answer, expires: number }> {
    for (const [composed, entry] of this.entries) {
      const split = composed.indexOf('\u0000')
      yield { queue: composed.slice(0, split), key: composed.slice(split + 1), ...entry }
    }
  }
}
