// How a service queue is doing, read from GET /v1/diagnostics: the original message-switch's classification,
// shared by `switch diagnostics` and the dashboard (which loads this module's build as it is: it imports nothing).
import type { DiagnosticsQueue } from './wire.js'

/** A long-poll deadline further in the past than this, with requests waiting, means the service is stuck. */
export const CRASHED_AFTER_MS = 30_000

/** How a queue is being polled: now, lately, never, not for a suspiciously long time, or no more (said goodbye). */
export type PollState = 'polling' | 'recent' | 'never' | 'stale' | 'left'

export function pollState (queue: DiagnosticsQueue, now: number): PollState {
  if (queue.waiting > 0) return 'polling'
  if (queue.left !== undefined) return 'left'
  if (queue.lastTransfer === undefined || queue.nextTransferExpected === undefined) return 'never'
  return now - queue.nextTransferExpected <= CRASHED_AFTER_MS ? 'recent' : 'stale'
}

export type ServiceState = 'running' | 'never_started' | 'crashed' | 'stopped' | 'idle'

/** Messages the queue holds, those the answer lists and those it left out to stay within its byte budget. */
export function held (queue: DiagnosticsQueue): number {
  return queue.messages.length + (queue.omitted ?? 0)
}

/** The original's classification of a service queue. A queue with nothing waiting is never in trouble. */
export function serviceState (queue: DiagnosticsQueue, now: number): ServiceState {
  const poll = pollState(queue, now)
  if (poll === 'polling' || poll === 'recent') return 'running'
  if (held(queue) === 0) return 'idle'
  if (poll === 'left') return 'stopped'
  return poll === 'never' ? 'never_started' : 'crashed'
}
