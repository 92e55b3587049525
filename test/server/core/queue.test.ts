import t from 'tap'
import { IdempotencyKeys } from '../../../server/core/idempotency.js'
import { Queue, type StoredMessage } from '../../../server/core/queue.js'

function message (id: number, payload = 'x'): StoredMessage {
  return { id, queue: 'q', payload: Buffer.from(payload), origin: 'test', time: 0 }
}

function after (queue: Queue, cursor: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const out: StoredMessage[] = []
  queue.collectAfter(cursor, max, out)
  return out.map((m) => m.id)
}

t.test('collectAfter returns ids above the cursor, in order, up to max', async (t) => {
  const queue = new Queue('q', 'persistent')
  for (const id of [2, 3, 5, 8, 13]) queue.push(message(id))
  t.same(after(queue, 0), [2, 3, 5, 8, 13])
  t.same(after(queue, 3), [5, 8, 13])
  t.same(after(queue, 4), [5, 8, 13])
  t.same(after(queue, 13), [])
  t.same(after(queue, 0, 2), [2, 3])
  t.same(after(queue, 5, 0), [])
})

t.test('collectAfter appends up to max of its own to a list that already holds messages', async (t) => {
  const queue = new Queue('q', 'persistent')
  for (const id of [1, 2, 3]) queue.push(message(id))
  const out = [message(10), message(11)]
  queue.collectAfter(0, 2, out)
  t.same(out.map((m) => m.id), [10, 11, 1, 2])
})

t.test('length and bytes follow pushes and removes', async (t) => {
  const queue = new Queue('q', 'temporary', 'token')
  t.equal(queue.owner, 'token')
  queue.push(message(1, 'abc'))
  queue.push(message(2, 'de'))
  t.equal(queue.length, 2)
  t.equal(queue.bytes, 5)
  t.equal(queue.remove(1)?.id, 1)
  t.equal(queue.remove(1), undefined, 'a second remove finds nothing')
  t.equal(queue.get(1), undefined)
  t.equal(queue.get(2)?.payload.toString(), 'de')
  t.equal(queue.length, 1)
  t.equal(queue.bytes, 2)
  t.same([...queue.messages()].map((m) => m.id), [2])
})

t.test('tombstones of many acks: compaction keeps collectAfter and hasAfter exact', async (t) => {
  const queue = new Queue('q', 'persistent')
  const live = new Set<number>()
  // Ids with gaps, as other queues take their share of the global counter.
  for (let id = 1; id <= 3000; id += 3) { queue.push(message(id)); live.add(id) }
  // Ack all but every tenth, oldest first then from the far end, crossing the compaction threshold repeatedly.
  const order = [...live].filter((id) => id % 10 !== 1)
  for (const [i, id] of [...order.slice(0, 400), ...order.slice(400).reverse()].entries()) {
    t.equal(queue.remove(id)?.id, id)
    live.delete(id)
    if (i % 97 === 0) {
      const sorted = [...live].sort((a, b) => a - b)
      const cursor = sorted[Math.floor(sorted.length / 2)] ?? 0
      if (JSON.stringify(after(queue, cursor)) !== JSON.stringify(sorted.filter((x) => x > cursor))) {
        t.fail(`collectAfter(${cursor}) wrong after ${i + 1} acks`)
      }
    }
  }
  const sorted = [...live].sort((a, b) => a - b)
  t.equal(queue.length, sorted.length)
  t.same(after(queue, 0), sorted)
  t.same(after(queue, 1500, 3), sorted.filter((x) => x > 1500).slice(0, 3))
  t.equal(queue.hasAfter(0), true)
  t.equal(queue.hasAfter(sorted[sorted.length - 1]), false, 'the highest live id')
  t.equal(queue.hasAfter(sorted[sorted.length - 1] - 1), true)
  // Push more and ack them: tombstones at the end, after the last live message.
  for (let id = 5000; id < 5100; id++) queue.push(message(id))
  for (let id = 5000; id < 5100; id++) queue.remove(id)
  t.equal(queue.hasAfter(sorted[sorted.length - 1]), false, 'trailing tombstones are not messages')
  t.same(after(queue, sorted[sorted.length - 2]), [sorted[sorted.length - 1]])
  for (const id of sorted) queue.remove(id)
  t.equal(queue.length, 0)
  t.equal(queue.hasAfter(0), false)
  t.same(after(queue, 0), [])
  queue.push(message(9000))
  t.same(after(queue, 0), [9000], 'still usable once emptied')
  t.equal(queue.hasAfter(8999), true)
})

t.test('hasAfter on an empty queue and around the last id', async (t) => {
  const queue = new Queue('q', 'persistent')
  t.equal(queue.hasAfter(0), false)
  queue.push(message(4))
  t.equal(queue.hasAfter(3), true)
  t.equal(queue.hasAfter(4), false)
  queue.remove(4)
  t.equal(queue.hasAfter(3), false)
})

t.test('IdempotencyKeys: per queue, until expiry; prune drops only lapsed keys', async (t) => {
  const keys = new IdempotencyKeys()
  keys.remember('a', 'k', 1, 100)
  keys.remember('b', 'k', 2, 150)
  t.equal(keys.lookup('a', 'k', 99), 1)
  t.equal(keys.lookup('b', 'k', 99), 2)
  t.equal(keys.lookup('a', 'other', 99), undefined)
  t.equal(keys.lookup('a', 'k', 100), undefined, 'gone at its expiry')
  keys.prune(120)
  t.equal(keys.size, 1)
  t.same([...keys.all()], [{ queue: 'b', key: 'k', id: 2, expires: 150 }])
})

t.test('IdempotencyKeys: a key reused after its window does not hold back pruning', async (t) => {
  const keys = new IdempotencyKeys()
  keys.remember('q', 'reused', 1, 100)
  keys.remember('q', 'other', 2, 150)
  keys.remember('q', 'reused', 3, 200) // the first use lapsed at 100, before any prune ran
  keys.prune(160)
  t.same([...keys.all()].map((entry) => entry.key), ['reused'], 'the lapsed key behind it was pruned')
  t.equal(keys.lookup('q', 'reused', 160), 3)
  t.equal(keys.size, 1)
  keys.remember('q', 'later', 4, 300)
  keys.prune(250)
  t.same([...keys.all()].map((entry) => entry.key), ['later'], 'the new entry went at its own expiry')
  t.equal(keys.lookup('q', 'reused', 0), undefined)
  t.equal(keys.size, 1)
})

t.test('IdempotencyKeys forgets the oldest keys beyond its capacity', async (t) => {
  const keys = new IdempotencyKeys(2)
  keys.remember('q', 'a', 1, 1000)
  keys.remember('q', 'b', 2, 1000)
  keys.remember('q', 'c', 3, 1000)
  t.equal(keys.size, 2)
  t.equal(keys.lookup('q', 'a', 0), undefined, 'the oldest went first')
  t.equal(keys.lookup('q', 'b', 0), 2)
  t.equal(keys.lookup('q', 'c', 0), 3)
})

t.test('IdempotencyKeys keeps its answers right as its log is compacted and queues empty and come back', async (t) => {
  const keys = new IdempotencyKeys(1500)
  for (let i = 1; i <= 5000; i++) keys.remember(`q${i % 3}`, `k${i}`, i, 10_000 + i)
  t.equal(keys.size, 1500, 'the oldest went beyond capacity')
  t.equal(keys.lookup('q1', 'k1', 0), undefined)
  t.equal(keys.lookup('q2', 'k3500', 0), undefined)
  t.equal(keys.lookup('q0', 'k3501', 0), 3501)
  t.equal(keys.lookup('q2', 'k5000', 0), 5000)
  keys.prune(10_000 + 4000)
  t.equal(keys.size, 1000)
  t.same([...keys.all()].map((entry) => entry.id), Array.from({ length: 1000 }, (_, i) => 4001 + i), 'oldest first, across queues')
  keys.prune(20_000)
  t.equal(keys.size, 0)
  t.same([...keys.all()], [], 'every queue emptied')
  keys.remember('q1', 'k1', 7, 30_000)
  t.equal(keys.lookup('q1', 'k1', 20_000), 7, 'a queue whose keys all went takes new ones')
  t.same([...keys.all()], [{ queue: 'q1', key: 'k1', id: 7, expires: 30_000 }])
})
