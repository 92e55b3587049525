import type { QueueKind } from '../../protocol/wire.js'

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

  private ids: number[] = []
  // Made by the first message: thousands of idle queues (one per waiting client) need none.
  private byId: Map<number, StoredMessage> | undefined

  constructor (name: string, kind: QueueKind, owner?: string) {
    this.name = name
    this.kind = kind
    this.owner = owner
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
