import t from 'tap'
import type { Switch } from '../../../server/core/switch.js'
import type { Session } from '../../../server/core/session.js'
import { settle, startCore, traced, watch } from './fixtures.js'

const ids = (result: { messages: Array<{ id: number }> }): number[] => result.messages.map((m) => m.id)

async function sendTo (core: Switch, session: Session, queues: string[]): Promise<number[]> {
  const sent: number[] = []
  for (const queue of queues) sent.push((await core.send(session, queue, Buffer.from(queue))).id)
  return sent
}

t.test('transfer merges subscribed queues in id order, from the cursor, up to max', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  for (const name of ['a', 'b', 'c', 'unsubscribed']) await core.createQueue(s, name)
  await core.subscribe(s, 'b')
  await core.subscribe(s, 'a')
  await core.subscribe(s, 'c')
  await sendTo(core, s, ['a', 'b', 'unsubscribed', 'c', 'a', 'c', 'b', 'a']) // ids 1..8

  const all = await core.transfer(s, { after: 0, timeout: 0 })
  t.same(ids(all), [1, 2, 4, 5, 6, 7, 8])
  t.equal(all.next, 8)
  t.same(all.messages.map((m) => m.queue), ['a', 'b', 'c', 'a', 'c', 'b', 'a'])

  const first = await core.transfer(s, { after: 0, timeout: 0, max: 3 })
  t.same(ids(first), [1, 2, 4])
  t.equal(first.next, 4)
  const second = await core.transfer(s, { after: first.next, timeout: 0, max: 3 })
  t.same(ids(second), [5, 6, 7])
  const third = await core.transfer(s, { after: second.next, timeout: 0, max: 3 })
  t.same(ids(third), [8])
  t.same(await core.transfer(s, { after: third.next, timeout: 0, max: 3 }), { messages: [], next: 8 }, 'nothing new: next stays')
  t.same(await core.transfer(s, { after: 100, timeout: 0 }), { messages: [], next: 100 }, 'next echoes the cursor given')
})

t.test('a paged transfer never skips a lower id held in a later-subscribed queue', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'late')
  await core.createQueue(s, 'early')
  await sendTo(core, s, ['early', 'early', 'early', 'late', 'late', 'late']) // 1-3 early, 4-6 late
  await core.subscribe(s, 'late') // iterated first
  await core.subscribe(s, 'early')
  const page = await core.transfer(s, { after: 0, timeout: 0, max: 3 })
  t.same(ids(page), [1, 2, 3])
  t.same(ids(await core.transfer(s, { after: page.next, timeout: 0, max: 3 })), [4, 5, 6])
})

t.test('max is capped by maxTransfer', async (t) => {
  const core = startCore(t, { maxTransfer: 2 })
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  await sendTo(core, s, ['q', 'q', 'q'])
  t.same(ids(await core.transfer(s, { after: 0, timeout: 0, max: 10 })), [1, 2])
  t.same(ids(await core.transfer(s, { after: 0, timeout: 0 })), [1, 2])
})

t.test('unacked messages are delivered again from cursor 0; acked ones are not', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  const [one, two, three] = await sendTo(core, s, ['q', 'q', 'q'])
  t.same(ids(await core.transfer(s, { after: 0, timeout: 0 })), [one, two, three])
  await core.ack(s, two)
  t.same(ids(await core.transfer(s, { after: 0, timeout: 0 })), [one, three], 're-delivered, without the acked one')
  const deliveries = core.trace.since(0, 100).filter((event) => event.type === 'deliver')
  t.same(deliveries.map((event) => event.messageId), [one, two, three, one, three])
  t.match(deliveries[0], { client: 'c', queue: 'q' })
})

t.test('a transfer with no subscriptions answers empty at once', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  t.same(await core.transfer(s, { after: 0, timeout: 0 }), { messages: [], next: 0 })
})

t.test('long-poll', async (t) => {
  t.test('wakes on a send to a subscribed queue', async (t) => {
    const core = startCore(t)
    const receiver = await core.login('receiver')
    const sender = await core.login('sender')
    await core.createQueue(receiver, 'q')
    await core.subscribe(receiver, 'q')
    await sendTo(core, sender, ['q'])
    const poll = core.transfer(receiver, { after: 1, timeout: 60_000 })
    await settle()
    t.equal(core.diagnostics().queues[0].waiting, 1)
    const [id] = await sendTo(core, sender, ['q'])
    const result = await poll
    t.same(ids(result), [id])
    t.equal(result.next, id)
    t.equal(core.diagnostics().queues[0].waiting, 0, 'the waiter unregistered')
  })

  t.test('a burst of sends is collected together', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'q')
    await core.subscribe(s, 'q')
    const poll = core.transfer(s, { after: 0, timeout: 60_000 })
    await Promise.all([0, 1, 2].map(async () => await core.send(s, 'q', Buffer.from('x'))))
    t.same(ids(await poll), [1, 2, 3])
  })

  t.test('times out with an empty result', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'q')
    await core.subscribe(s, 'q')
    t.same(await core.transfer(s, { after: 0, timeout: 30 }), { messages: [], next: 0 })
    t.equal(core.diagnostics().queues[0].waiting, 0)
  })

  t.test('the wait is capped by maxTimeout', async (t) => {
    const core = startCore(t, { maxTimeout: 30 })
    const s = await core.login('c')
    t.same(await core.transfer(s, { after: 5, timeout: 3_600_000 }), { messages: [], next: 5 })
  })

  t.test('honours a subscription added while waiting: a message already there wakes it', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'first')
    await core.createQueue(s, 'second')
    await core.subscribe(s, 'first')
    const [old] = await sendTo(core, s, ['second'])
    const poll = watch(core.transfer(s, { after: 0, timeout: 60_000 }))
    await settle()
    t.notOk(poll.done, 'waiting')
    await core.subscribe(s, 'second')
    t.same(ids(await poll.promise), [old])
  })

  t.test('honours a subscription added while waiting: a later send wakes it', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'first')
    await core.createQueue(s, 'second')
    const [old] = await sendTo(core, s, ['second'])
    const poll = watch(core.transfer(s, { after: old, timeout: 60_000 }))
    await core.subscribe(s, 'second')
    await settle()
    t.notOk(poll.done, 'the message at the cursor does not count')
    const [fresh] = await sendTo(core, s, ['second'])
    t.same(ids(await poll.promise), [fresh])
  })

  t.test('a send to another queue does not end the wait', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'A')
    await core.createQueue(s, 'B')
    await core.subscribe(s, 'B')
    const poll = watch(core.transfer(s, { after: 0, timeout: 60_000 }))
    await settle()
    await sendTo(core, s, ['A'])
    await settle()
    t.notOk(poll.done, 'still waiting after a send to A')
    t.same(core.diagnostics().queues.map((q) => [q.name, q.waiting]), [['A', 0], ['B', 1]])
    const [onB] = await sendTo(core, s, ['B'])
    t.same(ids(await poll.promise), [onB], 'only B\'s message')
  })

  t.test('a message acked before the waiter collects does not end the wait', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'q')
    await core.subscribe(s, 'q')
    const poll = watch(core.transfer(s, { after: 0, timeout: 60_000 }))
    // Both apply at once, before the send's wake-up collects.
    await Promise.all([core.send(s, 'q', Buffer.from('x')), core.ack(s, 1)])
    await settle()
    t.notOk(poll.done, 'the woken waiter found nothing and waits on')
    const [next] = await sendTo(core, s, ['q'])
    t.same(ids(await poll.promise), [next])
  })

  t.test('an abort signal ends it empty', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'q')
    await core.subscribe(s, 'q')
    const controller = new AbortController()
    const poll = core.transfer(s, { after: 0, timeout: 60_000, signal: controller.signal })
    await settle()
    controller.abort()
    t.same(await poll, { messages: [], next: 0 })
    t.equal(core.diagnostics().queues[0].waiting, 0)
    t.same(await core.transfer(s, { after: 0, timeout: 60_000, signal: controller.signal }), { messages: [], next: 0 },
      'an already aborted signal does not wait at all')
    await sendTo(core, s, ['q'])
    t.same(ids(await core.transfer(s, { after: 0, timeout: 60_000, signal: controller.signal })), [1],
      'what is there is still returned')
  })

  t.test('shutdown answers every waiter empty, with or without subscriptions', async (t) => {
    const core = startCore(t)
    const a = await core.login('a')
    const b = await core.login('b')
    const idle = await core.login('idle')
    await core.createQueue(a, 'q')
    await core.subscribe(a, 'q')
    await core.subscribe(b, 'q')
    const polls = [
      core.transfer(a, { after: 0, timeout: 60_000 }),
      core.transfer(a, { after: 0, timeout: 60_000 }),
      core.transfer(b, { after: 7, timeout: 60_000 }),
      core.transfer(idle, { after: 0, timeout: 60_000 })
    ]
    await settle()
    core.shutdown()
    t.same(await Promise.all(polls), [
      { messages: [], next: 0 }, { messages: [], next: 0 }, { messages: [], next: 7 }, { messages: [], next: 0 }
    ])
    t.same(await core.transfer(a, { after: 0, timeout: 60_000 }), { messages: [], next: 0 }, 'no new wait begins')
  })

  t.test('logout ends its own waiters, not others\'', async (t) => {
    const core = startCore(t)
    const leaving = await core.login('leaving')
    const staying = await core.login('staying')
    await core.createQueue(staying, 'q')
    await core.subscribe(leaving, 'q')
    await core.subscribe(staying, 'q')
    const ended = core.transfer(leaving, { after: 0, timeout: 60_000 })
    const other = watch(core.transfer(staying, { after: 0, timeout: 60_000 }))
    await settle()
    await core.logout(leaving)
    t.same(await ended, { messages: [], next: 0 })
    await settle()
    t.notOk(other.done)
    t.equal(core.diagnostics().queues[0].waiting, 1)
    const [id] = await sendTo(core, staying, ['q'])
    t.same(ids(await other.promise), [id])
  })

  t.test('a destroyed and re-created queue still wakes the waiter', async (t) => {
    const core = startCore(t)
    const s = await core.login('c')
    await core.createQueue(s, 'q')
    await core.subscribe(s, 'q')
    const poll = core.transfer(s, { after: 0, timeout: 60_000 })
    await settle()
    await core.destroy(s, 'q')
    await core.createQueue(s, 'q')
    const [id] = await sendTo(core, s, ['q'])
    t.same(ids(await poll), [id])
  })
})

t.test('the deliver trace follows a woken long-poll', async (t) => {
  const core = startCore(t)
  const s = await core.login('c')
  await core.createQueue(s, 'q')
  await core.subscribe(s, 'q')
  const delivered = traced(core, 'deliver')
  const poll = core.transfer(s, { after: 0, timeout: 60_000 })
  await sendTo(core, s, ['q'])
  await poll
  t.match(await delivered, { client: 'c', queue: 'q', messageId: 1 })
})
