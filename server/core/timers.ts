/** Stops a timer. */
export type Cancel = () => void

/**
 * The switch's timers, beside its clock (`now`): tests pass their own to check each documented time on a
 * clock they move, instead of racing real time.
 */
export interface Timers {
  /** Runs `tick` every `ms` until cancelled; it does not keep the process alive. */
  every: (ms: number, tick: () => void) => Cancel
  /** Runs `fire` once after `ms` unless cancelled first. */
  after: (ms: number, fire: () => void) => Cancel
}

export const REAL_TIMERS: Timers = {
  every (ms, tick) {
    const interval = setInterval(tick, ms)
    interval.unref()
    return () => { clearInterval(interval) }
  },
  after (ms, fire) {
    const timeout = setTimeout(fire, ms)
    return () => { clearTimeout(timeout) }
  }
}
