import { setTimeout as delay } from 'node:timers/promises'

/**
 * Polls `probe` until it returns a value, for at most `limitMs`: for states the switch reports but announces to
 * nobody (a long-poll waiting, a message queued).
 */
export async function eventually<T> (what: string, probe: () => Promise<T | undefined>, limitMs = 5000): Promise<T> {
  const deadline = Date.now() + limitMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await delay(10)
  }
}
