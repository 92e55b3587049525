/**
 * One signal that aborts when any of `signals` does, and a `dispose` to detach from them once the operation is
 * over: long-lived signals (a client's close signal) must not collect a listener per request.
 */
export function linkSignals (...signals: Array<AbortSignal | undefined>): { signal: AbortSignal, dispose: () => void } {
  const controller = new AbortController()
  const sources = signals.filter((signal): signal is AbortSignal => signal !== undefined)
  const abort = (): void => { controller.abort() }
  for (const source of sources) {
    if (source.aborted) {
      controller.abort()
      break
    }
    source.addEventListener('abort', abort, { once: true })
  }
  return {
    signal: controller.signal,
    dispose: () => { for (const source of sources) source.removeEventListener('abort', abort) }
  }
}

/**
 * Waits for a shared promise on behalf of one caller: the caller's abort rejects its wait with `onAbort()`
 * without cancelling the shared work, which others may still be waiting for.
 */
export async function raceAbort<T> (promise: Promise<T>, signal: AbortSignal | undefined, onAbort: () => Error): Promise<T> {
  if (signal === undefined) return await promise
  if (signal.aborted) throw onAbort()
  let detach = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    const listener = (): void => { reject(onAbort()) }
    signal.addEventListener('abort', listener, { once: true })
    detach = () => { signal.removeEventListener('abort', listener) }
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    detach()
  }
}

/**
 * Resolves in the next turn of the event loop, after the requests this turn started have gone out: a loop that
 * polls again lets the requests someone waits for reach the switch first.
 */
export async function nextTurn (): Promise<void> {
  await new Promise<void>((resolve) => { setImmediate(resolve) })
}
