// A redis-server of the test's own: on a Unix socket in a temporary directory (no TCP port, so no port race),
// syncing every write (appendfsync always), killed and removed at teardown. `restart` kills it -9 and starts it
// again on the same directory: what it acknowledged is in its append-only file.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { redisOptions } from '../../../server/store/redis.js'
import type { Teardown } from '../../cli/spawn.js'

export const REDIS_SERVER = '/usr/bin/redis-server'

export interface RedisServer {
  /** For `--redis`. */
  url: string
  /** kill -9, then start again on the same files; resolves once it accepts connections. */
  restart: () => Promise<void>
}

async function launch (dir: string): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, [
    '--port', '0', '--unixsocket', join(dir, 'redis.sock'), '--dir', dir,
    '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--loglevel', 'notice'
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (/ready to accept connections/i.test(output)) resolve()
    })
    child.once('exit', (code) => { reject(new Error(`redis-server exited (${code ?? 'signal'}): ${output}`)) })
  })
  await ready
  return child
}

export async function startRedis (t: Teardown): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'switch-redis-'))
  let child = await launch(dir)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    url: `redis+unix://${join(dir, 'redis.sock')}`,
    restart: async () => {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
      child = await launch(dir)
    }
  }
}

/** A test file's redis-server, started before its tests, and a connection of its own to read the keys switches write. */
export class RedisTestbed {
  private started: { server: RedisServer, db: Redis } | undefined

  constructor (t: Test) {
    t.before(async () => {
      const server = await startRedis(t)
      const { shown, ...options } = redisOptions(server.url)
      const db = new Redis(options)
      t.teardown(() => { db.disconnect() })
      this.started = { server, db }
    })
  }

  get url (): string {
    return this.current.server.url
  }

  get db (): Redis {
    return this.current.db
  }

  private get current (): { server: RedisServer, db: Redis } {
    if (this.started === undefined) throw new Error('the redis-server is not started yet (use it inside a test)')
    return this.started
  }
}
