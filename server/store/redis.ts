import { randomUUID } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { StorageFailedError } from '../core/errors.js'
import type { Operation } from '../core/operations.js'
import type { SharedLog, Snapshot, Store } from './store.js'

export interface RedisStoreOptions {
  /** Key prefix: several fleets may share one Redis database under different prefixes. */
  prefix?: string
}

/** An operation waiting to come up in the log: its submitter is answered from what applying it gave. */
interface Pending {
  resolve: (result: unknown) => void
  reject: (error: unknown) => void
}

/** How long the tail waits before reading again after Redis failed it (reconnecting meanwhile). */
const RETRY_TAIL_MS = 200
/** An XREAD waits this long at most, so that a closing store is not held by a blocked read. */
const BLOCK_MS = 5000
const READ_BATCH = 1000

/**
 * `redis://[:PASSWORD@]HOST[:PORT][/DB]`, `rediss://...` (TLS), or `redis+unix:///PATH/TO/SOCKET[?db=N]`.
 * Refused (TypeError) if it is none of them.
 */
export function redisOptions (url: string): RedisOptions & { shown: string } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`--redis ${url} is not a URL: give redis://HOST:PORT/DB or redis+unix:///PATH?db=N`)
  }
  const db = Number(parsed.searchParams.get('db') ?? (parsed.pathname.slice(1) || '0'))
  if (parsed.protocol === 'redis+unix:') {
    const shownDb = Number(parsed.searchParams.get('db') ?? '0')
    if (!Number.isInteger(shownDb) || shownDb < 0) throw new TypeError(`--redis ${url}: the database (?db=N) must be a number`)
    const options: RedisOptions = { path: decodeURIComponent(parsed.pathname), db: shownDb }
    if (parsed.password !== '') options.password = decodeURIComponent(parsed.password)
    return { ...options, shown: `redis+unix://${parsed.pathname}?db=${shownDb}` }
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`--redis ${url}: the scheme must be redis:, rediss: or redis+unix:`)
  }
  if (!Number.isInteger(db) || db < 0) throw new TypeError(`--redis ${url}: the database (/DB) must be a number`)
  const options: RedisOptions = { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 6379), db }
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username)
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password)
  if (parsed.protocol === 'rediss:') options.tls = {}
  return { ...options, shown: `${parsed.protocol}//${parsed.host}/${db}` }
}

/**
 * State shared by any number of switches through one Redis: an ordered log of operations (a stream, one entry
 * per operation, so each is atomic) that every switch applies in log order with the same rules
 * (`Switch.applyOperation`), and a lease key per session. A switch appends an operation and answers once its
 * own tail has applied it: the answer is the one every switch computes, ids come from the one counter the log
 * orders, and a send on one switch wakes the long-polls of every other as its tail applies it (a blocking
 * read, no polling). Replay at start-up is the same path. An append is acknowledged once Redis has it: with
 * `appendfsync always`, on disk.
 */
export class RedisStore implements Store, SharedLog {
  readonly kind = 'redis'
  readonly location: string
  readonly log: SharedLog = this
  private readonly commands: Redis
  /** XREAD BLOCK holds its connection: the tail has its own. */
  private readonly tail: Redis
  private readonly key: { log: string, lease: string }
  /** Ours by this id: an entry carrying it answers the submit that appended it. */
  private readonly node = randomUUID()
  private sequence = 0
  private readonly pending = new Map<string, Pending>()
  /** The last log entry applied (or read at load). */
  private position = '0-0'
  private closed = false
  private tailDone: Promise<void> = Promise.resolve()

  constructor (url: string, options: RedisStoreOptions = {}) {
    const { shown, ...connection } = redisOptions(url)
    this.location = shown
    const prefix = options.prefix ?? 'switch:'
    this.key = { log: `${prefix}log`, lease: `${prefix}lease:` }
    // No offline queue: while Redis is away a write fails at once (503 storage_failed: the client may try
    // another switch) instead of waiting unanswered.
    const common: RedisOptions = { ...connection, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => RETRY_TAIL_MS }
    this.commands = new Redis({ ...common, enableOfflineQueue: false, enableAutoPipelining: true })
    this.tail = new Redis({ ...common })
    // Failures are answered where they matter (submit, the tail); the emitter must not throw them.
    this.commands.on('error', () => {})
    this.tail.on('error', () => {})
  }

  /** Connects (refusing to start without Redis) and reads the whole log: the state is its replay. */
  async load (): Promise<Snapshot> {
    if (this.commands.status === 'wait') await Promise.all([this.commands.connect(), this.tail.connect()])
    const operations: Operation[] = []
    for (;;) {
      const entries = await this.commands.xrangeBuffer(this.key.log, `(${this.position}`, '+', 'COUNT', READ_BATCH)
      for (const [id, fields] of entries) {
        operations.push(decode(fields))
        this.position = id.toString()
      }
      if (entries.length < READ_BATCH) break
    }
    return { lastId: 0, sessions: [], queues: [], messages: [], idempotencyKeys: [], bindings: [], retained: [], publishKeys: [], operations }
  }

  write (): undefined {
    throw new TypeError('a shared log takes operations (submit), not changes')
  }

  follow (apply: (operation: Operation) => unknown): void {
    this.tailDone = this.follows(apply)
  }

  private async follows (apply: (operation: Operation) => unknown): Promise<void> {
    while (!this.closed) {
      let streams
      try {
        streams = await this.tail.xreadBuffer('COUNT', READ_BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.key.log, this.position)
      } catch {
        if (this.closed) return
        await new Promise((resolve) => setTimeout(resolve, RETRY_TAIL_MS))
        continue
      }
      for (const [, entries] of streams ?? []) {
        for (const [id, fields] of entries) {
          this.position = id.toString()
          const nonce = field(fields, 'n')?.toString()
          const waiting = nonce === undefined ? undefined : this.pending.get(nonce)
          if (waiting !== undefined) this.pending.delete(nonce as string)
          let result: unknown
          try {
            result = apply(decode(fields))
          } catch (error) {
            waiting?.reject(error)
            continue
          }
          waiting?.resolve(result)
        }
      }
    }
  }

  async submit (operation: Operation): Promise<unknown> {
    if (this.closed) throw new StorageFailedError('the store is closed')
    const nonce = `${this.node}:${++this.sequence}`
    const answered = new Promise<unknown>((resolve, reject) => { this.pending.set(nonce, { resolve, reject }) })
    // The tail may apply the entry (and refuse it) before XADD's own answer comes back on the other connection.
    answered.catch(() => {})
    const { payload, rest } = split(operation)
    const fields: Array<string | Buffer> = ['o', JSON.stringify(rest), 'n', nonce]
    if (payload !== undefined) fields.push('p', payload)
    try {
      await this.commands.xadd(this.key.log, '*', ...fields)
    } catch (error) {
      // Perhaps it was appended and only the answer lost: then every switch still applies it (a retry with
      // the same idempotency key is then answered as a duplicate); the client is told it may not have been.
      this.pending.delete(nonce)
      throw new StorageFailedError(`Redis: ${(error as Error).message}`)
    }
    if (operation.type === 'session') this.touch(operation.token, operation.ttl)
    return await answered
  }

  touch (token: string, ttl: number): void {
    if (this.commands.status !== 'ready') return
    this.commands.set(`${this.key.lease}${token}`, '1', 'PX', ttl).catch(() => {})
  }

  async lapsed (tokens: string[]): Promise<string[]> {
    const pipeline = this.commands.pipeline()
    for (const token of tokens) pipeline.exists(`${this.key.lease}${token}`)
    const results = await pipeline.exec()
    if (results === null) throw new StorageFailedError('Redis answered nothing')
    return tokens.filter((_, i) => {
      const [error, exists] = results[i]
      if (error !== null) throw error
      return exists === 0
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.tail.disconnect()
    await this.tailDone
    for (const waiting of this.pending.values()) waiting.reject(new StorageFailedError('the store is closed'))
    this.pending.clear()
    this.commands.disconnect()
  }
}

/** The payload travels as its own field, as bytes; the rest as JSON. */
function split (operation: Operation): { payload?: Buffer, rest: object } {
  if (operation.type !== 'send' && operation.type !== 'publish') return { rest: operation }
  const { payload, ...rest } = operation
  return { payload, rest }
}

function field (fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i].toString() === name) return fields[i + 1]
  return undefined
}

function decode (fields: Buffer[]): Operation {
  const operation = JSON.parse((field(fields, 'o') as Buffer).toString()) as Operation
  if (operation.type === 'send' || operation.type === 'publish') operation.payload = field(fields, 'p') ?? Buffer.alloc(0)
  return operation
}
