// The client library's publish/subscribe: publish, bind, unbind, bindings, and stream() over the event stream.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ClientClosedError, messageBody, type Message } from '../../lib/index.js'
import { serverSentEvents } from '../../lib/sse.js'
import { clientOf, portOf, runSwitch } from './fixtures.js'

t.test('publish, bind, unbind and bindings', async (t) => {
  const { url } = await runSwitch(t)
  const client = clientOf(t, url)
  await client.createQueue('alerts')
  t.same(await client.bind('alerts', 'site/+/alarm'), { queue: 'alerts', filter: 'site/+/alarm', created: true, retained: 0 })
  await client.bind('alerts', 'site/#')
  t.same(await client.bindings('alerts'), ['site/#', 'site/+/alarm'])
  t.same((await client.list())[0].bindings, ['site/#', 'site/+/alarm'])
  const published = await client.publish('site/rack1/alarm', 'hot', { retain: true })
  t.equal(published.count, 1)
  const keyed = await client.publish('site/rack1/alarm', 'hot', { idempotencyKey: 'k' })
  t.same(await client.publish('site/rack1/alarm', 'hot', { idempotencyKey: 'k' }), { ...keyed, duplicate: true }, 'a key given is used')
  await client.unbind('alerts', 'site/#')
  t.same(await client.bindings('alerts'), ['site/+/alarm'])
  await t.rejects(client.bind('alerts', 'a/#/b'), { code: 'invalid_request' })
  await t.rejects(client.publish('a/+', 'x'), { code: 'invalid_request' })
})

t.test('stream() yields the backlog, then messages as they arrive; breaking out ends it', async (t) => {
  const { url } = await runSwitch(t)
  const client = clientOf(t, url)
  const sender = clientOf(t, url)
  const { name } = await client.createTemporaryQueue()
  await client.bind(name, 'news/#')
  await client.subscribe(name)
  await sender.publish('news/early', 'early')
  const seen: Message[] = []
  for await (const message of client.stream()) {
    seen.push(message)
    await client.ack(message.id)
    if (seen.length === 1) await sender.publish('news/late', Buffer.from([1, 2, 3]))
    if (seen.length === 2) break
  }
  t.same(seen.map((m) => [m.topic, messageBody(m).toString('hex')]), [['news/early', Buffer.from('early').toString('hex')], ['news/late', '010203']])
  t.same((await client.transfer({ after: 0 })).messages, [], 'both acked')
})

t.test('stream() resumes after the last message it yielded when the switch restarts', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'switch-stream-'))
  t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }) })
  const first = await runSwitch(t, { dataDir })
  const client = clientOf(t, first.url)
  await client.createQueue('feed')
  await client.subscribe('feed')
  await client.send('feed', 'before')
  const stream = client.stream()
  const before = await stream.next()
  t.equal(before.done === false && before.value.payload, 'before')
  await first.stop()
  const second = await runSwitch(t, { dataDir, port: portOf(first.url) })
  const sender = clientOf(t, second.url)
  await sender.send('feed', 'after 1')
  await sender.send('feed', 'after 2')
  const resumed = [await stream.next(), await stream.next()].map((step) => step.done === false ? step.value.payload : undefined)
  t.same(resumed, ['after 1', 'after 2'], 'the unacked "before" is not sent again; nothing sent meanwhile is lost')
  await stream.return()
  // Before the second switch stops (teardowns run last first): after a request is cut, undici opens a spare
  // connection that a stopping switch would wait for until its keep-alive timeout.
  await client.close()
})

t.test('stream() ends on abort, and fails with ClientClosedError when the client closes', async (t) => {
  const { url } = await runSwitch(t)
  const client = clientOf(t, url)
  await client.createQueue('q')
  await client.subscribe('q')
  const controller = new AbortController()
  const aborted = client.stream({ signal: controller.signal }).next()
  controller.abort()
  t.same(await aborted, { done: true, value: undefined })
  const closing = t.rejects(client.stream().next(), ClientClosedError)
  await client.close()
  await closing
})

t.test('the event parser follows the format: fields, multi-line data, comments, CRLF, chunks split anywhere', async (t) => {
  const text = ': hello\r\nid: 1\r\nevent: message\r\ndata: a\r\ndata: b\r\n\r\ndata:no space\n\nevent: other\ndata: x\n\n: only a comment\n\nid: 9\n\n'
  async function * chunks (): AsyncGenerator<Uint8Array> {
    const bytes = Buffer.from(text)
    for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3)
  }
  const events = []
  for await (const event of serverSentEvents(chunks())) events.push(event)
  t.same(events, [
    { event: 'message', data: 'a\nb', id: '1' },
    { event: 'message', data: 'no space' },
    { event: 'other', data: 'x' }
  ])
})
