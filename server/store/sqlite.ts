import type { Database, Statement } from 'better-sqlite3'
import type { StoredMessage } from '../core/queue.js'
import { openDataDir } from './data-dir.js'
import type { PersistedSession, Snapshot, Store, StoreRecord } from './store.js'

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
      for (const record of records) {
        this.apply(record)
        if (record.type === 'send') {
          lastId = record.message.id
          if (record.idempotencyKey !== undefined) keyedTime = record.message.time
        }
      }
      if (lastId > 0) this.statements.setLastId.run(lastId)
      // Keys are only added by keyed sends, so forgetting lapsed ones then keeps the table to one window's worth.
      if (keyedTime > 0) this.statements.forgetKeys.run(keyedTime)
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
        s.insertSession.run(record.token, record.client)
        break
      case 'session_end':
        // As in memory: its temporary queues, their messages and its subscriptions go with it.
        s.deleteOwnedMessages.run(record.token)
        s.deleteOwnedQueues.run(record.token)
        s.deleteSubscriptions.run(record.token)
        s.deleteSession.run(record.token)
        break
      case 'queue':
        s.insertQueue.run(record.name, record.kind, record.owner ?? null)
        break
      case 'destroy':
        s.deleteQueueMessages.run(record.name)
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
        s.insertMessage.run(m.id, m.queue, m.payload, m.correlationId ?? null, m.replyTo ?? null, m.error === true ? 1 : 0, m.origin, m.time)
        if (record.idempotencyKey !== undefined) {
          s.rememberKey.run(m.queue, record.idempotencyKey, m.id, record.idempotencyExpires ?? 0)
        }
        if (record.ack !== undefined) s.deleteMessage.run(record.ack)
        break
      }
      case 'ack':
        s.deleteMessage.run(record.id)
        break
    }
  }

  load (): Snapshot {
    const s = this.statements
    const sessions = new Map<string, PersistedSession>()
    for (const row of s.allSessions.all() as Array<{ token: string, client: string }>) {
      sessions.set(row.token, { token: row.token, client: row.client, subscriptions: [] })
    }
    for (const row of s.allSubscriptions.all() as Array<{ token: string, queue: string }>) {
      sessions.get(row.token)?.subscriptions.push(row.queue)
    }
    const queues = (s.allQueues.all() as Array<{ name: string, kind: 'persistent' | 'temporary', owner: string | null }>)
      .map((row) => row.owner === null ? { name: row.name, kind: row.kind } : { name: row.name, kind: row.kind, owner: row.owner })
    const messages: StoredMessage[] = []
    for (const row of s.allMessages.iterate() as IterableIterator<MessageRow>) {
      const message: StoredMessage = { id: row.id, queue: row.queue, payload: row.payload, origin: row.origin, time: row.time }
      if (row.correlation_id !== null) message.correlationId = row.correlation_id
      if (row.reply_to !== null) message.replyTo = row.reply_to
      if (row.error !== 0) message.error = true
      messages.push(message)
    }
    const idempotencyKeys = s.allKeys.all() as Snapshot['idempotencyKeys']
    const lastId = (s.lastId.get() as { value: number }).value
    return { lastId, sessions: [...sessions.values()], queues, messages, idempotencyKeys }
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
  insertSession: 'INSERT INTO sessions (token, client) VALUES (?, ?)',
  deleteOwnedMessages: 'DELETE FROM messages WHERE queue IN (SELECT name FROM queues WHERE owner = ?)',
  deleteOwnedQueues: 'DELETE FROM queues WHERE owner = ?',
  deleteSubscriptions: 'DELETE FROM subscriptions WHERE token = ?',
  deleteSession: 'DELETE FROM sessions WHERE token = ?',
  insertQueue: 'INSERT INTO queues (name, kind, owner) VALUES (?, ?, ?)',
  deleteQueueMessages: 'DELETE FROM messages WHERE queue = ?',
  deleteQueue: 'DELETE FROM queues WHERE name = ?',
  // A request may still hold a session that ended meanwhile: its subscription dies with it, as in memory.
  subscribe: 'INSERT OR IGNORE INTO subscriptions (token, queue) SELECT token, ? FROM sessions WHERE token = ?',
  unsubscribe: 'DELETE FROM subscriptions WHERE token = ? AND queue = ?',
  insertMessage: 'INSERT INTO messages (id, queue, payload, correlation_id, reply_to, error, origin, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  rememberKey: 'INSERT OR REPLACE INTO idempotency_keys (queue, key, id, expires) VALUES (?, ?, ?, ?)',
  forgetKeys: 'DELETE FROM idempotency_keys WHERE expires <= ?',
  deleteMessage: 'DELETE FROM messages WHERE id = ?',
  setLastId: "UPDATE meta SET value = ? WHERE key = 'last_id'",
  lastId: "SELECT value FROM meta WHERE key = 'last_id'",
  allSessions: 'SELECT token, client FROM sessions',
  allSubscriptions: 'SELECT token, queue FROM subscriptions',
  allQueues: 'SELECT name, kind, owner FROM queues',
  allMessages: 'SELECT id, queue, payload, correlation_id, reply_to, error, origin, time FROM messages ORDER BY id',
  allKeys: 'SELECT queue, key, id, expires FROM idempotency_keys ORDER BY expires'
} as const

type Statements = { readonly [Name in keyof typeof SQL]: Statement }

function prepare (db: Database): Statements {
  const statements: Partial<Record<keyof typeof SQL, Statement>> = {}
  for (const name of Object.keys(SQL) as Array<keyof typeof SQL>) statements[name] = db.prepare(SQL[name])
  return statements as Statements
}
