import type { DeadLetterInfo, QueueKind, QueueOptions } from '../../protocol/wire.js'

export interface StoredMessage {
  id: number
  queue: string
  payload: Buffer
  correlationId?: string
  replyTo?: string
  error?: boolean
  /** Client name of the sender. */
  origin: string
  time: number
  /** The topic it was published to, for a copy a publish put in this queue. */
  topic?: string
  /** A retained message the queue received because a new binding matched its topic. */
  retained?: boolean
  /** Deliveries so far: leases in a work queue (stored), transfers of this switch in a cursor queue (memory only). */
  deliveries?: number
  /** Work queues: when its lease runs out (ms since the epoch), and the session holding it. */
  leaseUntil?: number
  leasedBy?: string
  /** When it expires unacked (ms since the epoch): a send's `ttl`, else its queue's messageTtl. */
  expires?: number
  /** Not delivered before this time (ms since the epoch): a send's `delay`. */
  notBefore?: number
  /** Why it is in this (dead-letter) queue. */
  deadLetter?: DeadLetterInfo
}

/** True once `message` has expired at `now`. */
export function hasExpired (message: StoredMessage, now: number): boolean {
  return message.expires !== undefined && message.expires <= now
}

const NO_MESSAGES: ReadonlyMap<number, StoredMessage> = new Map()

// Compact the id index once this many acked ids linger in it (and they outnumber the live ones).
const COMPACT_THRESHOLD = 64

/**
 * One queue's messages in id order. Ids only ever grow, so appending keeps `ids` sorted and a transfer
 * finds its starting point by binary search: cost grows with what it returns, not with the queue's length.
 * Acks leave a tombstone in `ids` (the map is the truth) that a periodic compaction sweeps out.
 */
export class Queue {
  readonly name: string
  readonly kind: QueueKind
  /** Token of the owning session, for temporary queues. */
  readonly owner: string | undefined
  /** Start of the latest transfer that polled this queue. */
  lastTransfer: number | undefined
  /** Deadline of the latest long-poll on this queue. */
  nextTransferExpected: number | undefined
  /**
   * When the last session subscribed to it unsubscribed or logged out, if nothing polled it since: its service
   * stopped cleanly and is not coming back within a TTL, as one that only went quiet might.
   */
  left: number | undefined
  bytes = 0
  /** Its options, normalized (see `queueOptions`); undefined for a plain cursor queue. */
  readonly options: QueueOptions | undefined

  private ids: number[] = []
  // Made by the first message: thousands of idle queues (one per waiting client) need none.
  private byId: Map<number, StoredMessage> | undefined

  constructor (name: string, kind: QueueKind, owner?: string, options?: QueueOptions) {
    this.name = name
    this.kind = kind
    this.owner = owner
    this.options = options
  }

  get work (): boolean {
    return this.options?.mode === 'work'
  }

  /**
   * A work queue's message that may be leased at `now`: due (its delay over), not leased (or its lease ran
   * out), not expired, and not due for the dead-letter queue. Derived from the stored times, so every switch
   * and every replay agrees on it without a timer.
   */
  available (message: StoredMessage, now: number): boolean {
    return (message.notBefore ?? 0) <= now && (message.leaseUntil ?? 0) <= now && !hasExpired(message, now) && !this.spent(message, now)
  }

  /** True for a message delivered maxDeliveries times whose last lease has run out: it goes to the dead-letter queue. */
  spent (message: StoredMessage, now: number): boolean {
    const max = this.options?.maxDeliveries
    return max !== undefined && (message.deliveries ?? 0) >= max && (message.leaseUntil ?? 0) <= now
  }

  /**
   * Appends to `out` up to `max` messages available at `now` (see `available`), in id order, with ids up to
   * `through` (the durable ones), skipping those in `skip` (being leased by a transfer of this switch). It walks
   * from the oldest: the cost grows with the messages leased or delayed ahead of the first available one.
   */
  collectAvailable (now: number, through: number, max: number, skip: ReadonlySet<number>, out: StoredMessage[]): void {
    const limit = out.length + max
    for (const id of this.ids) {
      if (out.length >= limit || id > through) return
      const message = this.byId?.get(id)
      if (message !== undefined && !skip.has(id) && this.available(message, now)) out.push(message)
    }
  }

  /** Messages expired or spent at `now`: due for the dead-letter queue, and held here until it has room. */
  dueCount (now: number): number {
    let count = 0
    for (const message of this.byId?.values() ?? []) if (hasExpired(message, now) || this.spent(message, now)) count++
    return count
  }

  /** Messages leased now. */
  leasedCount (now: number): number {
    let count = 0
    for (const message of this.byId?.values() ?? []) if ((message.leaseUntil ?? 0) > now) count++
    return count
  }

  get length (): number {
    return this.byId?.size ?? 0
  }

  push (message: StoredMessage): void {
    this.ids.push(message.id)
    this.byId ??= new Map()
    this.byId.set(message.id, message)
    this.bytes += message.payload.length
  }

  get (id: number): StoredMessage | undefined {
    return this.byId?.get(id)
  }

  remove (id: number): StoredMessage | undefined {
    const byId = this.byId
    const message = byId?.get(id)
    if (byId === undefined || message === undefined) return undefined
    byId.delete(id)
    this.bytes -= message.payload.length
    const tombstones = this.ids.length - byId.size
    if (tombstones > COMPACT_THRESHOLD && tombstones > byId.size) {
      this.ids = this.ids.filter((kept) => byId.has(kept))
    }
    return message
  }

  /** Appends to `out` up to `max` messages with id > `after`, in id order. */
  collectAfter (after: number, max: number, out: StoredMessage[]): void {
    // The budget is this queue's own: `out` may already hold another queue's messages, and a transfer over
    // several queues must see each queue's lowest ids before it merges and trims them.
    const limit = out.length + max
    const { ids, byId } = this
    if (byId === undefined) return
    let lo = 0
    let hi = ids.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (ids[mid] <= after) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < ids.length && out.length < limit; i++) {
      const message = byId.get(ids[i])
      if (message !== undefined) out.push(message)
    }
  }

  /** Appends to `out` the ids of up to `max` messages with id <= `after`, in id order. */
  idsUpTo (after: number, max: number, out: number[]): void {
    const { ids, byId } = this
    if (byId === undefined) return
    let taken = 0
    for (let i = 0; i < ids.length && ids[i] <= after && taken < max; i++) {
      if (byId.has(ids[i])) {
        out.push(ids[i])
        taken++
      }
    }
  }

  /** True when some message has an id > `after`. */
  hasAfter (after: number): boolean {
    const last = this.ids.length === 0 ? undefined : this.ids[this.ids.length - 1]
    if (last === undefined || last <= after) return false
    const found: StoredMessage[] = []
    this.collectAfter(after, 1, found)
    return found.length > 0
  }

  /** How many messages have an id > `after`; walks back from the newest, so it is cheap for a short tail. */
  countAfter (after: number): number {
    const { ids, byId } = this
    if (byId === undefined) return 0
    let count = 0
    for (let i = ids.length - 1; i >= 0 && ids[i] > after; i--) {
      if (byId.has(ids[i])) count++
    }
    return count
  }

  messages (): IterableIterator<StoredMessage> {
    return (this.byId ?? NO_MESSAGES).values()
  }
}
