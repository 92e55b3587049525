import Sqlite, { type Database } from 'better-sqlite3'
import {
  accessSync, chmodSync, closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync,
  renameSync, rmSync, statSync
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { APPLICATION_ID, SCHEMA_VERSION, migrate } from './sqlite-schema.js'

export const DATABASE_FILE = 'switch.db'
/** A database being created: built under this name, then renamed, so `switch.db` is always complete. */
const NEW_FILE = `${DATABASE_FILE}-new`
/** What a fresh DIR may already hold: an interrupted creation of ours, or a file system's own folder. */
const HARMLESS = new Set([NEW_FILE, `${NEW_FILE}-journal`, 'lost+found'])

export type DataDirProblem = 'not_a_directory' | 'not_writable' | 'foreign' | 'newer_schema' | 'corrupt' | 'in_use' | 'io_error'

/** The data directory cannot be used. A refusal leaves it as it was. */
export class DataDirError extends Error {
  readonly code: DataDirProblem
  readonly dir: string

  constructor (code: DataDirProblem, dir: string, problem: string) {
    super(`cannot use data directory ${dir}: ${problem}`)
    this.name = 'DataDirError'
    this.code = code
    this.dir = dir
  }
}

/**
 * Opens DIR/switch.db for the switch's exclusive use, creating DIR and the database if missing and migrating an
 * older schema. Refuses, leaving DIR as it was, a DIR without our database that holds anything else (it is
 * probably the wrong directory), a switch.db that is not ours, of a newer schema or corrupt, and one another
 * process has open. (Opening a database a crash left with a write-ahead log folds the log into it, as any
 * SQLite open does: committed content, nothing new.)
 */
export function openDataDir (dir: string): { db: Database, file: string } {
  const where = resolve(dir)
  try {
    prepareDirectory(where)
    const file = join(where, DATABASE_FILE)
    if (!existsSync(file)) create(where, file)
    checkHeader(where, file)
    return { db: open(where, file), file }
  } catch (error) {
    // Anything else is the file system's say (a parent it may not write, a full disk while creating).
    if (error instanceof DataDirError) throw error
    throw new DataDirError('io_error', where, (error as Error).message)
  }
}

function prepareDirectory (dir: string): void {
  if (!existsSync(dir)) makeDirectory(dir)
  if (!statSync(dir).isDirectory()) throw new DataDirError('not_a_directory', dir, 'it is not a directory')
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK)
    const file = join(dir, DATABASE_FILE)
    if (existsSync(file)) accessSync(file, constants.R_OK | constants.W_OK)
  } catch {
    throw new DataDirError('not_writable', dir, 'the switch cannot write there (check its permissions)')
  }
}

/**
 * Creates `dir` and its missing parents, owner only (the database holds session tokens). Not mkdirSync's
 * `recursive`, which loops forever where every new name fails with ENOENT (under /proc): this fails there.
 */
function makeDirectory (dir: string): void {
  const parent = dirname(dir)
  if (parent !== dir && !existsSync(parent)) makeDirectory(parent)
  try {
    mkdirSync(dir, { mode: 0o700 })
  } catch (error) {
    // Created meanwhile (another process): whether it can be used is checked next.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

function create (dir: string, file: string): void {
  const strangers = readdirSync(dir).filter((name) => !HARMLESS.has(name))
  if (strangers.length > 0) {
    const shown = strangers.slice(0, 3).join(', ') + (strangers.length > 3 ? ', ...' : '')
    throw new DataDirError('foreign', dir, `it holds no ${DATABASE_FILE} but other files (${shown}); give an empty or new directory`)
  }
  const building = join(dir, NEW_FILE)
  rmSync(building, { force: true })
  rmSync(`${building}-journal`, { force: true })
  const db = new Sqlite(building)
  try {
    // SQLite gives its log files the database's mode: owner only, as session tokens are in there.
    chmodSync(building, 0o600)
    db.pragma('synchronous = FULL')
    migrate(db, 0)
  } finally {
    db.close()
  }
  renameSync(building, file)
  syncDirectory(dir)
}

/** Makes a rename in `dir` durable. */
function syncDirectory (dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

/** Marker and version sit at fixed places of the header: checked by reading bytes, before SQLite opens it. */
function checkHeader (dir: string, file: string): void {
  const header = Buffer.alloc(100)
  const fd = openSync(file, 'r')
  let length: number
  try {
    length = readSync(fd, header, 0, header.length, 0)
  } finally {
    closeSync(fd)
  }
  if (length < header.length || !header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    throw new DataDirError('foreign', dir, `${DATABASE_FILE} is not a SQLite database (a foreign or damaged file)`)
  }
  if (header.readUInt32BE(68) !== APPLICATION_ID) {
    throw new DataDirError('foreign', dir, `${DATABASE_FILE} is a SQLite database of some other program`)
  }
  checkVersion(dir, header.readUInt32BE(60))
}

function checkVersion (dir: string, version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new DataDirError('newer_schema', dir,
      `${DATABASE_FILE} has schema version ${version}, newer than this switch knows (${SCHEMA_VERSION}); run a newer switch`)
  }
}

function open (dir: string, file: string): Database {
  // No busy wait: the lock is only ever held by another switch on the same DIR.
  const db = new Sqlite(file, { fileMustExist: true, timeout: 0 })
  try {
    // Held for the life of the connection: a second switch on this DIR is refused, and WAL needs no -shm file.
    db.pragma('locking_mode = EXCLUSIVE')
    verify(dir, db)
    // Commits wait for the log to reach the disk: with WAL, NORMAL would lose the last commits at a power cut.
    db.pragma('synchronous = FULL')
    if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') {
      throw new DataDirError('not_writable', dir, 'SQLite cannot keep a write-ahead log there')
    }
    // The log is only cut back to this after a checkpoint: a burst of large messages must not keep it huge.
    db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
    const version = db.pragma('user_version', { simple: true }) as number
    if (version < SCHEMA_VERSION) {
      migrate(db, version)
      // Puts the new version into the file header at once, where the next start reads it.
      db.pragma('wal_checkpoint(TRUNCATE)')
    }
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/** Takes the lock and reads everything once: refuses a locked, newer or damaged database before writing to it. */
function verify (dir: string, db: Database): void {
  try {
    db.exec('BEGIN EXCLUSIVE; COMMIT')
    // The header may lag behind the log a crash left: ask SQLite, which reads both.
    checkVersion(dir, db.pragma('user_version', { simple: true }) as number)
    const problems = db.pragma('quick_check', { simple: true })
    if (problems !== 'ok') {
      throw new DataDirError('corrupt', dir, `${DATABASE_FILE} is damaged: ${String(problems).replace(/\s*\n\s*/g, '; ')}`)
    }
  } catch (error) {
    if (error instanceof DataDirError) throw error
    const code = (error as { code?: unknown }).code
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new DataDirError('in_use', dir, 'another switch is using it')
    }
    throw new DataDirError('corrupt', dir, `${DATABASE_FILE} cannot be read: ${(error as Error).message}`)
  }
}
