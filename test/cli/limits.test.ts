// The limit flags of `switch serve` reach the switch (diagnostics reports them), and bad values are refused.
import t from 'tap'
import type { Diagnostics } from '../../protocol/wire.js'
import { run, start } from './spawn.js'

t.test('serve passes every limit flag on to the switch', async (t) => {
  const server = start(t, [
    'serve', '--port', '0', '--log-level', 'warn', '--max-queues', '5', '--max-session-queues', '2',
    '--max-queue-length', '3', '--max-queued-bytes', '4096', '--max-session-polls', '7', '--max-transfer', '9',
    '--max-answer-bytes', '65536',
    '--max-connections', '50', '--headers-timeout', '2', '--request-timeout', '4', '--keep-alive-timeout', '1.5'
  ])
  const [, url] = await server.line(/^switch listening on (\S+)$/)
  const { limits } = await (await fetch(`${url}/v1/diagnostics`)).json() as Diagnostics
  t.match(limits, {
    queues: { limit: 5 },
    sessionQueues: { limit: 2 },
    queueLength: { limit: 3 },
    queuedBytes: { limit: 4096 },
    sessionPolls: { limit: 7 },
    transfer: { limit: 9 },
    answerBytes: { limit: 65536 },
    connections: { limit: 50 }
  })
})

t.test('a limit flag that is not a positive number is one error line', async (t) => {
  for (const args of [['--max-queues', '0'], ['--max-queued-bytes', 'lots'], ['--headers-timeout', '-1']]) {
    const { code, stdout, stderr } = await run(t, ['serve', '--port', '0', ...args])
    t.not(code, 0, args.join(' '))
    t.equal(stdout, '')
    t.match(stderr, /^switch: [^\n]*\n$/, `${args.join(' ')}: ${stderr}`)
  }
})
