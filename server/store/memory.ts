import type { Snapshot, Store } from './store.js'

/** The default: state lives only in the switch's memory, as in the original message-switch. */
export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly location = undefined

  async load (): Promise<Snapshot> {
    return { lastId: 0, sessions: [], queues: [], messages: [], idempotencyKeys: [], bindings: [], retained: [], publishKeys: [] }
  }

  write (): undefined {
    return undefined
  }

  async close (): Promise<void> {}
}
