// What observers see (trace, diagnostics, the original protocols' contents) is durable: a change shows only once
// the store has committed it, and a change the store failed never shows. Otherwise the trace could name an id
// that, after kill -9, a different message takes (crash-ids.test.ts checks that end to end).
import t, { type Test } from 'tap'
import type { TraceEvent } from '../../../protocol/wire.js'
import { Switch } from '../../../server/core/switch.js'
import { SqliteStore } from '../../../server/store/sqlite.js'
import { tempDir } from './fixtures.js'

const text = (s: string): Buffer => Buffer.from(s)

interface Disk { core: Switch, full: boolean }

async function open (t: Test): Promise<Disk> {
  const disk = { full: false } as Disk
  disk.core = await Switch.open({
    store: new SqliteStore(tempDir(t), {
      beforeCommit: () => { if (disk.full) throw new Error('database or disk is full') }
    })
  })
  t.teardown(() => disk.core.close())
  return disk
}

const events = (core: Switch, after: number): TraceEvent[] => core.trace.since(after, 1000)
const shown = (core: Switch): number[] => core.diagnostics().queues.flatMap((queue) => queue.messages.map((m) => m.id))
const contents = (core: Switch): number[] => core.contents().flatMap((queue) => [...queue.messages].map((m) => m.id))

t.test('a change is traced, and its messages shown, only once it is durable', async (t) => {
  const { core } = await open(t)
  let mark = core.trace.lastId
  const logging = core.login('svc')
  t.same(events(core, mark), [], 'no login event before the commit')
  const session = await logging
  t.same(events(core, mark).map((event) => event.type), ['login'])

  mark = core.trace.lastId
  const creating = core.createQueue(session, 'svc')
  t.same(events(core, mark), [], 'no create event before the commit')
  await creating
  await core.createQueue(session, 'replies')
  await core.bind(session, 'replies', 'news/#')
  await core.subscribe(session, 'svc')
  t.same(events(core, mark).map((event) => event.type), ['create', 'create'])

  mark = core.trace.lastId
  const sending = core.send(session, 'svc', text('ping'), { replyTo: 'replies', correlationId: 'c1' })
  t.same(events(core, mark), [], 'no send event before the commit')
  t.same(shown(core), [], 'diagnostics do not show it yet')
  t.same(contents(core), [], 'nor do the original protocols\' diagnostics')
  const { id } = await sending as { id: number }
  t.match(events(core, mark), [{ type: 'send', messageId: id, queue: 'svc', correlationId: 'c1' }])
  t.same(shown(core), [id])
  t.same(contents(core), [id])
  t.equal(core.message(id)?.payload.toString(), 'ping')

  mark = core.trace.lastId
  const replying = core.send(session, 'replies', text('pong'), { ack: id })
  const publishing = core.publish(session, 'news/today', text('n'), { retain: true })
  t.same(events(core, mark), [], 'no send, ack or publish event before the commit')
  t.same(shown(core), [], 'nor their messages (the acked request goes at once; a failed ack brings it back)')
  const reply = await replying as { id: number }
  const published = await publishing
  t.match(events(core, mark), [
    { type: 'send', messageId: reply.id, queue: 'replies' },
    { type: 'ack', messageId: id },
    { type: 'send', messageId: published.ids[0], queue: 'replies' }
  ])

  await core.createQueue(session, 'late')
  mark = core.trace.lastId
  const binding = core.bind(session, 'late', 'news/#')
  t.same(events(core, mark), [], 'a retained copy is not traced before the commit')
  await binding
  t.match(events(core, mark), [{ type: 'send', queue: 'late' }])

  mark = core.trace.lastId
  const destroying = core.destroy(session, 'late')
  t.same(events(core, mark), [])
  await destroying
  t.match(events(core, mark), [{ type: 'destroy', queue: 'late' }])
})

t.test('a change the store failed is never traced nor shown', async (t) => {
  const disk = await open(t)
  const { core } = disk
  const session = await core.login('svc')
  await core.createQueue(session, 'svc')
  const request = await core.send(session, 'svc', text('ping'), { replyTo: 'svc' })
  const orphan = await core.send(session, 'svc', text('ping'), { replyTo: 'gone' })
  const mark = core.trace.lastId
  disk.full = true
  const attempts: Array<Promise<unknown>> = [
    core.send(session, 'svc', text('lost')),
    core.send(session, 'svc', text('reply'), { ack: request.id }),
    // A reply to a caller that is gone: its ack, drop event and count are one change, made or not.
    core.send(session, 'gone', text('reply'), { ack: orphan.id }),
    core.publish(session, 'any', text('p')),
    core.createQueue(session, 'never'),
    core.destroy(session, 'svc'),
    core.logout(session)
  ]
  const results = await Promise.allSettled(attempts)
  t.same(results.map((result) => result.status === 'rejected' && (result.reason as { code?: string }).code), attempts.map(() => 'storage_failed'))
  t.same(events(core, mark), [], 'nothing of the failed changes is in the trace')
  t.same(shown(core), [request.id, orphan.id], 'the requests are still there, and alone')
  t.equal(core.diagnostics().dropped, 0, 'no drop counted')
  disk.full = false
  const sent = await core.send(session, 'svc', text('works')) as { id: number }
  t.ok(sent.id > orphan.id + 2, 'the failed sends\' ids are not handed out again in this process')
  t.match(events(core, mark), [{ type: 'send', messageId: sent.id }])
})
