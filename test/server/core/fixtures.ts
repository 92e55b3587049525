// Helpers shared by the core's tests: a switch closed with the test, a clock the test moves, and a wait on
// the trace instead of a sleep.
import type { Test } from 'tap'
import type { TraceEvent, TraceEventType } from '../../../protocol/wire.js'
import { Switch, type SwitchOptions } from '../../../server/core/switch.js'
import type { Cancel, Timers } from '../../../server/core/timers.js'

export function startCore (t: Test, options: Partial<SwitchOptions> = {}): Switch {
  const core = new Switch(options)
  t.teardown(() => core.close())
  return core
}

/** A clock the test moves, with timers on it: pass it as both `now` and `timers` (`{ now: clock.now, timers: clock }`). */
export interface Clock extends Timers {
  now: () => number
  /** Moves time on by `ms`, running each timer that comes due on the way, at its own time and in order. */
  advance: (ms: number) => void
}

interface Scheduled {
  due: number
  run: () => void
  /** Repeats this often; undefined for a one-off. */
  every?: number
  cancelled: boolean
}

export function manualClock (start = 1_000_000): Clock {
  let time = start
  const timers: Scheduled[] = []
  const schedule = (timer: Scheduled): Cancel => {
    timers.push(timer)
    return () => { timer.cancelled = true }
  }
  return {
    now: () => time,
    every: (ms, tick) => schedule({ due: time + ms, run: tick, every: ms, cancelled: false }),
    after: (ms, fire) => schedule({ due: time + ms, run: fire, cancelled: false }),
    advance: (ms) => {
      const target = time + ms
      for (;;) {
        const live = timers.filter((timer) => !timer.cancelled && timer.due <= target)
        if (live.length === 0) break
        const next = live.reduce((earliest, timer) => timer.due < earliest.due ? timer : earliest)
        time = next.due
        if (next.every === undefined) next.cancelled = true
        else next.due += next.every
        next.run()
      }
      time = target
      for (let i = timers.length - 1; i >= 0; i--) if (timers[i].cancelled) timers.splice(i, 1)
    }
  }
}

/**
 * Resolves with the first event of `type` recorded after the call that satisfies `match`. It long-polls the
 * trace, whose timer keeps the process alive while an event only the (unref'd) sweeper will cause is pending.
 */
export async function traced (
  core: Switch,
  type: TraceEventType,
  match: (event: TraceEvent) => boolean = () => true
): Promise<TraceEvent> {
  let after = core.trace.lastId
  for (;;) {
    const { events, next } = await core.waitForTrace(after, 60_000, 1000)
    const found = events.find((event) => event.type === type && match(event))
    if (found !== undefined) return found
    if (core.shuttingDown) throw new Error(`the switch shut down before a ${type} event`)
    after = next
  }
}

/** Lets every pending microtask and the current event-loop turn run: a woken waiter has settled by then. */
export async function settle (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

/** Tracks whether a promise has settled, to assert that a long-poll is still waiting. */
export function watch<T> (promise: Promise<T>): { readonly done: boolean, promise: Promise<T> } {
  const state = { done: false, promise }
  promise.then(() => { state.done = true }, () => { state.done = true })
  return state
}

/**
 * Moves `clock` on by `step` each event-loop turn until `promise` settles: for an end the switch reaches only
 * once it has seen something happen first (a connection's close), with no real-time wait.
 */
export async function advanceUntil<T> (clock: Clock, step: number, promise: Promise<T>): Promise<T> {
  const state = watch(promise)
  while (!state.done) {
    clock.advance(step)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return await promise
}
