// Publish/subscribe with --data-dir: bindings, retained messages and publishes' idempotency keys survive a
// restart; a publish is one transaction that commits or fails as a whole; an older database is migrated.
import Sqlite from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Switch } from '../../../server/core/switch.js'
import { SqliteStore } from '../../../server/store/sqlite.js'
import { APPLICATION_ID, SCHEMA_VERSION } from '../../../server/store/sqlite-schema.js'
import { DATABASE_FILE } from '../../../server/store/data-dir.js'
import { tempDir } from './fixtures.js'

const text = (s: string): Buffer => Buffer.from(s)

async function open (t: Test, dir: string, beforeCommit?: (records: number) => void): Promise<Switch> {
  const core = await Switch.open({ store: new SqliteStore(dir, beforeCommit === undefined ? {} : { beforeCommit }) })
  t.teardown(() => core.close())
  return core
}

t.test('a restart keeps bindings, retained messages, topics of messages and publish keys', async (t) => {
  const dir = tempDir(t)
  const first = await open(t, dir)
  const s = await first.login('sensor')
  const owner = await first.login('owner')
  await first.createQueue(s, 'temps')
  await first.createQueue(s, 'doomed')
  await first.bind(s, 'temps', 'site/+/temp')
  await first.bind(s, 'temps', 'alerts/#')
  await first.bind(s, 'doomed', '#')
  const temporary = (await first.createTemporaryQueue(owner)).name
  await first.bind(owner, temporary, '#')
  await first.publish(s, 'site/rack1/temp', text('20'), { retain: true })
  await first.publish(s, 'site/rack2/temp', text('30'), { retain: true })
  await first.publish(s, 'site/rack2/temp', Buffer.alloc(0), { retain: true })
  await first.publish(s, 'site/rack3/temp', text('31'), { retain: true })
  const keyed = await first.publish(s, 'alerts/fire', text('!'), { idempotencyKey: 'k1' })
  await first.destroy(s, 'doomed')
  await first.logout(owner)
  await first.close()

  const again = await open(t, dir)
  const s2 = await again.login('sensor')
  t.same(again.list('', false).map((queue) => [queue.name, queue.bindings]), [['temps', ['alerts/#', 'site/+/temp']]],
    'bindings are back; those of a destroyed queue and of a temporary queue whose session ended are not')
  t.same(again.diagnostics().retained, { count: 2, topics: ['site/rack1/temp', 'site/rack3/temp'] }, 'retained messages, the cleared one cleared')
  const { messages } = await again.transfer(s2, { after: 0, timeout: 0, queues: ['temps'] })
  t.same(messages.map((m) => [m.topic, m.payload.toString(), m.origin]), [
    ['site/rack1/temp', '20', 'sensor'], ['site/rack2/temp', '30', 'sensor'], ['site/rack2/temp', '', 'sensor'],
    ['site/rack3/temp', '31', 'sensor'], ['alerts/fire', '!', 'sensor']
  ], 'messages keep their topic')
  t.same(await again.publish(s2, 'alerts/fire', text('!'), { idempotencyKey: 'k1' }), { ...keyed, duplicate: true }, 'a retried publish is still a retry')
  t.equal((await again.publish(s2, 'site/rack9/temp', text('9'))).count, 1, 'and the bindings work')

  await again.createQueue(s2, 'late')
  t.equal((await again.bind(s2, 'late', 'site/#')).retained, 2)
  const late = await again.transfer(s2, { after: 0, timeout: 0, queues: ['late'] })
  t.same(late.messages.map((m) => [m.topic, m.payload.toString(), m.retained]), [['site/rack1/temp', '20', true], ['site/rack3/temp', '31', true]],
    'retained copies carry their flag')
  await again.close()
  const third = await open(t, dir)
  const s3 = await third.login('x')
  const kept = await third.transfer(s3, { after: 0, timeout: 0, queues: ['late'] })
  t.same(kept.messages.map((m) => m.retained), [true, true], 'the retained flag is stored too')
})

t.test('a publish is one transaction: it commits, or fails, as a whole', async (t) => {
  let commits = 0
  let failing = false
  const core = await open(t, tempDir(t), () => {
    if (failing) {
      failing = false
      throw new Error('disk I/O error')
    }
    commits++
  })
  const s = await core.login('c')
  for (let i = 0; i < 20; i++) {
    await core.createQueue(s, `q${i}`)
    await core.bind(s, `q${i}`, 'news/#')
  }
  await core.publish(s, 'news/old', text('old'), { retain: true })
  const before = commits
  const published = await core.publish(s, 'news/today', text('hello'), { retain: true })
  t.equal(published.count, 20)
  t.equal(commits - before, 1, 'twenty copies and the retained message in one commit')

  failing = true
  await t.rejects(core.publish(s, 'news/old', text('lost'), { retain: true, idempotencyKey: 'k' }), { code: 'storage_failed' })
  const lengths = core.list('q', false).map((queue) => queue.length)
  t.same(lengths, Array.from({ length: 20 }, () => 2), 'no queue kept a copy')
  const diagnostics = core.diagnostics()
  t.same(diagnostics.retained?.topics, ['news/old', 'news/today'])
  await core.createQueue(s, 'check')
  await core.bind(s, 'check', 'news/old')
  const { messages } = await core.transfer(s, { after: 0, timeout: 0, queues: ['check'] })
  t.same(messages.map((m) => m.payload.toString()), ['old'], 'the retained message is the one before the failed publish')
  const retried = await core.publish(s, 'news/old', text('again'), { idempotencyKey: 'k' })
  t.equal(retried.duplicate, false, 'the failed publish left no idempotency key behind')

  await core.createQueue(s, 'fresh')
  failing = true
  const bindFailed = core.bind(s, 'fresh', 'news/#')
  await t.rejects(bindFailed, { code: 'storage_failed' })
  t.same(core.bindingsOf('fresh'), [], 'a binding that could not be stored is not made')
  t.equal(core.list('fresh', false)[0].length, 0, 'nor its retained deliveries')
})

/** The schema of version 1, as it shipped: what a switch of that version left on disk. */
const VERSION_1 = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO meta (key, value) VALUES ('last_id', 7);
  CREATE TABLE sessions (token TEXT PRIMARY KEY, client TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE queues (name TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT) WITHOUT ROWID;
  CREATE INDEX queues_by_owner ON queues (owner) WHERE owner IS NOT NULL;
  CREATE TABLE subscriptions (token TEXT NOT NULL, queue TEXT NOT NULL, PRIMARY KEY (token, queue)) WITHOUT ROWID;
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY, queue TEXT NOT NULL, payload BLOB NOT NULL, correlation_id TEXT,
    reply_to TEXT, error INTEGER NOT NULL, origin TEXT NOT NULL, time INTEGER NOT NULL
  );
  CREATE INDEX messages_by_queue ON messages (queue);
  CREATE TABLE idempotency_keys (
    queue TEXT NOT NULL, key TEXT NOT NULL, id INTEGER NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (queue, key)
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires);
  INSERT INTO queues (name, kind, owner) VALUES ('svc', 'persistent', NULL);
  INSERT INTO messages VALUES (7, 'svc', X'6869', 'c1', NULL, 0, 'old-client', 1000);
  INSERT INTO idempotency_keys VALUES ('svc', 'sent-before', 7, 9999999999999);
`

t.test('a database of schema version 1 is migrated, and keeps what it held', async (t) => {
  const dir = tempDir(t)
  const old = new Sqlite(join(dir, DATABASE_FILE))
  old.exec(VERSION_1)
  old.exec("INSERT INTO sessions (token, client) VALUES ('tok-old', 'old-session')")
  old.pragma(`application_id = ${APPLICATION_ID}`)
  old.pragma('user_version = 1')
  old.close()

  const core = await open(t, dir)
  t.equal(readFileSync(join(dir, DATABASE_FILE)).readUInt32BE(60), SCHEMA_VERSION, 'the header has the new version')
  t.equal(SCHEMA_VERSION, 6)
  t.match(core.diagnostics().sessions, [{ client: 'old-session', principal: 'anonymous' }], 'a session from before principals is anonymous\'s')
  const s = await core.login('c')
  const { messages } = await core.transfer(s, { after: 0, timeout: 0, queues: ['svc'] })
  t.same(messages.map((m) => [m.id, m.payload.toString(), m.correlationId, m.topic, m.retained]), [[7, 'hi', 'c1', undefined, undefined]])
  t.same(await core.send(s, 'svc', text('hi'), { idempotencyKey: 'sent-before' }), { id: 7, duplicate: true }, 'its idempotency keys hold')
  await core.bind(s, 'svc', 'a/#')
  const published = await core.publish(s, 'a/b', text('new'), { retain: true })
  t.same(published.ids, [8], 'ids go on')
  await core.close()
  const again = await open(t, dir)
  t.same(again.bindingsOf('svc'), ['a/#'])
  t.same(again.diagnostics().retained?.topics, ['a/b'])
})
