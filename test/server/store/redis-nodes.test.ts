// Two `switch serve --redis` processes on one redis-server: what one is asked, the other answers from.
import t, { type Test } from 'tap'
import { SwitchClient } from '../../../lib/index.js'
import { startSwitch } from '../../cli/spawn.js'
import { eventually } from '../../eventually.js'
import { startRedis, type RedisServer } from './redis-server.js'

function clientOf (t: Test, url: string, name: string): SwitchClient {
  const client = new SwitchClient({ url, client: name, retryFor: 20_000 })
  t.teardown(async () => { await client.close() })
  return client
}

/** A redis-server of the test's own and two switches, A and B, sharing it. */
async function twoSwitches (t: Test): Promise<{ redis: RedisServer, a: { url: string }, b: { url: string } }> {
  const redis = await startRedis(t)
  const [a, b] = await Promise.all([startSwitch(t, ['--redis', redis.url]), startSwitch(t, ['--redis', redis.url])])
  return { redis, a, b }
}

async function retried<T> (attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt()
    } catch (error) {
      if ((error as { code?: string }).code !== 'storage_failed' || tries === 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

t.test('a caller on A is answered by a service on B', async (t) => {
  const { a, b } = await twoSwitches(t)
  const service = clientOf(t, b.url, 'service')
  await service.createQueue('upper')
  const served = service.serve('upper', async (request) => request.toString().toUpperCase())
  t.teardown(async () => { await served.stop() })
  const caller = clientOf(t, a.url, 'caller')
  t.equal((await caller.rpc('upper', 'hello')).toString(), 'HELLO')
})

t.test('a long-poll on A is woken by a send on B', async (t) => {
  const { a, b } = await twoSwitches(t)
  const receiver = clientOf(t, a.url, 'receiver')
  await receiver.createQueue('q')
  await receiver.subscribe('q')
  // Long enough that only the send can answer it within the test's time.
  const polled = receiver.transfer({ timeout: 120 })
  await eventually('the long-poll waiting on A', async () =>
    (await receiver.diagnostics()).queues.find((queue) => queue.name === 'q')?.waiting === 1 ? true : undefined)
  const sent = await clientOf(t, b.url, 'sender').send('q', 'wake up')
  const { messages } = await polled
  t.same(messages.map((message) => [message.id, message.payload]), [[sent.id, 'wake up']])
})

t.test('Redis restarted mid-run: every acknowledged send is still there, and the switches go on', async (t) => {
  const { redis, a, b } = await twoSwitches(t)
  const sender = clientOf(t, a.url, 'sender')
  await sender.createQueue('q')
  const before: number[] = []
  for (let i = 0; i < 20; i++) before.push((await sender.send('q', `before ${i}`)).id)
  await redis.restart()
  // While Redis is away a switch refuses changes (503 storage_failed, "try again"): the caller tries again with
  // the same idempotency key, so a send that reached the log before the answer was lost is not sent twice.
  const after = await retried(async () => (await sender.send('q', 'after', { idempotencyKey: 'after-restart' })).id)
  const reader = clientOf(t, b.url, 'reader')
  await reader.subscribe('q')
  const ids: number[] = []
  let cursor = 0
  while (ids.length < 21) {
    const { messages, next } = await reader.transfer({ after: cursor, timeout: 30 })
    ids.push(...messages.map((message) => message.id))
    cursor = next
  }
  t.same(ids, [...before, after], 'B holds every send A acknowledged, before and after the restart')
})
