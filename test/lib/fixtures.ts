// Helpers shared by the client library's tests: a real switch and clients closed with the test, and waits on
// the switch's own reports (trace, diagnostics) instead of sleeps.
import { eventually } from '../eventually.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { fetch, type Dispatcher } from 'undici'
import { SwitchClient, type SwitchClientOptions, type TraceEvent } from '../../lib/index.js'
import { startSwitch, type RunningSwitch, type ServerConfig } from '../../server/index.js'

export async function runSwitch (t: Test, config: ServerConfig = {}): Promise<RunningSwitch> {
  const running = await startSwitch({ port: 0, ...config })
  t.teardown(running.stop)
  return running
}

/** A client closed with the test. A short retry window keeps a broken test from hanging. */
export function clientOf (t: Test, url: string | readonly string[], options: SwitchClientOptions = {}): SwitchClient {
  const client = new SwitchClient({ url, retryFor: 10_000, ...options })
  t.teardown(async () => { await client.close() })
  return client
}

export function portOf (url: string): number {
  return Number(new URL(url).port)
}

/**
 * A Unix socket path in a directory of the test's own: nothing listens there until the test starts a switch on
 * it. (A TCP port found free and bound later may be taken by anyone in between.)
 */
export function socketPath (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switch-lib-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return join(dir, 'switch.sock')
}

export { eventually } from '../eventually.js'

/** Sockets the switch at `url` has open, from its metrics (through `dispatcher`, for a Unix socket or TLS). */
export async function openSockets (url: string, dispatcher?: Dispatcher): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { dispatcher })).text()
  return Number(/^switch_streams_open\{kind="socket"\} (\d+)$/m.exec(text)?.[1] ?? 0)
}

/** Long-polls the trace (from cursor `after`) until an event matches. */
export async function traced (observer: SwitchClient, match: (event: TraceEvent) => boolean, after = 0): Promise<TraceEvent> {
  for (let cursor = after; ;) {
    const { events, next } = await observer.trace({ after: cursor, timeout: 10 })
    const found = events.find(match)
    if (found !== undefined) return found
    cursor = next
  }
}

/** Resolves once `count` long-polls wait on `queue`. */
export async function waitingOn (observer: SwitchClient, queue: string, count: number): Promise<void> {
  await eventually(`${count} long-poll(s) on ${queue}`, async () => {
    const entry = (await observer.diagnostics()).queues.find((q) => q.name === queue)
    return entry?.waiting === count ? true : undefined
  })
}

/** Resolves once `queue` holds `length` unacked messages. */
export async function queueLength (observer: SwitchClient, queue: string, length: number): Promise<void> {
  await eventually(`${length} message(s) on ${queue}`, async () => {
    const info = (await observer.list({ prefix: queue })).find((q) => q.name === queue)
    return info?.length === length ? true : undefined
  })
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

export function deferred<T = void> (): Deferred<T> {
  let resolve: (value: T) => void = () => {}
  const promise = new Promise<T>((done) => { resolve = done })
  return { promise, resolve }
}
