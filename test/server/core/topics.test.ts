// Topic filters as MQTT defines them, the trie that matches them without scanning, and the name rules.
import assert from 'node:assert/strict'
import t from 'tap'
import { seedFor } from '../../seed.js'
import fc from 'fast-check'
import { filterProblem, topicProblem } from '../../../protocol/topics.js'
import { Bindings } from '../../../server/core/bindings.js'
import { filterMatches, TopicTrie } from '../../../server/core/topics.js'

/** [filter, topic, matches]: the MQTT specification's examples and edge cases, and then some. */
const TABLE: Array<[string, string, boolean]> = [
  ['sport/tennis/player1', 'sport/tennis/player1', true],
  ['sport/tennis/player1', 'sport/tennis/player2', false],
  ['sport/tennis/player1', 'sport/tennis', false],
  ['sport/tennis/player1', 'sport/tennis/player1/ranking', false],
  // `#`: any number of levels, none included, and only last.
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['sport/#', 'sports', false],
  ['sport/#', 'sport/', true],
  ['#', 'sport/tennis/player1', true],
  ['#', 'sport', true],
  ['#', '/finance', true],
  ['#', '/', true],
  // `+`: exactly one level, an empty one too.
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/tennis/+', 'sport/tennis', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+', 'sport', true],
  ['+', '/finance', false],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+/tennis/#', 'sport/tennis/player1', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['+/tennis/#', 'sport/football', false],
  ['sport/+/player1', 'sport/tennis/player1', true],
  ['sport/+/player1', 'sport//player1', true],
  ['+/+/+', 'a//c', true],
  ['a/+/#', 'a/b', true],
  ['a/+/#', 'a', false],
  // Empty levels are levels: `/finance` has an empty first one.
  ['/finance', '/finance', true],
  ['/finance', 'finance', false],
  ['finance', '/finance', false],
  ['a//b', 'a//b', true],
  ['a//b', 'a/b', false],
  ['a/', 'a', false],
  ['a/', 'a/', true],
  // Levels compare whole and exactly.
  ['Sport', 'sport', false],
  ['sport/ten', 'sport/tennis', false]
]

t.test('filters match topics as MQTT says, in the plain matcher and in the trie', async (t) => {
  for (const [filter, topic, expected] of TABLE) {
    t.equal(filterMatches(filter, topic), expected, `${filter} ${expected ? 'matches' : 'does not match'} ${topic}`)
    const trie = new TopicTrie<string>()
    trie.set(filter, filter)
    t.same(trie.matching(topic), expected ? [filter] : [], `trie: ${filter} on ${topic}`)
    const topics = new TopicTrie<string>()
    topics.set(topic, topic)
    t.same(topics.matchedBy(filter).map(([key]) => key), expected ? [topic] : [], `topic trie: ${topic} by ${filter}`)
  }
})

t.test('the trie finds every stored filter that matches, and the retained-topics walk every matched topic', async (t) => {
  const filters = [...new Set(TABLE.map(([filter]) => filter))]
  const topics = [...new Set(TABLE.map(([, topic]) => topic))]
  const byFilter = new TopicTrie<string>()
  for (const filter of filters) byFilter.set(filter, filter)
  const byTopic = new TopicTrie<string>()
  for (const topic of topics) byTopic.set(topic, topic)
  for (const topic of topics) {
    t.same(byFilter.matching(topic).sort(), filters.filter((filter) => filterMatches(filter, topic)).sort(), `filters matching ${topic}`)
  }
  for (const filter of filters) {
    t.same(byTopic.matchedBy(filter).map(([key]) => key).sort(), topics.filter((topic) => filterMatches(filter, topic)).sort(), `topics ${filter} matches`)
  }
})

t.test('set replaces, delete removes and prunes, size counts keys', async (t) => {
  const trie = new TopicTrie<number>()
  trie.set('a/b/c', 1)
  trie.set('a/b', 2)
  trie.set('a/b/c', 3)
  t.equal(trie.size, 2)
  t.equal(trie.get('a/b/c'), 3, 'replaced')
  t.equal(trie.get('a'), undefined, 'a mere prefix holds nothing')
  t.equal(trie.delete('a'), false, 'nor can it be deleted')
  t.equal(trie.delete('a/b/c'), true)
  t.equal(trie.delete('a/b/c'), false, 'gone')
  t.same(trie.entries(), [['a/b', 2]])
  t.same(trie.matching('a/b'), [2])
  t.equal(trie.delete('a/b'), true)
  t.equal(trie.size, 0)
  t.same(trie.matchedBy('#'), [], 'nothing is left, not even empty branches')
  trie.set('x', 1)
  trie.clear()
  t.same([trie.size, trie.entries()], [0, []])
})

t.test('a queue bound by several matching filters is found once; bindings go with their queue', async (t) => {
  const bindings = new Bindings()
  t.equal(bindings.add('q', 'a/#'), true)
  t.equal(bindings.add('q', 'a/+'), true)
  t.equal(bindings.add('q', 'a/+'), false, 'binding again changes nothing')
  t.equal(bindings.add('r', 'a/+'), true)
  t.same([...bindings.queuesFor('a/b')].sort(), ['q', 'r'])
  t.same([...bindings.queuesFor('a')], ['q'])
  t.same(bindings.filtersOf('q'), ['a/#', 'a/+'])
  t.equal(bindings.size, 3)
  bindings.removeQueue('q')
  t.same(bindings.filtersOf('q'), [])
  t.same([...bindings.queuesFor('a/b')], ['r'])
  t.equal(bindings.delete('r', 'a/#'), false)
  t.equal(bindings.delete('r', 'a/+'), true)
  t.equal(bindings.size, 0)
  t.same([...bindings.queuesFor('a/b')], [])
})

// Small alphabets, so that random topics and filters often meet.
const level = fc.constantFrom('', 'a', 'b', 'c', 'sport', 'x y')
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => levels.join('/')).filter((topic) => topicProblem(topic) === undefined)
const filterArb = fc.tuple(
  fc.array(fc.oneof({ arbitrary: level, weight: 3 }, fc.constant('+')), { minLength: 0, maxLength: 5 }),
  fc.boolean()
).map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/')).filter((filter) => filterProblem(filter) === undefined)

t.test('property: the trie agrees with the plain matcher on random filters and topics', async (t) => {
  fc.assert(fc.property(fc.uniqueArray(filterArb, { maxLength: 30 }), fc.array(topicArb, { maxLength: 20 }), (filters, topics) => {
    const byFilter = new TopicTrie<string>()
    for (const filter of filters) byFilter.set(filter, filter)
    // Some of them go again, so that deletion and pruning are held to the same answer.
    const removed = filters.filter((_, i) => i % 3 === 0)
    for (const filter of removed) byFilter.delete(filter)
    const kept = filters.filter((filter) => !removed.includes(filter))
    const byTopic = new TopicTrie<string>()
    for (const topic of topics) byTopic.set(topic, topic)
    for (const topic of topics) {
      assert.deepEqual(byFilter.matching(topic).sort(), kept.filter((filter) => filterMatches(filter, topic)).sort(), `filters matching ${topic}`)
    }
    for (const filter of kept) {
      const expected = [...new Set(topics)].filter((topic) => filterMatches(filter, topic)).sort()
      assert.deepEqual(byTopic.matchedBy(filter).map(([key]) => key).sort(), expected, `topics ${filter} matches`)
    }
  }), { numRuns: 500, seed: seedFor(t, 1) })
  t.pass('500 random cases agree')
})

t.test('topic names and filters are validated with the reason', async (t) => {
  for (const topic of ['a', '/finance', 'a//b', 'a/', '/', 'x y/ü/日本', 'a'.repeat(200)]) {
    t.equal(topicProblem(topic), undefined, `${JSON.stringify(topic)} is a topic`)
  }
  const badTopics: Array<[string, RegExp]> = [
    ['', /topic is empty/],
    ['a'.repeat(201), /longer than 200/],
    ['a/+/b', /may not hold \+ or #/],
    ['a/#', /may not hold \+ or #/],
    ['a+', /may not hold \+ or #/],
    ['a\u0000b', /control characters/],
    ['a\nb', /control characters/],
    ['a\ud800', /unpaired surrogates/]
  ]
  for (const [topic, problem] of badTopics) t.match(topicProblem(topic), problem, `${JSON.stringify(topic)} is refused`)

  for (const filter of ['#', '+', 'a/#', '+/+', '/+', 'a/+/b/#', '+/#', 'a//+', 'sport/tennis/player1']) {
    t.equal(filterProblem(filter), undefined, `${filter} is a filter`)
  }
  const badFilters: Array<[string, RegExp]> = [
    ['', /filter is empty/],
    ['#/a', /# may only be the last level/],
    ['a/#/b', /# may only be the last level/],
    ['a#', /must be whole levels/],
    ['a/b#', /must be whole levels/],
    ['a+/b', /must be whole levels/],
    ['a/++', /must be whole levels/],
    ['a\tb', /control characters/],
    ['+'.repeat(201), /longer than 200/]
  ]
  for (const [filter, problem] of badFilters) t.match(filterProblem(filter), problem, `${JSON.stringify(filter)} is refused`)
})
