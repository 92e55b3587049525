// `switch publish` and `switch subscribe` as real processes, against a real `switch serve`.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import type { ListResponse, Message, QueueInfo } from '../../protocol/wire.js'
import { run, start, startSwitch, type Cli } from './spawn.js'

const ONE_ERROR_LINE = /^switch: [^\n]+\n$/

/** The temporary queues bound to exactly `filters`, once there are `count` (the switch announces bindings to nobody). */
async function boundQueues (url: string, filters: string[], count: number): Promise<QueueInfo[]> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const { queues } = await (await fetch(`${url}/v1/queues?prefix=tmp-`)).json() as ListResponse
    const bound = queues.filter((queue) => JSON.stringify(queue.bindings) === JSON.stringify(filters))
    if (bound.length === count) return bound
    if (Date.now() > deadline) throw new Error(`no ${count} queue(s) bound to ${filters.join(' ')}: ${JSON.stringify(queues)}`)
    await delay(20)
  }
}

async function stop (cli: Cli): Promise<number | null> {
  cli.child.kill('SIGINT')
  return (await cli.result).code
}

t.test('publish and subscribe', async (t) => {
  const { url } = await startSwitch(t)
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', url])
  const [retained, topic, filter, none] = await Promise.all([
    cli('publish', 'site/rack1/temp', '--body', '21.5', '--retain'),
    cli('publish', 'a/+', '--body', 'x'),
    cli('subscribe', 'a/#/b'),
    cli('subscribe')
  ])
  t.equal(retained.stdout, '0\n', 'retained, with nobody listening yet')
  t.equal(topic.code, 1)
  t.match(topic.stderr, ONE_ERROR_LINE)
  t.match(topic.stderr, /topic "a\/\+" may not hold \+ or #/)
  t.equal(filter.code, 1)
  t.match(filter.stderr, /filter "a\/#\/b": # may only be the last level/)
  t.equal(none.code, 2, 'a usage error')
  t.match(none.stderr, /give at least one topic filter/)

  const plain = start(t, ['subscribe', 'news/#', 'alerts/+', '--url', url])
  const json = start(t, ['subscribe', 'news/+/x', '--json', '--url', url])
  const late = start(t, ['subscribe', 'site/+/temp', '--json', '--url', url])
  const [[plainQueue]] = await Promise.all([
    boundQueues(url, ['alerts/+', 'news/#'], 1),
    boundQueues(url, ['news/+/x'], 1)
  ])
  const [retainedLine] = await late.line(/^\{.*\}$/)
  t.match(JSON.parse(retainedLine) as Message, { topic: 'site/rack1/temp', payload: '21.5', retained: true }, 'a later subscriber gets the retained message')

  t.same(await cli('publish', 'news/a/x', '--body', 'hello'), { code: 0, signal: null, stdout: '2\n', stderr: '' }, 'two subscribers')
  await plain.line(/^news\/a\/x hello$/)
  const [line] = await json.line(/^\{.*\}$/)
  t.match(JSON.parse(line) as Message, { topic: 'news/a/x', payload: 'hello', origin: /^switch-publish:\d+$/ }, '--json prints the whole message')
  const [fire, nobody, third, listed] = await Promise.all([
    cli('publish', 'alerts/fire', '--body', 'fire!'),
    cli('publish', 'nobody/listens', '--body', 'x'),
    cli('publish', 'news/b', '--body', 'third\nline\\', '--json'),
    cli('list', '--all')
  ])
  t.equal(fire.stdout, '1\n', 'one of them')
  t.equal(nobody.stdout, '0\n', 'nobody listening is no error')
  t.match(JSON.parse(third.stdout), { ids: [Number], count: 1, duplicate: false }, '--json prints the answer')
  await plain.line(/^alerts\/fire fire!$/)
  await plain.line(/^news\/b third\\nline\\\\$/)
  t.pass('topic and payload, as mosquitto_sub -v; a multi-line payload escaped onto one line')

  t.match(listed.stdout, new RegExp(`^${plainQueue.name}  <- alerts/\\+, news/#$`, 'm'), 'list shows the bindings')
  // Printed, then acked: the subscriber's queue empties out.
  const deadline = Date.now() + 10_000
  while ((await boundQueues(url, ['alerts/+', 'news/#'], 1))[0].length > 0) {
    if (Date.now() > deadline) throw new Error('the messages were not acked')
    await delay(20)
  }
  t.pass('every message printed was acked')

  t.same(await Promise.all([stop(plain), stop(json), stop(late)]), [0, 0, 0], 'SIGINT ends subscribe cleanly')
  t.same(await boundQueues(url, ['alerts/+', 'news/#'], 0), [], 'its queue and bindings are gone')
  t.equal((await plain.result).stderr, '')
})
