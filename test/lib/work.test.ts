// Work queues with real clients against a real switch on 127.0.0.1: competing workers, a worker that goes
// away with jobs leased, a poison job, and kill -9 with --data-dir. Waits are on the switch's answers and
// trace, never on the clock; leases are 1 s where a test waits for one to run out.
import t from 'tap'
import type { Message } from '../../lib/index.js'
import { restartSwitch, startSwitch } from '../cli/spawn.js'
import { tempDir } from '../server/store/fixtures.js'
import { clientOf, deferred, queueLength, runSwitch, traced } from './fixtures.js'

t.test('8 competing workers on one work queue: each of 2,000 jobs is processed by exactly one of them', async (t) => {
  const { url } = await runSwitch(t)
  const producer = clientOf(t, url, { client: 'producer' })
  await producer.createQueue('jobs', { mode: 'work', visibilityTimeout: 30 })
  const total = 2000
  const processed = new Map<string, string[]>()
  const all = deferred()
  const workers = Array.from({ length: 8 }, (_, i) => {
    const client = clientOf(t, url, { client: `worker-${i}` })
    return client.work('jobs', async (payload) => {
      const job = payload.toString()
      processed.set(job, [...(processed.get(job) ?? []), `worker-${i}`])
      if (processed.size === total) all.resolve()
    }, { concurrency: 4 })
  })
  for (let start = 0; start < total; start += 200) {
    await Promise.all(Array.from({ length: 200 }, async (_, i) => await producer.send('jobs', `job ${start + i}`)))
  }
  await all.promise
  await Promise.all(workers.map(async (worker) => { await worker.stop() }))
  const twice = [...processed].filter(([, by]) => by.length !== 1)
  t.same(twice, [], 'no job was processed twice')
  t.equal(processed.size, total, 'every job was processed')
  t.ok(new Set([...processed.values()].flat()).size > 1, 'the workers shared the jobs')
  await queueLength(producer, 'jobs', 0)
  t.pass('every job was acked')
})

t.test('jobs leased by a worker whose session ends without acking go to another after the timeout', async (t) => {
  const { url } = await runSwitch(t)
  const producer = clientOf(t, url, { client: 'producer' })
  await producer.createQueue('jobs', { mode: 'work', visibilityTimeout: 1 })
  for (let i = 0; i < 5; i++) await producer.send('jobs', `job ${i}`)
  const lost = clientOf(t, url, { client: 'lost' })
  await lost.subscribe('jobs')
  const taken = await lost.transfer({ timeout: 5 })
  t.equal(taken.messages.length, 5, 'the first worker leased all five')
  await lost.logout()
  const redelivered: Message[] = []
  const done = deferred()
  const other = clientOf(t, url, { client: 'other' })
  const worker = other.work('jobs', (_, message) => {
    redelivered.push(message)
    if (redelivered.length === 5) done.resolve()
  })
  await done.promise
  await worker.stop()
  t.same(redelivered.map((m) => m.payload).sort(), taken.messages.map((m) => m.payload).sort(), 'the other worker got them')
  t.same(redelivered.map((m) => m.deliveries), [2, 2, 2, 2, 2], 'each on its second delivery')
  await queueLength(producer, 'jobs', 0)
})

t.test('a poison job lands in the dead-letter queue after maxDeliveries; nothing else is lost; redrive brings it back', async (t) => {
  const { url } = await runSwitch(t)
  const admin = clientOf(t, url, { client: 'admin' })
  await admin.createQueue('dead')
  await admin.createQueue('jobs', { mode: 'work', visibilityTimeout: 1, maxDeliveries: 3, deadLetter: 'dead' })
  const jobs = Array.from({ length: 50 }, (_, i) => i === 17 ? 'poison' : `job ${i}`)
  for (const job of jobs) await admin.send('jobs', job, { correlationId: job })
  const done = new Map<string, number>()
  const others = deferred()
  let attempts = 0
  const worker = clientOf(t, url, { client: 'worker' }).work('jobs', (payload) => {
    const job = payload.toString()
    if (job === 'poison') {
      attempts++
      throw new Error('cannot digest this')
    }
    done.set(job, (done.get(job) ?? 0) + 1)
    if (done.size === jobs.length - 1) others.resolve()
  }, { concurrency: 4 })
  await admin.subscribe('dead')
  const { messages: [dead] } = await admin.transfer({ timeout: 30 })
  await others.promise
  await worker.stop()
  t.match(dead, { payload: 'poison', correlationId: 'poison', deadLetter: { reason: 'max_deliveries', from: 'jobs', deliveries: 3 } })
  t.equal(attempts, 3, 'tried maxDeliveries times')
  t.same([...done.keys()].sort(), jobs.filter((job) => job !== 'poison').sort(), 'every other job was processed')
  t.ok([...done.values()].every((count) => count === 1), 'once each')
  await queueLength(admin, 'jobs', 0)
  t.same(await admin.redrive('dead', 'jobs'), { moved: 1 })
  await queueLength(admin, 'dead', 0)
  await queueLength(admin, 'jobs', 1)
})

t.test('leases and dead letters survive kill -9 with --data-dir: a leased job is redelivered once its lease runs out', async (t) => {
  const dir = tempDir(t)
  const first = await startSwitch(t, ['--data-dir', dir])
  const before = clientOf(t, first.url, { client: 'before', retryFor: 0 })
  await before.createQueue('dead')
  // The lease must outlast the restart (about a second), and the test waits for it to run out after.
  await before.createQueue('jobs', { mode: 'work', visibilityTimeout: 5, deadLetter: 'dead' })
  await before.send('jobs', 'leased')
  await before.send('jobs', 'expiring', { ttl: 0.5, delay: 60 })
  await before.subscribe('jobs')
  const { messages: leased } = await before.transfer({ timeout: 5 })
  t.match(leased, [{ payload: 'leased', deliveries: 1 }], 'the other job is delayed')
  const watcher = clientOf(t, first.url, { client: 'watcher', retryFor: 0 })
  await watcher.subscribe('dead')
  const { messages: [expired] } = await watcher.transfer({ timeout: 5 })
  await watcher.close()
  t.match(expired, { payload: 'expiring', deadLetter: { reason: 'expired', from: 'jobs' } }, 'dead-lettered before the crash')
  await before.close()

  const { url } = await restartSwitch(t, first.server, first.url, ['--data-dir', dir])
  const after = clientOf(t, url, { client: 'after' })
  await after.subscribe('jobs')
  t.same((await after.transfer({ timeout: 0 })).messages, [], 'still leased after the restart')
  const { messages: again } = await after.transfer({ timeout: 10 })
  t.match(again, [{ payload: 'leased', deliveries: 2 }], 'redelivered once its lease ran out')
  await after.ack(again[0].id)
  await queueLength(after, 'jobs', 0)
  t.match((await after.diagnostics()).queues.find((q) => q.name === 'dead')?.messages, [{ preview: 'expiring', deadLetter: { reason: 'expired' } }], 'the dead letter is kept')
  await traced(after, (event) => event.type === 'deliver')
})
