// Drop the forgotten head of the log once it is this long and at least half of it.
const COMPACT_THRESHOLD = 1024

/** One queue's keys: each points at its entry's sequence number (its index in the log plus `base`). */
interface QueueKeys {
  readonly queue: string
  readonly keys: Map<string, number>
}

/**
 * Remembers, for a window, which message id a (queue, idempotency key) pair produced, so that a retried send
 * returns the first send's id and enqueues nothing (for publishes: the ids a (topic, key) pair produced). The
 * window is constant, so insertion order is expiry order: the log holds the entries oldest first and pruning
 * or evicting only ever looks at its head. (Evicting through a Map's own iterator would rescan the slots its
 * deletions leave behind, a cost that grows with every key ever forgotten.)
 *
 * Every RPC leaves two keys here for a minute, so an entry is kept lean: the log is parallel arrays, and the
 * maps (one per queue) hold the key as the client sent it, pointing at its place in the log. An entry costs no
 * object of its own and no joined string, which the garbage collector would copy and promote by the hundred
 * thousand.
 */
export class IdempotencyKeys<Answer = number> {
  private readonly byQueue = new Map<string, QueueKeys>()
  /** Each entry's queue, as the one record all its entries share (not each send's copy of the name). */
  private queues: QueueKeys[] = []
  private keys: string[] = []
  private answers: Answer[] = []
  private expiries: number[] = []
  /** Sequence number of the log's first element; `head` more of them are forgotten already. */
  private base = 0
  private head = 0
  private live = 0
  /** The most keys kept: past it the oldest go before their window ends, so memory stays bounded under load. */
  private readonly capacity: number

  constructor (capacity = Number.POSITIVE_INFINITY) {
    this.capacity = capacity
  }

  get size (): number {
    return this.live
  }

  lookup (queue: string, key: string, now: number): Answer | undefined {
    const sequence = this.byQueue.get(queue)?.keys.get(key)
    if (sequence === undefined) return undefined
    const index = sequence - this.base
    return this.expiries[index] > now ? this.answers[index] : undefined
  }

  remember (queue: string, key: string, id: Answer, expires: number): void {
    let entries = this.byQueue.get(queue)
    if (entries === undefined) {
      entries = { queue, keys: new Map() }
      this.byQueue.set(queue, entries)
    }
    // A key remembered again points at its new entry; the old one stays in the log but no longer counts.
    const { keys } = entries
    const before = keys.size
    keys.set(key, this.base + this.queues.length)
    if (keys.size > before) this.live++
    this.queues.push(entries)
    this.keys.push(key)
    this.answers.push(id)
    this.expiries.push(expires)
    while (this.live > this.capacity) this.forgetOldest()
    this.compact()
  }

  prune (now: number): void {
    while (this.head < this.queues.length && this.expiries[this.head] <= now) this.forgetOldest()
    this.compact()
  }

  private forgetOldest (): void {
    const index = this.head++
    const { queue, keys } = this.queues[index]
    const key = this.keys[index]
    if (keys.get(key) !== this.base + index) return
    keys.delete(key)
    this.live--
    // Only if it is still the queue's record: emptied once already, the queue may have a new one.
    if (keys.size === 0 && this.byQueue.get(queue)?.keys === keys) this.byQueue.delete(queue)
  }

  private compact (): void {
    if (this.head > COMPACT_THRESHOLD && this.head * 2 > this.queues.length) {
      this.queues = this.queues.slice(this.head)
      this.keys = this.keys.slice(this.head)
      this.answers = this.answers.slice(this.head)
      this.expiries = this.expiries.slice(this.head)
      this.base += this.head
      this.head = 0
    }
  }

  /** The keys that count, oldest first: remembered again in this order (a restore), they prune as they did. */
  *all (): IterableIterator<{ queue: string, key: string, id: Answer, expires: number }> {
    for (let index = this.head; index < this.queues.length; index++) {
      const { queue, keys } = this.queues[index]
      const key = this.keys[index]
      if (keys.get(key) === this.base + index) yield { queue, key, id: this.answers[index], expires: this.expiries[index] }
    }
  }
}
