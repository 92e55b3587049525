import { randomUUID } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { StorageFailedError } from '../core/errors.js'
import type { Operation } from '../core/operations.js'
import { snapshotFromText, snapshotToText } from './snapshot-text.js'
import type { Follower, SharedLog, Snapshot, Store } from './store.js'

/** When a switch saves a snapshot and trims the log: after this many operations or this long, whichever comes first. */
export interface Compaction {
  operations: number
  ms: number
}

export const DEFAULT_COMPACTION: Compaction = { operations: 10_000, ms: 60_000 }

export interface RedisStoreOptions {
  /** Key prefix: several fleets may share one Redis database under different prefixes. */
  prefix?: string
  compaction?: Compaction
}

/** An operation waiting to come up in the log: its submitter is answered from what applying it gave. */
interface Pending {
  resolve: (result: unknown) => void
  reject: (error: unknown) => void
  /** Its entry's id, once XADD has answered. */
  id?: string
}

/** A snapshot as saved, with the log entry it is the state after. */
interface Saved {
  id: string
  number: number
  state: Snapshot
}

/**
 * The scripts, named for what they change (each runs atomically).
 * - appendOperation: numbers the entry (field `s`, one more than the entry before it: a reader that finds a
 *   number it did not expect knows entries it has not read were trimmed) and appends it.
 * - saveSnapshotAndTrim: if the caller still holds the compaction lock, releases it and saves the snapshot
 *   unless a newer one is saved, then trims the log of the entries before the snapshot this one replaces: the
 *   entries after the new snapshot stay for a new switch, and those after the old one for a switch a little
 *   behind, which so needs the snapshot only if it fell a whole compaction behind.
 */
const SCRIPTS = {
  appendOperation: {
    numberOfKeys: 2,
    lua: `
      local number = redis.call('INCR', KEYS[2])
      return redis.call('XADD', KEYS[1], '*', 's', number, unpack(ARGV))`
  },
  saveSnapshotAndTrim: {
    numberOfKeys: 3,
    lua: `
      if redis.call('GET', KEYS[3]) ~= ARGV[4] then return 0 end
      redis.call('DEL', KEYS[3])
      local saved = redis.call('HMGET', KEYS[1], 'id', 'number')
      if saved[2] and tonumber(saved[2]) >= tonumber(ARGV[2]) then return 0 end
      redis.call('HSET', KEYS[1], 'id', ARGV[1], 'number', ARGV[2], 'state', ARGV[3])
      if saved[1] then redis.call('XTRIM', KEYS[2], 'MINID', saved[1]) end
      return 1`
  }
}

interface Scripts {
  appendOperation: (log: string, number: string, ...fields: Array<string | Buffer>) => Promise<string>
  saveSnapshotAndTrim: (snapshot: string, log: string, lock: string, id: string, number: number, state: string, node: string) => Promise<number>
}

/** How long the tail waits before reading again after Redis failed it (reconnecting meanwhile). */
const RETRY_TAIL_MS = 200
/** An XREAD waits this long at most, so that a closing store is not held by a blocked read. */
const BLOCK_MS = 5000
const READ_BATCH = 1000
/** The compaction lock lapses after this, should its holder die: long enough to save any snapshot. */
const COMPACTION_LOCK_MS = 10_000

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
 * read, no polling). An append is acknowledged once Redis has it: with `appendfsync always`, on disk.
 *
 * The log is compacted: now and then (see Compaction) one switch at a time saves its state as of the last
 * entry it applied, and the log is trimmed of what an earlier snapshot covers. A switch starting reads the
 * snapshot, then the entries after it: replay is the live path. One that fell behind what the log still holds
 * (the entry numbers show a gap) takes the snapshot instead of skipping entries.
 */
export class RedisStore implements Store, SharedLog {
  readonly kind = 'redis'
  readonly location: string
  readonly log: SharedLog = this
  private readonly commands: Redis & Scripts
  /** XREAD BLOCK holds its connection: the tail has its own. */
  private readonly tail: Redis
  private readonly key: { log: string, number: string, snapshot: string, compacting: string, lease: string }
  private readonly compaction: Compaction
  /** Ours by this id: an entry carrying it answers the submit that appended it; the compaction lock's value. */
  private readonly node = randomUUID()
  private sequence = 0
  private readonly pending = new Map<string, Pending>()
  /** The last log entry applied (or read at load), and its number. */
  private position = '0-0'
  private number = 0
  /** Entries applied since this switch last tried to compact, and when that was. */
  private sinceCompaction = 0
  private compactedAt = Date.now()
  private compacting: Promise<void> | undefined
  private closed = false
  private tailDone: Promise<void> = Promise.resolve()

  constructor (url: string, options: RedisStoreOptions = {}) {
    const { shown, ...connection } = redisOptions(url)
    this.location = shown
    const prefix = options.prefix ?? 'switch:'
    this.key = {
      log: `${prefix}log`,
      number: `${prefix}log-number`,
      snapshot: `${prefix}snapshot`,
      compacting: `${prefix}compacting`,
      lease: `${prefix}lease:`
    }
    this.compaction = options.compaction ?? DEFAULT_COMPACTION
    // No offline queue: while Redis is away a write fails at once (503 storage_failed: the client may try
    // another switch) instead of waiting unanswered.
    const common: RedisOptions = { ...connection, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => RETRY_TAIL_MS }
    const commands = new Redis({ ...common, enableOfflineQueue: false, enableAutoPipelining: true })
    for (const [name, script] of Object.entries(SCRIPTS)) commands.defineCommand(name, script)
    this.commands = commands as Redis & Scripts
    this.tail = new Redis({ ...common })
    // Failures are answered where they matter (submit, the tail); the emitter must not throw them.
    this.commands.on('error', () => {})
    this.tail.on('error', () => {})
  }

  /** Connects (refusing to start without Redis), reads the snapshot and the log after it. */
  async load (): Promise<Snapshot> {
    if (this.commands.status === 'wait') {
      try {
        await Promise.all([this.commands.connect(), this.tail.connect()])
      } catch (error) {
        // Both would go on retrying in the background: a switch that cannot start should leave nothing running.
        this.commands.disconnect()
        this.tail.disconnect()
        throw new Error(`cannot reach Redis at ${this.location}: ${(error as Error).message}`)
      }
    }
    let before: number | undefined
    for (;;) {
      const saved = await this.saved()
      // A gap the snapshot does not cover: entries removed by hand, not by compaction.
      if (saved.number === before) throw new Error(`${this.key.log} lacks entries after its snapshot: it was trimmed by something else than a switch`)
      before = saved.number
      this.position = saved.id
      this.number = saved.number
      const operations: Operation[] = []
      let whole = true
      for (;;) {
        const entries = await this.commands.xrangeBuffer(this.key.log, `(${this.position}`, '+', 'COUNT', READ_BATCH)
        for (const [id, fields] of entries) {
          whole = this.next(id, fields)
          if (!whole) break
          operations.push(decode(fields))
        }
        if (!whole || entries.length < READ_BATCH) break
      }
      // Otherwise compacted twice while read: again, from the newer snapshot.
      if (whole) return { ...saved.state, operations }
    }
  }

  /** The snapshot saved last, or the empty state before the first entry. */
  private async saved (): Promise<Saved> {
    const [id, number, state] = await this.commands.hmget(this.key.snapshot, 'id', 'number', 'state')
    if (id === null || number === null || state === null) {
      return { id: '0-0', number: 0, state: { lastId: 0, sessions: [], queues: [], messages: [], idempotencyKeys: [], bindings: [], retained: [], publishKeys: [] } }
    }
    return { id, number: Number(number), state: snapshotFromText(state) }
  }

  /** Takes the entry as the next one, unless its number shows that entries before it were trimmed unread. */
  private next (id: Buffer, fields: Buffer[]): boolean {
    const number = Number(field(fields, 's')?.toString())
    if (number !== this.number + 1) return false
    this.position = id.toString()
    this.number = number
    return true
  }

  write (): undefined {
    throw new TypeError('a shared log takes operations (submit), not changes')
  }

  follow (follower: Follower): void {
    this.tailDone = this.follows(follower)
  }

  private async follows (follower: Follower): Promise<void> {
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
          if (!this.next(id, fields)) {
            await this.catchUp(follower)
            break
          }
          this.sinceCompaction++
          const nonce = field(fields, 'n')?.toString()
          const waiting = nonce === undefined ? undefined : this.pending.get(nonce)
          if (waiting !== undefined) this.pending.delete(nonce as string)
          let result: unknown
          try {
            result = follower.apply(decode(fields), nonce?.startsWith(`${this.node}:`) === true)
          } catch (error) {
            waiting?.reject(error)
            continue
          }
          waiting?.resolve(result)
        }
      }
      this.compactIfDue(follower)
    }
  }

  /**
   * Fell behind the log's start (this switch was slow or cut off while others compacted): takes the saved
   * snapshot and goes on from its entry. Its own operations among those it never read get no answer from
   * them: they are refused as a failed append is (they may have been applied).
   */
  private async catchUp (follower: Follower): Promise<void> {
    let saved: Saved
    try {
      saved = await this.saved()
    } catch {
      // Redis away: the next read finds the gap again.
      await new Promise((resolve) => setTimeout(resolve, RETRY_TAIL_MS))
      return
    }
    if (saved.number <= this.number) {
      // Not a snapshot ahead of us (the log was trimmed by something else): nothing to take, and nothing to spin on.
      await new Promise((resolve) => setTimeout(resolve, RETRY_TAIL_MS))
      return
    }
    follower.restore(saved.state)
    this.position = saved.id
    this.number = saved.number
    for (const [nonce, waiting] of this.pending) {
      if (waiting.id !== undefined && compareIds(waiting.id, this.position) <= 0) this.passedOver(nonce, waiting)
    }
  }

  private passedOver (nonce: string, waiting: Pending): void {
    this.pending.delete(nonce)
    waiting.reject(new StorageFailedError('this switch fell behind the shared log: the operation may or may not have been applied'))
  }

  /**
   * Between two batches, so the state is exactly that after `position`: compacts once enough entries or time
   * went by since this switch last tried, if no other switch is compacting (the lock). Switches that find it
   * held count again from zero: one compaction serves them all.
   */
  private compactIfDue (follower: Follower): void {
    if (this.compacting !== undefined || this.sinceCompaction === 0 || this.closed) return
    if (this.sinceCompaction < this.compaction.operations && Date.now() - this.compactedAt < this.compaction.ms) return
    this.sinceCompaction = 0
    this.compactedAt = Date.now()
    this.compacting = this.compact(follower).catch(() => {
      // Redis away, or the lock lapsed: a later compaction saves a later state.
    }).finally(() => { this.compacting = undefined })
  }

  private async compact (follower: Follower): Promise<void> {
    if (await this.commands.set(this.key.compacting, this.node, 'PX', COMPACTION_LOCK_MS, 'NX') === null) return
    // The tail is between two batches again (it awaits nothing else): the state is that after `position`.
    const state = snapshotToText(follower.snapshot())
    await this.commands.saveSnapshotAndTrim(this.key.snapshot, this.key.log, this.key.compacting, this.position, this.number, state, this.node)
  }

  async submit (operation: Operation): Promise<unknown> {
    if (this.closed) throw new StorageFailedError('the store is closed')
    const nonce = `${this.node}:${++this.sequence}`
    let waiting: Pending | undefined
    const answered = new Promise<unknown>((resolve, reject) => {
      waiting = { resolve, reject }
      this.pending.set(nonce, waiting)
    })
    // The tail may apply the entry (and refuse it) before the append's own answer comes back on the other connection.
    answered.catch(() => {})
    const { payload, rest } = split(operation)
    const fields: Array<string | Buffer> = ['o', JSON.stringify(rest), 'n', nonce]
    if (payload !== undefined) fields.push('p', payload)
    let id: string
    try {
      id = await this.commands.appendOperation(this.key.log, this.key.number, ...fields)
    } catch (error) {
      // Perhaps it was appended and only the answer lost: then every switch still applies it (a retry with
      // the same idempotency key is then answered as a duplicate); the client is told it may not have been.
      this.pending.delete(nonce)
      throw new StorageFailedError(`Redis: ${(error as Error).message}`)
    }
    if (this.pending.get(nonce) === waiting && waiting !== undefined) {
      waiting.id = id
      // Taken in a snapshot this switch caught up with before it read the entry.
      if (compareIds(id, this.position) <= 0) this.passedOver(nonce, waiting)
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
    await this.compacting
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

/** Orders two stream entry ids (`MS-SEQ`). */
function compareIds (a: string, b: string): number {
  const [aTime, aSequence] = a.split('-').map(Number)
  const [bTime, bSequence] = b.split('-').map(Number)
  return aTime === bTime ? aSequence - bSequence : aTime - bTime
}

function decode (fields: Buffer[]): Operation {
  const operation = JSON.parse((field(fields, 'o') as Buffer).toString()) as Operation
  if (operation.type === 'send' || operation.type === 'publish') operation.payload = field(fields, 'p') ?? Buffer.alloc(0)
  return operation
}
