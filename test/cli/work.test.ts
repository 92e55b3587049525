// The work-queue commands with the built binary: create with options (and the conflict), send with a delay,
// receive leasing a job, its dead letter shown with its reason, and redrive.
import t from 'tap'
import { run, start, startSwitch } from './spawn.js'

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

t.test('a worker process killed -9 holding leases: its jobs go to the next worker once the leases run out', async (t) => {
  const { url } = await startSwitch(t)
  const cli = async (...args: string[]): ReturnType<typeof run> => await run(t, [...args, '--url', url])
  t.match(await cli('create', 'jobs', '--work', '--visibility-timeout', '1'), OK)
  for (const job of ['a', 'b', 'c']) t.match(await cli('send', 'jobs', '--body', job), OK)
  // It leases all three, prints them, and never acks: it is killed with them.
  const doomed = start(t, ['receive', 'jobs', '--follow', '--json', '--url', url])
  for (const job of ['a', 'b', 'c']) await doomed.line(new RegExp(`"payload":"${job}"`))
  await doomed.kill()
  const next = await cli('receive', 'jobs', '--count', '3', '--timeout', '20', '--ack', '--json')
  t.match(next, OK)
  const jobs = next.stdout.trim().split('\n').map((line) => JSON.parse(line) as { payload: string, deliveries: number })
  t.same(jobs.map((job) => [job.payload, job.deliveries]).sort(), [['a', 2], ['b', 2], ['c', 2]], 'each on its second delivery')
  t.match(await cli('receive', 'jobs'), { ...OK, stdout: '' }, 'and acked: nothing is left')
})
