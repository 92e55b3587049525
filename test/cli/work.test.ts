// The work-queue commands with the built binary: create with options (and the conflict), send with a delay,
// receive leasing a job, its dead letter shown with its reason, and redrive.
import t from 'tap'
import { run, startSwitch } from './spawn.js'

const OK = { code: 0, signal: null, stderr: '' }

t.test('create a work queue, see a job dead-lettered with its reason, move it back', async (t) => {
  const { url } = await startSwitch(t)
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', url])
  t.match(await cli('create', 'jobs-dead'), OK)
  t.match(await cli('create', 'jobs', '--work', '--visibility-timeout', '1', '--max-deliveries', '1', '--dead-letter', 'jobs-dead'), OK)
  t.match(await cli('create', 'jobs', '--work', '--visibility-timeout', '1', '--max-deliveries', '1', '--dead-letter', 'jobs-dead'), OK, 'the same again')
  const conflict = await cli('create', 'jobs', '--work')
  t.equal(conflict.code, 1)
  t.match(conflict.stderr, /exists with other options/, 'other options: one line on stderr')
  const info = await (await fetch(`${url}/v1/queues/jobs`)).json() as { options: unknown }
  t.same(info.options, { mode: 'work', visibilityTimeout: 1, maxDeliveries: 1, deadLetter: 'jobs-dead' })
  t.match(await cli('list'), { ...OK, stdout: 'jobs  [work, visibility-timeout 1 s, max-deliveries 1, dead-letter jobs-dead]\njobs-dead\n' })
  t.match(await cli('send', 'jobs', '--body', 'poison', '--delay', '0.2'), { ...OK, stdout: /^\d+\n$/ })
  // Leased to this command, never acked: once its lease runs out it has had its one delivery.
  t.match(await cli('receive', 'jobs', '--count', '1', '--timeout', '10'), { ...OK, stdout: /^\d+\tpoison\n$/ })
  const dead = await cli('receive', 'jobs-dead', '--count', '1', '--timeout', '10', '--ack')
  t.match(dead, { ...OK, stdout: /^\d+\tpoison\tdead letter: max_deliveries from jobs after 1 deliveries\n$/ })
  t.match(await cli('send', 'jobs-dead', '--body', 'again'), OK)
  t.match(await cli('redrive', 'jobs-dead', '--to', 'jobs'), { ...OK, stdout: '1\n' })
  t.match(await cli('receive', 'jobs', '--count', '1', '--timeout', '10', '--ack'), { ...OK, stdout: /^\d+\tagain\n$/ })
})
