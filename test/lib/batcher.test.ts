import t from 'tap'
import { Batcher, type BatcherOptions } from '../../lib/batcher.js'
import { deferred, type Deferred } from './fixtures.js'

interface Item { name: string, group?: string, size?: number }

/** A batcher whose requests are held open until the test answers them, recording what each one carried. */
function harness (options: Partial<BatcherOptions<Item, string>> = {}): {
  batcher: Batcher<Item, string>
  requests: Array<{ kind: 'one' | 'many', items: string[], answer: Deferred<void> }>
  /** Resolves once `count` requests have been made. */
  made: (count: number) => Promise<void>
} {
  const requests: Array<{ kind: 'one' | 'many', items: string[], answer: Deferred<void> }> = []
  const waiting: Array<{ count: number, reached: Deferred<void> }> = []
  const record = (kind: 'one' | 'many', items: Item[]): Deferred<void> => {
    const answer = deferred()
    requests.push({ kind, items: items.map((item) => item.name), answer })
    for (const waiter of waiting) if (requests.length >= waiter.count) waiter.reached.resolve()
    return answer
  }
  const made = async (count: number): Promise<void> => {
    if (requests.length >= count) return
    const reached = deferred()
    waiting.push({ count, reached })
    await reached.promise
  }
  const batcher = new Batcher<Item, string>({
    one: async (item) => {
      await record('one', [item]).promise
      if (item.name.startsWith('bad')) throw new Error(`${item.name} failed`)
      return `${item.name}!`
    },
    many: async (items) => {
      await record('many', items).promise
      if (items.some((item) => item.name === 'doom')) throw new Error('the whole batch failed')
      return items.map((item) => item.name.startsWith('bad')
        ? { status: 'rejected', reason: new Error(`${item.name} failed`) }
        : { status: 'fulfilled', value: `${item.name}!` })
    },
    inFlight: 1,
    maxItems: 100,
    maxSize: 100,
    sizeOf: (item) => item.size ?? 1,
    groupOf: (item) => item.group,
    ...options
  })
  return { batcher, requests, made }
}

t.test('a lone item goes out by itself at once, as it would unbatched', async (t) => {
  const { batcher, requests } = harness()
  const result = batcher.submit({ name: 'a' })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(requests.map(({ kind, items }) => ({ kind, items })), [{ kind: 'one', items: ['a'] }])
  requests[0].answer.resolve()
  t.equal(await result, 'a!')
})

t.test('items submitted together share a request; those that come while it is out share the next', async (t) => {
  const { batcher, requests, made } = harness()
  const first = ['a', 'b', 'c'].map(async (name) => await batcher.submit({ name }))
  await made(1)
  const later = ['d', 'e'].map(async (name) => await batcher.submit({ name }))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(requests.length, 1, 'one request out at a time: d and e wait')
  requests[0].answer.resolve()
  await made(2)
  t.same(requests.map(({ kind, items }) => ({ kind, items })), [
    { kind: 'many', items: ['a', 'b', 'c'] },
    { kind: 'many', items: ['d', 'e'] }
  ])
  requests[1].answer.resolve()
  t.same(await Promise.all([...first, ...later]), ['a!', 'b!', 'c!', 'd!', 'e!'], 'each caller gets its own result')
})

t.test('each caller gets its own error; a failed request fails all of its items', async (t) => {
  const { batcher, requests, made } = harness()
  const mixed = ['a', 'bad1', 'b'].map(async (name) => await batcher.submit({ name }).catch((error: Error) => error.message))
  await made(1)
  const doomed = ['c', 'doom'].map(async (name) => await batcher.submit({ name }).catch((error: Error) => error.message))
  requests[0].answer.resolve()
  t.same(await Promise.all(mixed), ['a!', 'bad1 failed', 'b!'])
  await made(2)
  requests[1].answer.resolve()
  t.same(await Promise.all(doomed), ['the whole batch failed', 'the whole batch failed'])
  const alone = batcher.submit({ name: 'bad2' })
  await made(3)
  requests[2].answer.resolve()
  await t.rejects(alone, { message: 'bad2 failed' }, 'a lone item fails with its own request')
})

t.test('requests hold one group, at most maxItems and maxSize; a large item goes alone', async (t) => {
  const { batcher, requests, made } = harness({ inFlight: 2, maxItems: 3, maxSize: 10 })
  const items: Item[] = [
    { name: 'a1', group: 'a' }, { name: 'b1', group: 'b' }, { name: 'a2', group: 'a' }, { name: 'a3', group: 'a' },
    { name: 'a4', group: 'a' }, { name: 'big', group: 'b', size: 11 }, { name: 'b2', group: 'b', size: 9 }, { name: 'b3', group: 'b', size: 2 }
  ]
  const results = items.map(async (item) => await batcher.submit(item))
  await made(2)
  t.same(requests.map(({ items }) => items), [['a1', 'a2', 'a3'], ['b1', 'b2']], 'two requests out, by group, within the limits')
  for (let answered = 0; answered < 5; answered++) {
    requests[answered].answer.resolve()
    await made(Math.min(5, answered + 3))
  }
  t.same(requests.map(({ items }) => items), [['a1', 'a2', 'a3'], ['b1', 'b2'], ['a4'], ['big'], ['b3']])
  t.equal(requests[3].kind, 'one', 'the large item went by itself')
  t.same(await Promise.all(results), items.map((item) => `${item.name}!`))
})

t.test('a background batcher sends once the current turn of the event loop is over', async (t) => {
  const { batcher, requests } = harness({ background: true })
  const order: string[] = []
  const result = batcher.submit({ name: 'ack' })
  await Promise.resolve()
  order.push(`after microtasks: ${requests.length} request(s)`)
  await new Promise((resolve) => setImmediate(resolve))
  order.push(`next turn: ${requests.length} request(s)`)
  t.same(order, ['after microtasks: 0 request(s)', 'next turn: 1 request(s)'])
  requests[0].answer.resolve()
  t.equal(await result, 'ack!')
})
