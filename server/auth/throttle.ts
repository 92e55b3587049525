import { TooManyLoginsError } from '../core/errors.js'

export interface ThrottleOptions {
  /** Failed logins one address may make within `window` before it is refused. */
  maxFailures: number
  /** Milliseconds. */
  window: number
  /** The most addresses remembered: past it the oldest are forgotten early (memory stays bounded under a flood). */
  maxAddresses: number
  now: () => number
}

const DEFAULT_THROTTLE: Omit<ThrottleOptions, 'now'> = { maxFailures: 10, window: 60_000, maxAddresses: 100_000 }

/**
 * Failed logins per client address, in a sliding window: past `maxFailures` of them, every login from that
 * address is refused until the oldest failure leaves the window, so that secrets cannot be guessed at speed.
 */
export class LoginThrottle {
  private readonly options: ThrottleOptions
  /** Each address's failure times, oldest first; Map order is the order addresses last failed. */
  private readonly failures = new Map<string, number[]>()

  constructor (options: Partial<ThrottleOptions> = {}) {
    this.options = { ...DEFAULT_THROTTLE, now: Date.now, ...options }
  }

  private recent (address: string, now: number): number[] {
    const times = this.failures.get(address)
    if (times === undefined) return []
    while (times.length > 0 && times[0] <= now - this.options.window) times.shift()
    if (times.length === 0) this.failures.delete(address)
    return times
  }

  /** Throws TooManyLoginsError (with the seconds to wait) if `address` may not try now. */
  check (address: string): void {
    const now = this.options.now()
    const times = this.recent(address, now)
    if (times.length < this.options.maxFailures) return
    const waitMs = times[times.length - this.options.maxFailures] + this.options.window - now
    throw new TooManyLoginsError(Math.max(1, Math.ceil(waitMs / 1000)))
  }

  failed (address: string): void {
    const now = this.options.now()
    const times = this.recent(address, now)
    this.failures.delete(address)
    this.failures.set(address, [...times, now].slice(-this.options.maxFailures))
    if (this.failures.size > this.options.maxAddresses) {
      const oldest = this.failures.keys().next().value
      if (oldest !== undefined) this.failures.delete(oldest)
    }
  }

  /** How many addresses it remembers (for tests and diagnostics). */
  get size (): number {
    return this.failures.size
  }
}
