// Helpers shared by the store tests: throw-away data directories, a byte-for-byte picture of one, and a switch
// in a process of its own that a test can kill -9 and start again on the same directory.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startSwitch, type Cli } from '../../cli/spawn.js'
import type { StoredMessage } from '../../../server/core/queue.js'

export function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switch-store-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** Every file of `dir` with its bytes, to show that a refusal left the directory as it was. */
export function picture (dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) files[name] = readFileSync(join(dir, name)).toString('base64')
  return files
}

export function message (id: number, queue: string, payload: string | Buffer, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { id, queue, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), origin: 'tester', time: 1000 + id, ...extra }
}

/**
 * `switch serve --data-dir DIR` in a process of its own, started as users start it, that a test can kill -9 and
 * start again; killed at teardown (and when the test process dies) if still running.
 */
export async function startProcess (t: Test, dir: string, flags: string[] = []): Promise<{ process: Cli, url: string }> {
  const { url, server } = await startSwitch(t, ['--data-dir', dir, ...flags])
  return { process: server, url }
}
