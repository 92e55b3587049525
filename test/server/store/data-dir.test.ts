import Sqlite from 'better-sqlite3'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startSwitch } from '../../../server/index.js'
import { DATABASE_FILE, SqliteStore, type DataDirProblem } from '../../../server/store/sqlite.js'
import { APPLICATION_ID, SCHEMA_VERSION } from '../../../server/store/sqlite-schema.js'
import { run } from '../../cli/spawn.js'
import { message, picture, tempDir } from './fixtures.js'

/** A data directory holding a real switch database with a little in it. */
async function populated (t: Test): Promise<string> {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  await store.write({ type: 'queue', name: 'q', kind: 'persistent' })
  for (let id = 1; id <= 100; id++) void store.write({ type: 'send', message: message(id, 'q', 'x'.repeat(500)) })
  await store.write({ type: 'ack', id: 1 })
  await store.close()
  return dir
}

/** Opening `dir` fails with `code` and leaves every byte in it as it was. */
function refuses (t: Test, dir: string, code: DataDirProblem, pattern: RegExp): void {
  const before = picture(dir)
  t.throws(() => new SqliteStore(dir), { name: 'DataDirError', code, dir, message: pattern })
  t.same(picture(dir), before, 'the directory is untouched')
}

t.test('a missing directory is created, with its parents', async (t) => {
  const dir = join(tempDir(t), 'a', 'b')
  const running = await startSwitch({ port: 0, dataDir: dir })
  t.teardown(() => running.stop())
  t.same(running.core.diagnostics().store, { kind: 'sqlite', location: join(dir, DATABASE_FILE) })
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the directory is for its owner only: the database holds session tokens')
  t.equal(statSync(join(dir, DATABASE_FILE)).mode & 0o777, 0o600, 'and so is the database')
})

t.test('the database is marked as ours and carries its schema version in its header', async (t) => {
  const dir = await populated(t)
  const header = readFileSync(join(dir, DATABASE_FILE)).subarray(0, 100)
  t.equal(header.readUInt32BE(68), APPLICATION_ID)
  t.equal(header.readUInt32BE(60), SCHEMA_VERSION)
})

t.test('a directory holding other things and no database is refused', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'notes.txt'), 'mine')
  refuses(t, dir, 'foreign', /holds no switch\.db but other files \(notes\.txt\)/)
})

t.test('a switch.db that is no SQLite database is refused', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, DATABASE_FILE), 'not a database at all, but long enough to have a header'.repeat(4))
  refuses(t, dir, 'foreign', /not a SQLite database/)
})

t.test("another program's SQLite database is refused", async (t) => {
  const dir = tempDir(t)
  const other = new Sqlite(join(dir, DATABASE_FILE))
  other.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY); INSERT INTO accounts VALUES (1)')
  other.close()
  refuses(t, dir, 'foreign', /some other program/)
})

t.test('a database of a newer schema is refused', async (t) => {
  const dir = await populated(t)
  const newer = new Sqlite(join(dir, DATABASE_FILE))
  newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  newer.close()
  refuses(t, dir, 'newer_schema', new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this switch knows`))
})

t.test('a damaged database is refused', async (t) => {
  for (const [name, damage] of [
    ['cut short', (bytes: Buffer) => bytes.subarray(0, bytes.length / 2)],
    ['a page overwritten', (bytes: Buffer) => bytes.fill(0xab, 2 * 4096, 3 * 4096)]
  ] as const) {
    const dir = await populated(t)
    const file = join(dir, DATABASE_FILE)
    writeFileSync(file, damage(readFileSync(file)))
    t.test(name, async (t) => { refuses(t, dir, 'corrupt', /switch\.db (is damaged|cannot be read)/) })
  }
})

t.test('a directory another switch uses is refused', async (t) => {
  const dir = tempDir(t)
  const first = new SqliteStore(dir)
  t.teardown(() => first.close())
  t.throws(() => new SqliteStore(dir), { code: 'in_use', message: /another switch is using it/ })
  await first.write({ type: 'session', token: 'tok', client: 'c', principal: 'anonymous' })
  t.same((await first.load()).sessions.length, 1, 'the first keeps working')
})

t.test('a file in place of the directory is refused', async (t) => {
  const file = join(tempDir(t), 'file')
  writeFileSync(file, 'x')
  t.throws(() => new SqliteStore(file), { code: 'not_a_directory' })
})

t.test('an interrupted creation is finished afresh', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, `${DATABASE_FILE}-new`), 'half a database')
  const store = new SqliteStore(dir)
  t.teardown(() => store.close())
  t.same((await store.load()).queues, [])
  t.notOk(existsSync(join(dir, `${DATABASE_FILE}-new`)))
})

t.test('an older schema is migrated', async (t) => {
  // Version 0: a database marked as ours with no tables yet.
  const dir = tempDir(t)
  const old = new Sqlite(join(dir, DATABASE_FILE))
  old.pragma(`application_id = ${APPLICATION_ID}`)
  old.close()
  const store = new SqliteStore(dir)
  await store.write({ type: 'queue', name: 'q', kind: 'persistent' })
  await store.close()
  t.equal(readFileSync(join(dir, DATABASE_FILE)).readUInt32BE(60), SCHEMA_VERSION, 'the header has the new version')
  const again = new SqliteStore(dir)
  t.teardown(() => again.close())
  t.same((await again.load()).queues, [{ name: 'q', kind: 'persistent' }])
})

/**
 * `switch serve --data-dir DIR` exits 1 with one line and leaves the directory as it was. Root may write
 * anywhere, so as root the switch runs without the capabilities that allow that: a directory's mode binds it
 * as it binds anyone, wherever the checkout lives.
 */
async function refusedAtStart (t: Test, dir: string): Promise<void> {
  const before = picture(dir)
  const exit = await run(t, ['serve', '--port', '0', '--data-dir', dir], { boundByPermissions: true })
  t.equal(exit.code, 1, 'the switch does not start')
  t.equal(exit.stdout, '', 'it never says it listens')
  t.match(exit.stderr, /^switch: cannot use data directory .*: the switch cannot write there[^\n]*\n$/)
  t.same(picture(dir), before, 'the directory is untouched')
}

t.test('a read-only directory is refused at start', async (t) => {
  const dir = await populated(t)
  chmodSync(dir, 0o555)
  t.teardown(() => { chmodSync(dir, 0o700) })
  await refusedAtStart(t, dir)
})

t.test('a read-only database in a writable directory is refused at start', async (t) => {
  const dir = await populated(t)
  chmodSync(join(dir, DATABASE_FILE), 0o444)
  await refusedAtStart(t, dir)
})

t.test('the read-only premise holds: the switch could not have written there', async (t) => {
  // Without this, a refusal for some other reason (or a root that ignores modes) would pass the tests above.
  const dir = tempDir(t)
  chmodSync(dir, 0o555)
  t.teardown(() => { chmodSync(dir, 0o700) })
  const tried = await run(t, ['serve', '--port', '0', '--data-dir', join(dir, 'inner')], { boundByPermissions: true })
  t.equal(tried.code, 1)
  t.match(tried.stderr, /EACCES|permission denied|cannot write|cannot create/i)
  t.notOk(existsSync(join(dir, 'inner')), 'nothing was created')
})
