import type { Database } from 'better-sqlite3'

/**
 * Marks a database as the switch's: SQLite keeps it in the file header (`PRAGMA application_id`), where it can
 * be read without opening the file with SQLite at all. "MSWT".
 */
export const APPLICATION_ID = 0x4d535754

/**
 * Migration n (index n - 1) takes a database from schema version n - 1 to n; version 0 is an empty file. The
 * version lives in the header too (`PRAGMA user_version`). Append new migrations; never edit a shipped one.
 */
const MIGRATIONS: ReadonlyArray<(db: Database) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('last_id', 0);
      CREATE TABLE sessions (token TEXT PRIMARY KEY, client TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE queues (name TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT) WITHOUT ROWID;
      CREATE INDEX queues_by_owner ON queues (owner) WHERE owner IS NOT NULL;
      CREATE TABLE subscriptions (
        token TEXT NOT NULL, queue TEXT NOT NULL, PRIMARY KEY (token, queue)
      ) WITHOUT ROWID;
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY, queue TEXT NOT NULL, payload BLOB NOT NULL, correlation_id TEXT,
        reply_to TEXT, error INTEGER NOT NULL, origin TEXT NOT NULL, time INTEGER NOT NULL
      );
      -- Destroying a queue or ending a session deletes by queue name.
      CREATE INDEX messages_by_queue ON messages (queue);
      CREATE TABLE idempotency_keys (
        queue TEXT NOT NULL, key TEXT NOT NULL, id INTEGER NOT NULL, expires INTEGER NOT NULL,
        PRIMARY KEY (queue, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires);
    `)
  },
  // Publish/subscribe: topic bindings, retained messages, publishes' idempotency keys, and a message's topic.
  (db) => {
    db.exec(`
      ALTER TABLE messages ADD COLUMN topic TEXT;
      ALTER TABLE messages ADD COLUMN retained INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE bindings (queue TEXT NOT NULL, filter TEXT NOT NULL, PRIMARY KEY (queue, filter)) WITHOUT ROWID;
      CREATE TABLE retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, origin TEXT NOT NULL, time INTEGER NOT NULL);
      CREATE TABLE publish_keys (
        topic TEXT NOT NULL, key TEXT NOT NULL, ids TEXT NOT NULL, expires INTEGER NOT NULL,
        PRIMARY KEY (topic, key)
      ) WITHOUT ROWID;
      CREATE INDEX publish_keys_by_expiry ON publish_keys (expires);
    `)
  },
  // Principals: a session belongs to the principal it logged in as; sessions from before are anonymous's.
  (db) => {
    db.exec("ALTER TABLE sessions ADD COLUMN principal TEXT NOT NULL DEFAULT 'anonymous'")
  },
  // Work queues: a queue's options (JSON), and a message's delivery count, lease, expiry, delay and dead-letter record.
  (db) => {
    db.exec(`
      ALTER TABLE queues ADD COLUMN options TEXT;
      ALTER TABLE messages ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE messages ADD COLUMN lease_until INTEGER;
      ALTER TABLE messages ADD COLUMN leased_by TEXT;
      ALTER TABLE messages ADD COLUMN expires INTEGER;
      ALTER TABLE messages ADD COLUMN not_before INTEGER;
      ALTER TABLE messages ADD COLUMN dead_letter TEXT;
    `)
  },
  // Idempotency keys in the order they were made, not by key: the switch looks them up in memory and reads them
  // back only at start, and random keys in a key-ordered table had every send rewrite a page of its own at commit.
  (db) => {
    db.exec(`
      CREATE TABLE idempotency_log (queue TEXT NOT NULL, key TEXT NOT NULL, id INTEGER NOT NULL, expires INTEGER NOT NULL);
      INSERT INTO idempotency_log (queue, key, id, expires) SELECT queue, key, id, expires FROM idempotency_keys ORDER BY expires;
      DROP TABLE idempotency_keys;
      CREATE INDEX idempotency_log_by_expiry ON idempotency_log (expires);
    `)
  },
  // Keys are made with one window, so they expire in the order they were made: the lapsed ones are the log's head,
  // found by rowid. The expiry index cost every keyed send a second insert and a page of its own at commit.
  (db) => {
    db.exec('DROP INDEX idempotency_log_by_expiry')
  }
]

export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the database from `from` to SCHEMA_VERSION in one transaction, stamping marker and version with it, so
 * a crash leaves either the old schema or the new one.
 */
export function migrate (db: Database, from: number): void {
  db.transaction(() => {
    for (let version = from; version < SCHEMA_VERSION; version++) MIGRATIONS[version](db)
    db.pragma(`application_id = ${APPLICATION_ID}`)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  })()
}
