export interface BatcherOptions<I, R> {
  /** Sends one item by itself: what a lone item costs with no batching at all. */
  one: (item: I) => Promise<R>
  /** Sends several items in one request; settles with exactly one result per item, in order. */
  many: (items: I[]) => Promise<Array<PromiseSettledResult<R>>>
  /** Requests of this batcher in flight at once: items that come while they are all out wait for one to return. */
  inFlight: number
  /** The most items in one request. */
  maxItems: number
  /** The most bytes (as `sizeOf` counts them) in one request; a larger item goes by itself. */
  maxSize: number
  sizeOf: (item: I) => number
  /** Only items of one group share a request (those of the oldest item waiting go first). */
  groupOf: (item: I) => unknown
  /**
   * Work nobody waits for (acks): sent once the current turn of the event loop is over, after the requests
   * that turn started, which are on someone's critical path. Otherwise sent once the current microtasks ran.
   */
  background?: boolean
}

interface Entry<I, R> {
  readonly item: I
  readonly resolve: (result: R) => void
  readonly reject: (error: unknown) => void
}

/**
 * Coalesces requests without ever waiting on a timer (Nagle's idea, minus the delay): an item goes out at once
 * when fewer than `inFlight` requests are out, and items that come while they are all out go together as soon
 * as one returns. One caller alone therefore pays nothing, and many callers share requests in proportion to
 * how busy the switch keeps them. Items submitted in the same tick (a transfer's worth of replies) share a
 * request from the start: sending waits for the current microtasks to run.
 */
export class Batcher<I, R> {
  private waiting: Array<Entry<I, R>> = []
  private running = 0
  private scheduled = false

  constructor (private readonly options: BatcherOptions<I, R>) {}

  /** Settles as the item's own request would: with its result, or with its own error. */
  async submit (item: I): Promise<R> {
    return await new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject })
      if (this.scheduled) return
      this.scheduled = true
      const flush = (): void => {
        this.scheduled = false
        this.flush()
      }
      if (this.options.background === true) setImmediate(flush)
      else queueMicrotask(flush)
    })
  }

  private flush (): void {
    while (this.running < this.options.inFlight && this.waiting.length > 0) {
      const batch = this.take()
      this.running++
      void this.dispatch(batch).finally(() => {
        this.running--
        this.flush()
      })
    }
  }

  /** The oldest waiting item and as many others of its group as fit, in order; the rest keep waiting. */
  private take (): Array<Entry<I, R>> {
    const { maxItems, maxSize, sizeOf, groupOf } = this.options
    const [first] = this.waiting
    let size = sizeOf(first.item)
    if (this.waiting.length === 1 || size > maxSize) {
      this.waiting.shift()
      return [first]
    }
    const group = groupOf(first.item)
    const batch = [first]
    const rest: Array<Entry<I, R>> = []
    for (let i = 1; i < this.waiting.length; i++) {
      const entry = this.waiting[i]
      const itemSize = sizeOf(entry.item)
      if (batch.length < maxItems && size + itemSize <= maxSize && groupOf(entry.item) === group) {
        batch.push(entry)
        size += itemSize
      } else {
        rest.push(entry)
      }
    }
    this.waiting = rest
    return batch
  }

  private async dispatch (batch: Array<Entry<I, R>>): Promise<void> {
    if (batch.length === 1) {
      const [entry] = batch
      try {
        entry.resolve(await this.options.one(entry.item))
      } catch (error) {
        entry.reject(error)
      }
      return
    }
    let results: Array<PromiseSettledResult<R>>
    try {
      results = await this.options.many(batch.map((entry) => entry.item))
    } catch (error) {
      for (const entry of batch) entry.reject(error)
      return
    }
    batch.forEach((entry, i) => {
      const result = results[i]
      if (result.status === 'fulfilled') entry.resolve(result.value)
      else entry.reject(result.reason)
    })
  }
}
