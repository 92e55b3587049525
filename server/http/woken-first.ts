import type { Switch } from '../core/switch.js'

/**
 * Runs a send and holds its answer back until the long-polls it woke have been answered (they are, in this turn
 * of the event loop). Their receivers are who the exchange waits for (an RPC's server, then its caller), while
 * the sender only learns that its message was taken; and on a busy machine the first answer written wakes its
 * reader, which then competes with the switch for the CPU before the next answer is out.
 */
export function answeredAfterWoken<T> (core: Switch, queues: Iterable<string>, send: () => Promise<T>): Promise<T> {
  for (const queue of queues) {
    if (core.awaited(queue)) return send().then(afterThisTurn)
  }
  // Not an async function: no promise of its own, and no turns of the microtask queue, on every send.
  return send()
}

function afterThisTurn<T> (result: T): Promise<T> {
  return new Promise<T>((resolve) => { setImmediate(resolve, result) })
}
