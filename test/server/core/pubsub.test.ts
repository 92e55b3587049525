// Publish/subscribe in the core: publishes copied into the queues bound to matching filters, once per queue;
// bindings; retained messages; the guarantees of sends (idempotency, limits, visibility after the store).
import t from 'tap'
import type { StoredMessage } from '../../../server/core/queue.js'
import type { Session } from '../../../server/core/session.js'
import type { Switch } from '../../../server/core/switch.js'
import { startCore } from './fixtures.js'

const text = (s: string): Buffer => Buffer.from(s)

/** Everything in the queue, oldest first, as [topic, payload, retained]. */
async function contents (core: Switch, session: Session, queue: string): Promise<Array<[string | undefined, string, boolean]>> {
  const { messages } = await core.transfer(session, { after: 0, timeout: 0, queues: [queue] })
  return messages.map((m: StoredMessage) => [m.topic, m.payload.toString(), m.retained === true])
}

t.test('a publish copies the message into each queue with a matching binding, once per queue', async (t) => {
  const core = startCore(t)
  const s = await core.login('publisher')
  for (const name of ['temps', 'all', 'rack1', 'other']) await core.createQueue(s, name)
  await core.bind(s, 'temps', 'site/+/temp')
  await core.bind(s, 'all', '#')
  await core.bind(s, 'all', 'site/#')
  await core.bind(s, 'rack1', 'site/rack1/#')
  await core.bind(s, 'other', 'elsewhere/#')

  const published = await core.publish(s, 'site/rack1/temp', text('21.5'))
  t.equal(published.count, 3, 'three queues match; "all" matches twice and gets it once')
  t.equal(published.ids.length, 3)
  t.same(published.ids, [...published.ids].sort((a, b) => a - b), 'ids increase')
  t.equal(published.duplicate, false)
  for (const name of ['temps', 'all', 'rack1']) {
    t.same(await contents(core, s, name), [['site/rack1/temp', '21.5', false]], `${name} has one copy`)
  }
  t.same(await contents(core, s, 'other'), [], 'a queue bound elsewhere has none')
  const copies = published.ids.map((id) => core.message(id))
  t.same(copies.map((m) => m?.origin), ['publisher', 'publisher', 'publisher'], 'the origin is the publisher')

  await core.unbind(s, 'all', '#')
  t.same(await core.publish(s, 'nobody/listens', text('x')), { ids: [], count: 0, duplicate: false }, 'nobody listening is no error')
})

t.test('a publish wakes the long-polls of the queues it reaches, and only those', async (t) => {
  const core = startCore(t)
  const s = await core.login('p')
  const reader = await core.login('reader')
  await core.createQueue(s, 'hit')
  await core.createQueue(s, 'miss')
  await core.bind(s, 'hit', 'a/+')
  await core.bind(s, 'miss', 'b/+')
  const hit = core.transfer(reader, { after: 0, timeout: 10_000, queues: ['hit'] })
  const miss = core.transfer(reader, { after: 0, timeout: 10_000, queues: ['miss'] })
  const { ids } = await core.publish(s, 'a/1', text('x'))
  t.same((await hit).messages.map((m) => m.id), ids)
  await core.logout(reader)
  t.same((await miss).messages, [], 'the other long-poll slept through it (and ended with its session)')
})

t.test('bind and unbind: validated, idempotent, only on queues that exist', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  t.same(await core.bind(s, 'q', 'a/#'), { queue: 'q', filter: 'a/#', created: true, retained: 0 })
  t.same(await core.bind(s, 'q', 'a/#'), { queue: 'q', filter: 'a/#', created: false, retained: 0 }, 'binding again')
  await core.bind(s, 'q', '+/b')
  t.same(core.bindingsOf('q'), ['+/b', 'a/#'])
  t.same(core.list('q', false)[0].bindings, ['+/b', 'a/#'], 'the queue list shows them')
  t.same(core.diagnostics().queues.find((q) => q.name === 'q')?.bindings, ['+/b', 'a/#'], 'and so does diagnostics')

  await t.rejects(core.bind(s, 'q', 'a/#/b'), { code: 'invalid_request', field: 'filter', message: /# may only be the last level/ })
  await t.rejects(core.bind(s, 'q', 'a+'), { code: 'invalid_request', field: 'filter' })
  await t.rejects(core.bind(s, 'q', ''), { code: 'invalid_request', field: 'filter' })
  await t.rejects(core.bind(s, 'missing', 'a'), { code: 'queue_not_found' })
  await t.rejects(core.bind(s, '.bad', 'a'), { code: 'invalid_queue_name' })
  await t.rejects(core.publish(s, 'a/+', text('x')), { code: 'invalid_request', field: 'topic', message: /may not hold \+ or #/ })
  await t.rejects(core.publish(s, '', text('x')), { code: 'invalid_request', field: 'topic' })

  await core.unbind(s, 'q', 'a/#')
  await core.unbind(s, 'q', 'a/#')
  t.same(core.bindingsOf('q'), ['+/b'], 'unbinding is idempotent')
  t.same((await core.publish(s, 'a/c', text('x'))).count, 0, 'no longer bound')
  await t.rejects(core.unbind(s, 'missing', 'a'), { code: 'queue_not_found' })
  t.throws(() => core.bindingsOf('missing'), { code: 'queue_not_found' })
})

t.test('bindings go with their queue: destroyed, or a temporary queue whose session ends', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  const temp = await core.login('temp')
  await core.createQueue(s, 'q')
  await core.bind(s, 'q', 'a')
  const { name } = await core.createTemporaryQueue(temp)
  await core.bind(temp, name, 'a')
  t.equal((await core.publish(s, 'a', text('1'))).count, 2)
  await core.destroy(s, 'q')
  await core.createQueue(s, 'q')
  t.same(core.bindingsOf('q'), [], 'a queue made again under the old name starts unbound')
  await core.logout(temp)
  t.same(await core.publish(s, 'a', text('2')), { ids: [], count: 0, duplicate: false }, 'nobody is bound any more')
})

t.test('retained messages: kept per topic, replaced, delivered to new bindings, cleared by an empty one', async (t) => {
  const core = startCore(t)
  const s = await core.login('sensor')
  await core.publish(s, 'site/rack1/temp', text('20'), { retain: true })
  await core.publish(s, 'site/rack1/temp', text('21'), { retain: true })
  await core.publish(s, 'site/rack2/temp', text('30'), { retain: true })
  await core.publish(s, 'site/rack2/fan', text('on'), { retain: true })
  await core.publish(s, 'site/rack3/temp', text('not retained'))
  t.same(core.diagnostics().retained, { count: 3, topics: ['site/rack1/temp', 'site/rack2/fan', 'site/rack2/temp'] })

  await core.createQueue(s, 'temps')
  const bound = await core.bind(s, 'temps', 'site/+/temp')
  t.equal(bound.retained, 2, 'the latest retained message of each matching topic')
  t.same(await contents(core, s, 'temps'), [['site/rack1/temp', '21', true], ['site/rack2/temp', '30', true]])
  const [first] = (await core.transfer(s, { after: 0, timeout: 0, queues: ['temps'] })).messages
  t.equal(first.origin, 'sensor', 'a retained copy keeps its publisher')

  t.equal((await core.bind(s, 'temps', 'site/#')).retained, 1, 'a second binding brings only what the first did not')
  t.same((await contents(core, s, 'temps')).at(-1), ['site/rack2/fan', 'on', true])
  t.equal((await core.bind(s, 'temps', 'site/#')).retained, 0, 'binding again brings nothing again')

  const live = await core.publish(s, 'site/rack1/temp', text('22'), { retain: true })
  t.same((await contents(core, s, 'temps')).at(-1), ['site/rack1/temp', '22', false], 'a live publish is no retained delivery')
  t.equal(live.count, 1)

  const cleared = await core.publish(s, 'site/rack1/temp', Buffer.alloc(0), { retain: true })
  t.equal(cleared.count, 1, 'the empty message is delivered like any other')
  t.same(core.diagnostics().retained?.topics, ['site/rack2/fan', 'site/rack2/temp'], 'and clears the retained one')
  await core.createQueue(s, 'late')
  t.same((await core.bind(s, 'late', '#')), { queue: 'late', filter: '#', created: true, retained: 2 })
  t.same((await contents(core, s, 'late')).map(([topic]) => topic), ['site/rack2/fan', 'site/rack2/temp'])
})

t.test('a retried publish with the same idempotency key delivers nothing new', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.bind(s, 'q', 'a')
  const first = await core.publish(s, 'a', text('once'), { idempotencyKey: 'k' })
  t.same(await core.publish(s, 'a', text('once'), { idempotencyKey: 'k' }), { ...first, duplicate: true })
  t.equal((await core.publish(s, 'b', text('other topic'), { idempotencyKey: 'k' })).count, 0, 'keys are per topic')
  t.same(await contents(core, s, 'q'), [['a', 'once', false]])
  const none = await core.publish(s, 'nobody', text('x'), { idempotencyKey: 'k2' })
  await core.createQueue(s, 'r')
  await core.bind(s, 'r', 'nobody')
  t.same(await core.publish(s, 'nobody', text('x'), { idempotencyKey: 'k2' }), { ...none, duplicate: true },
    'a retry of a publish nobody heard is still that publish')
})

t.test('a publish to a full queue is refused as a whole', async (t) => {
  const core = startCore(t, { maxQueueLength: 1 })
  const s = await core.login('c')
  await core.createQueue(s, 'roomy')
  await core.createQueue(s, 'full')
  await core.bind(s, 'roomy', 'a')
  await core.publish(s, 'c', text('retained'), { retain: true })
  await core.bind(s, 'full', '#')
  t.equal(core.list('full', false)[0].length, 1, 'the retained message filled "full"')
  await t.rejects(core.publish(s, 'a', text('x')), { code: 'insufficient_storage', message: /queue "full" holds 1/ })
  t.same(await contents(core, s, 'roomy'), [], 'nothing was copied anywhere')
  await core.createQueue(s, 'small')
  await core.send(s, 'small', text('fills "small"'))
  await t.rejects(core.bind(s, 'small', 'c'), { code: 'insufficient_storage' }, 'nor can a retained message overfill a queue')
  t.same(core.bindingsOf('small'), [], 'the binding was not made')
})

t.test('publishing and binding are refused while shutting down', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  core.shutdown()
  await t.rejects(core.publish(s, 'a', text('x')), { code: 'shutting_down' })
  await t.rejects(core.bind(s, 'q', 'a'), { code: 'shutting_down' })
})
