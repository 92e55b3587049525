// The original message-switch README walkthrough, step by step, with the real binary.
import t from 'tap'
import { run, start, startSwitch, waitForEvent } from './spawn.js'

t.test('README walkthrough: list, a blocked call, diagnostics, serve with cat, diagnostics', async (t) => {
  const { url } = await startSwitch(t)

  const listed = await run(t, ['list', '--url', url])
  t.same(listed, { code: 0, signal: null, stdout: '', stderr: '' }, 'no queues yet: list prints nothing')

  const call = start(t, ['call', 'foo', '--body', 'hello', '--url', url])
  // The call blocks; its request is in the switch once the trace has its send.
  await waitForEvent(url, (event) => event.type === 'send' && event.queue === 'foo')

  const before = await run(t, ['diagnostics', '--url', url])
  t.equal(before.code, 0)
  t.equal(before.stderr, '')
  t.match(before.stdout, /^Called but never started:\n {2}foo +never polled, 1 request waiting$/m)
  t.match(before.stdout, /^Messages waiting:\n {2}foo:\n {4}#\d+ from switch-call:\d+, sent \S+ ago, correlation id \S+, reply to tmp-\S+ \(caller [a-z ]+\)\n {6}"hello" \(5 bytes\)$/m)

  start(t, ['serve', 'foo', '--program', 'cat', '--url', url])
  const called = await call.result
  t.same(called, { code: 0, signal: null, stdout: 'hello\n', stderr: '' }, 'the call unblocks and prints hello, and a newline')

  const after = await run(t, ['diagnostics', '--url', url])
  t.equal(after.code, 0)
  // The service is long-polling again, or about to: either way its last long-poll has not run out.
  t.match(after.stdout, /^Running:\n {2}foo +(1 long-poll waiting on it now|last long-poll ends in \S+), 0 requests waiting$/m)
  t.match(after.stdout, /^No messages waiting\.$/m, 'the request is gone')
  t.notMatch(after.stdout, /hello/)
})
