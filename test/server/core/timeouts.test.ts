import t from 'tap'
import { Timeouts, type Expiring } from '../../../server/core/timeouts.js'

t.test('deadlines expire in deadline order under one timer; a removed entry never expires', async (t) => {
  const deadlines = new Timeouts()
  const expired: string[] = []
  let last: () => void = () => {}
  const allExpired = new Promise<void>((resolve) => { last = resolve })
  const entry = (name: string): Expiring => ({
    deadline: 0,
    slot: -1,
    expire: () => {
      expired.push(name)
      if (name === 'e') last()
    }
  })
  const entries = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'gone', 'gone too'].map((name) => [name, entry(name)]))
  // Added out of order: the heap decides the order, whatever the timer's timing.
  deadlines.add(entries.c, 30)
  deadlines.add(entries.gone, 5)
  deadlines.add(entries.a, 10)
  deadlines.add(entries.e, 60)
  deadlines.add(entries['gone too'], 40)
  deadlines.add(entries.b, 20)
  deadlines.add(entries.d, 50)
  t.equal(deadlines.size, 7)
  deadlines.remove(entries.gone)
  deadlines.remove(entries['gone too'])
  deadlines.remove(entries['gone too'])
  t.equal(deadlines.size, 5)
  await allExpired
  t.same(expired, ['a', 'b', 'c', 'd', 'e'])
  t.equal(deadlines.size, 0)
  t.equal(entries.a.slot, -1, 'an expired entry is out of the heap')
})
