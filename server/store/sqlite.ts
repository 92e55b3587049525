import type { Database, Statement } from 'better-sqlite3'
import type { StoredMessage } from '../core/queue.js'
import { openDataDir } from './data-dir.js'
import type { DeadLetterInfo, QueueOptions } from '../../protocol/wire.js'
import type { PersistedPublishKey, PersistedQueue, PersistedSession, Snapshot, Store, StoreRecord } from './store.js'

export { DataDirError, DATABASE_FILE, type DataDirProblem } from './data-dir.js'

export interface SqliteStoreOptions {
  /**
   * Called inside each batch's transaction just before it commits, with the number of records in it. Throwing
   * aborts the batch as a failing disk would; tests count transactions and inject faults this way.
   */
  beforeCommit?: (records: number) => void
}

/** The records written in one event-loop turn, committed together in one transaction. */
class Batch {
  readonly records: StoreRecord[] = []
  readonly done: Promise<void>
  resolve!: () => void
  reject!: (error: Error) => void

  constructor () {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}

class StoreClosedError extends Error {
  readonly code = 'store_closed'

  constructor () {
    super('the store is closed')
    this.name = 'StoreClosedError'
  }
}

interface MessageRow {
  id: number
  queue: string
  payload: Buffer
  correlation_id: string | null
  reply_to: string | null
  error: number
  origin: string
  time: number
  topic: string | null
  retained: number
  deliveries: number
  lease_until: number | null
  leased_by: string | null
  expires: number | null
  not_before: number | null
  dead_letter: string | null
}

/**
 * Durable state in an embedded SQLite database, DATA_DIR/switch.db, in WAL mode with synchronous=FULL. Writes
 * of one event-loop turn share one transaction and so one flush of the log (group commit): under load the cost
 * of durability is per turn, not per request.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite'
  readonly location: string
  private readonly db: Database
  private readonly beforeCommit: ((records: number) => void) | undefined
  private batch: Batch | undefined
  private closed = false
  private readonly commitBatch: (records: StoreRecord[]) => void
  private readonly statements: Statements

  constructor (dir: string, options: SqliteStoreOptions = {}) {
    const { db, file } = openDataDir(dir)
    this.db = db
    this.location = file
    this.beforeCommit = options.beforeCommit
    this.statements = prepare(db)
    this.commitBatch = db.transaction((records: StoreRecord[]) => {
      let lastId = 0
      let keyedTime = 0
      let keyedPublishTime = 0
      for (const record of records) {
        this.apply(record)
        if (record.type === 'send') {
          lastId = record.message.id
          if (record.idempotencyKey !== undefined) keyedTime = record.message.time
        } else if (record.type === 'publish' || record.type === 'bind' || record.type === 'move') {
          lastId = record.messages.at(-1)?.id ?? lastId
          if (record.type === 'publish' && record.idempotencyKey !== undefined) keyedPublishTime = record.time
        }
      }
      if (lastId > 0) this.statements.setLastId.run(lastId)
      // Keys are only added by keyed sends, so forgetting lapsed ones then keeps the table to one window's worth.
      if (keyedTime > 0) this.statements.forgetKeys.run(keyedTime)
      if (keyedPublishTime > 0) this.statements.forgetPublishKeys.run(keyedPublishTime)
      this.beforeCommit?.(records.length)
    })
  }

  write (record: StoreRecord): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError())
    if (this.batch === undefined) {
      this.batch = new Batch()
      setImmediate(() => { this.flush() })
    }
    this.batch.records.push(record)
    return this.batch.done
  }

  /** Commits the current batch. A commit is synchronous: no write comes in while it runs; later ones start the next batch. */
  private flush (): void {
    const batch = this.batch
    if (batch === undefined) return
    this.batch = undefined
    try {
      this.commitBatch(batch.records)
    } catch (error) {
      // The transaction was rolled back: nothing of the batch is on disk, and the next batch starts afresh.
      batch.reject(error instanceof Error ? error : new Error(String(error)))
      return
    }
    batch.resolve()
  }

  private apply (record: StoreRecord): void {
    const s = this.statements
    switch (record.type) {
      case 'session':
        s.insertSession.run(record.token, record.client, record.principal)
        break
      case 'session_end':
        // As in memory: its temporary queues, their messages and bindings, and its subscriptions go with it.
        s.deleteOwnedMessages.run(record.token)
        s.deleteOwnedBindings.run(record.token)
        s.deleteOwnedQueues.run(record.token)
        s.deleteSubscriptions.run(record.token)
        s.deleteSession.run(record.token)
        break
      case 'queue':
        s.insertQueue.run(record.name, record.kind, record.owner ?? null, record.options === undefined ? null : JSON.stringify(record.options))
        break
      case 'lease':
        for (const lease of record.leases) s.setLease.run(lease.deliveries, lease.leaseUntil ?? null, lease.leasedBy ?? null, lease.id)
        break
      case 'move':
        for (const id of record.removed) s.deleteMessage.run(id)
        for (const message of record.messages) this.insertMessage(message)
        break
      case 'destroy':
        s.deleteQueueMessages.run(record.name)
        s.deleteQueueBindings.run(record.name)
        s.deleteQueue.run(record.name)
        break
      case 'subscribe':
        s.subscribe.run(record.queue, record.token)
        break
      case 'unsubscribe':
        s.unsubscribe.run(record.token, record.queue)
        break
      case 'send': {
        const m = record.message
        this.insertMessage(m)
        if (record.idempotencyKey !== undefined) {
          s.rememberKey.run(m.queue, record.idempotencyKey, m.id, record.idempotencyExpires ?? 0)
        }
        if (record.ack !== undefined) s.deleteMessage.run(record.ack)
        break
      }
      case 'ack':
        s.deleteMessage.run(record.id)
        break
      case 'publish':
        for (const message of record.messages) this.insertMessage(message)
        if (record.retained === null) s.deleteRetained.run(record.topic)
        else if (record.retained !== undefined) {
          const r = record.retained
          s.setRetained.run(r.topic, r.payload, r.origin, r.time)
        }
        if (record.idempotencyKey !== undefined) {
          s.rememberPublishKey.run(record.topic, record.idempotencyKey, JSON.stringify(record.messages.map((m) => m.id)), record.idempotencyExpires ?? 0)
        }
        break
      case 'bind':
        s.bind.run(record.queue, record.filter)
        for (const message of record.messages) this.insertMessage(message)
        break
      case 'unbind':
        s.unbind.run(record.queue, record.filter)
        break
    }
  }

  private insertMessage (m: StoredMessage): void {
    this.statements.insertMessage.run(
      m.id, m.queue, m.payload, m.correlationId ?? null, m.replyTo ?? null, m.error === true ? 1 : 0, m.origin, m.time,
      m.topic ?? null, m.retained === true ? 1 : 0, m.deliveries ?? 0, m.leaseUntil ?? null, m.leasedBy ?? null, m.expires ?? null,
      m.notBefore ?? null, m.deadLetter === undefined ? null : JSON.stringify(m.deadLetter)
    )
  }

  async load (): Promise<Snapshot> {
    const s = this.statements
    const sessions = new Map<string, PersistedSession>()
    for (const row of s.allSessions.all() as Array<{ token: string, client: string, principal: string }>) {
      sessions.set(row.token, { token: row.token, client: row.client, principal: row.principal, subscriptions: [] })
    }
    for (const row of s.allSubscriptions.all() as Array<{ token: string, queue: string }>) {
      sessions.get(row.token)?.subscriptions.push(row.queue)
    }
    const queues = (s.allQueues.all() as Array<{ name: string, kind: 'persistent' | 'temporary', owner: string | null, options: string | null }>)
      .map((row) => {
        const queue: PersistedQueue = { name: row.name, kind: row.kind }
        if (row.owner !== null) queue.owner = row.owner
        if (row.options !== null) queue.options = JSON.parse(row.options) as QueueOptions
        return queue
      })
    const messages: StoredMessage[] = []
    for (const row of s.allMessages.iterate() as IterableIterator<MessageRow>) {
      const message: StoredMessage = { id: row.id, queue: row.queue, payload: row.payload, origin: row.origin, time: row.time }
      if (row.correlation_id !== null) message.correlationId = row.correlation_id
      if (row.reply_to !== null) message.replyTo = row.reply_to
      if (row.error !== 0) message.error = true
      if (row.topic !== null) message.topic = row.topic
      if (row.retained !== 0) message.retained = true
      if (row.deliveries !== 0) message.deliveries = row.deliveries
      if (row.lease_until !== null) message.leaseUntil = row.lease_until
      if (row.leased_by !== null) message.leasedBy = row.leased_by
      if (row.expires !== null) message.expires = row.expires
      if (row.not_before !== null) message.notBefore = row.not_before
      if (row.dead_letter !== null) message.deadLetter = JSON.parse(row.dead_letter) as DeadLetterInfo
      messages.push(message)
    }
    const idempotencyKeys = s.allKeys.all() as Snapshot['idempotencyKeys']
    const lastId = (s.lastId.get() as { value: number }).value
    const bindings = s.allBindings.all() as Snapshot['bindings']
    const retained = s.allRetained.all() as Snapshot['retained']
    const publishKeys = (s.allPublishKeys.all() as Array<Omit<PersistedPublishKey, 'ids'> & { ids: string }>)
      .map((row) => ({ ...row, ids: JSON.parse(row.ids) as number[] }))
    return { lastId, sessions: [...sessions.values()], queues, messages, idempotencyKeys, bindings, retained, publishKeys }
  }

  async close (): Promise<void> {
    if (this.closed) return
    // What is already written still commits: its writers are waiting for the answer.
    this.flush()
    this.closed = true
    this.db.close()
  }
}

const SQL = {
  insertSession: 'INSERT INTO sessions (token, client, principal) VALUES (?, ?, ?)',
  deleteOwnedMessages: 'DELETE FROM messages WHERE queue IN (SELECT name FROM queues WHERE owner = ?)',
  deleteOwnedQueues: 'DELETE FROM queues WHERE owner = ?',
  deleteOwnedBindings: 'DELETE FROM bindings WHERE queue IN (SELECT name FROM queues WHERE owner = ?)',
  deleteSubscriptions: 'DELETE FROM subscriptions WHERE token = ?',
  deleteSession: 'DELETE FROM sessions WHERE token = ?',
  insertQueue: 'INSERT INTO queues (name, kind, owner, options) VALUES (?, ?, ?, ?)',
  setLease: 'UPDATE messages SET deliveries = ?, lease_until = ?, leased_by = ? WHERE id = ?',
  deleteQueueMessages: 'DELETE FROM messages WHERE queue = ?',
  deleteQueue: 'DELETE FROM queues WHERE name = ?',
  deleteQueueBindings: 'DELETE FROM bindings WHERE queue = ?',
  // A request may still hold a session that ended meanwhile: its subscription dies with it, as in memory.
  subscribe: 'INSERT OR IGNORE INTO subscriptions (token, queue) SELECT token, ? FROM sessions WHERE token = ?',
  unsubscribe: 'DELETE FROM subscriptions WHERE token = ? AND queue = ?',
  insertMessage: `INSERT INTO messages (id, queue, payload, correlation_id, reply_to, error, origin, time, topic, retained, deliveries,
    lease_until, leased_by, expires, not_before, dead_letter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  // A key made again (a retry) is a second row: the later one wins when they are read back, in order.
  rememberKey: 'INSERT INTO idempotency_log (queue, key, id, expires) VALUES (?, ?, ?, ?)',
  // The lapsed head of the log, up to the first key still in its window (or all of it). A lapsed key behind that
  // one (the clock stepped back) waits for it, and is skipped when read back.
  forgetKeys: `DELETE FROM idempotency_log
    WHERE rowid < coalesce((SELECT rowid FROM idempotency_log WHERE expires > ? ORDER BY rowid LIMIT 1), 9223372036854775807)`,
  deleteMessage: 'DELETE FROM messages WHERE id = ?',
  bind: 'INSERT OR IGNORE INTO bindings (queue, filter) VALUES (?, ?)',
  unbind: 'DELETE FROM bindings WHERE queue = ? AND filter = ?',
  setRetained: 'INSERT OR REPLACE INTO retained (topic, payload, origin, time) VALUES (?, ?, ?, ?)',
  deleteRetained: 'DELETE FROM retained WHERE topic = ?',
  rememberPublishKey: 'INSERT OR REPLACE INTO publish_keys (topic, key, ids, expires) VALUES (?, ?, ?, ?)',
  forgetPublishKeys: 'DELETE FROM publish_keys WHERE expires <= ?',
  setLastId: "UPDATE meta SET value = ? WHERE key = 'last_id'",
  lastId: "SELECT value FROM meta WHERE key = 'last_id'",
  allSessions: 'SELECT token, client, principal FROM sessions',
  allSubscriptions: 'SELECT token, queue FROM subscriptions',
  allQueues: 'SELECT name, kind, owner, options FROM queues',
  allMessages: `SELECT id, queue, payload, correlation_id, reply_to, error, origin, time, topic, retained, deliveries, lease_until, leased_by,
    expires, not_before, dead_letter FROM messages ORDER BY id`,
  allKeys: 'SELECT queue, key, id, expires FROM idempotency_log ORDER BY rowid',
  allBindings: 'SELECT queue, filter FROM bindings',
  allRetained: 'SELECT topic, payload, origin, time FROM retained',
  allPublishKeys: 'SELECT topic, key, ids, expires FROM publish_keys ORDER BY expires'
} as const

type Statements = { readonly [Name in keyof typeof SQL]: Statement }

function prepare (db: Database): Statements {
  const statements: Partial<Record<keyof typeof SQL, Statement>> = {}
  for (const name of Object.keys(SQL) as Array<keyof typeof SQL>) statements[name] = db.prepare(SQL[name])
  return statements as Statements
}
