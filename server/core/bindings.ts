import { TopicTrie } from './topics.js'

/** Which queues are bound to which topic filters, looked up from both sides. */
export class Bindings {
  /** Filter -> the queues bound to it: what a publish walks. */
  private readonly byFilter = new TopicTrie<Set<string>>()
  /** Queue -> its filters: what listing, unbinding and destroying look at. */
  private readonly byQueue = new Map<string, Set<string>>()
  private count = 0

  /** Bindings in all. */
  get size (): number {
    return this.count
  }

  has (queue: string, filter: string): boolean {
    return this.byQueue.get(queue)?.has(filter) === true
  }

  /** False if the queue had that binding already. */
  add (queue: string, filter: string): boolean {
    let filters = this.byQueue.get(queue)
    if (filters === undefined) {
      filters = new Set()
      this.byQueue.set(queue, filters)
    }
    if (filters.has(filter)) return false
    filters.add(filter)
    let queues = this.byFilter.get(filter)
    if (queues === undefined) {
      queues = new Set()
      this.byFilter.set(filter, queues)
    }
    queues.add(queue)
    this.count++
    return true
  }

  /** False if the queue had no such binding. */
  delete (queue: string, filter: string): boolean {
    const filters = this.byQueue.get(queue)
    if (filters?.delete(filter) !== true) return false
    if (filters.size === 0) this.byQueue.delete(queue)
    const queues = this.byFilter.get(filter)
    queues?.delete(queue)
    if (queues?.size === 0) this.byFilter.delete(filter)
    this.count--
    return true
  }

  /** A queue that goes takes its bindings with it. */
  removeQueue (queue: string): void {
    for (const filter of [...this.byQueue.get(queue) ?? []]) this.delete(queue, filter)
  }

  filtersOf (queue: string): string[] {
    return [...this.byQueue.get(queue) ?? []].sort()
  }

  /** The queues with at least one binding matching `topic`, each once however many of its bindings match. */
  queuesFor (topic: string): Set<string> {
    const queues = new Set<string>()
    for (const bound of this.byFilter.matching(topic)) {
      for (const queue of bound) queues.add(queue)
    }
    return queues
  }

  clear (): void {
    this.byFilter.clear()
    this.byQueue.clear()
    this.count = 0
  }
}
