import { setTimeout as delay } from 'node:timers/promises'

export const BACKOFF_INITIAL_MS = 50
/** The longest wait between retries: a client gives up retrying up to this long before its `retryFor` is over. */
export const BACKOFF_MAX_MS = 1000

/**
 * Exponential backoff with "equal jitter": each wait is between half and all of the current step, so clients
 * that lost the switch at the same moment do not all knock again at the same moment.
 */
export class Backoff {
  private step: number

  constructor (
    initial = BACKOFF_INITIAL_MS,
    private readonly max = BACKOFF_MAX_MS,
    private readonly random: () => number = Math.random
  ) {
    this.step = initial
  }

  /** The next wait in milliseconds. */
  next (): number {
    const step = this.step
    this.step = Math.min(this.max, step * 2)
    return step / 2 + this.random() * step / 2
  }
}

/** Waits `ms`; rejects as soon as `signal` aborts (the caller tells why by looking at its signals). */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal === undefined ? undefined : { signal })
}
