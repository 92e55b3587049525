// Helpers shared by the store tests: throw-away data directories, a byte-for-byte picture of one, and a switch
// in a process of its own that a test can kill -9 and start again on the same directory.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
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

/** The launcher; `bin/run.js serve --data-dir` takes its place once the CLI has the flag. */
const RUN_SWITCH = fileURLToPath(new URL('../../fixtures/run-switch.js', import.meta.url))

export interface ProcessOptions {
  sessionTtlSeconds?: number
  spawn?: Pick<SpawnOptions, 'uid' | 'gid'>
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/** `node run-switch.js --data-dir DIR` on a free port; killed at teardown if still running. */
export class SwitchProcess {
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  private stderr = ''

  constructor (t: Test, dir: string, options: ProcessOptions = {}) {
    const args = [RUN_SWITCH, '--data-dir', dir, '--port', '0', '--session-ttl', String(options.sessionTtlSeconds ?? 30)]
    // Its stdin stays open while this process lives: the launcher stops when it ends.
    this.child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options.spawn })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk })
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject)
      this.child.on('close', (code, signal) => { resolve({ code, signal, stderr: this.stderr }) })
    })
    t.teardown(async () => { await this.kill() })
  }

  /** Resolves with the switch's URL once it listens; rejects with its stderr if it exits first. */
  async listening (): Promise<string> {
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream })
    try {
      for await (const line of lines) {
        const match = /^switch listening on (\S+)$/.exec(line)
        if (match !== null) return match[1]
      }
    } finally {
      lines.close()
    }
    const { code, stderr } = await this.exited
    throw new Error(`the switch exited (${String(code)}) before listening: ${stderr}`)
  }

  /** kill -9, and wait until the process is gone. */
  async kill (): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited.catch(() => {})
  }
}

/** Starts a switch process on `dir` and waits until it listens. */
export async function startProcess (t: Test, dir: string, options: ProcessOptions = {}): Promise<{ process: SwitchProcess, url: string }> {
  const started = new SwitchProcess(t, dir, options)
  return { process: started, url: await started.listening() }
}
