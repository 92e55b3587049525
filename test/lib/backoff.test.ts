import t from 'tap'
import { Backoff } from '../../lib/backoff.js'
import { toRequestError } from '../../lib/transport.js'

t.test('backoff doubles from 50 ms up to 1 s, each wait jittered between half and all of its step', async (t) => {
  const most = new Backoff(50, 1000, () => 1)
  t.same(Array.from({ length: 7 }, () => most.next()), [50, 100, 200, 400, 800, 1000, 1000])
  const least = new Backoff(50, 1000, () => 0)
  t.same(Array.from({ length: 7 }, () => least.next()), [25, 50, 100, 200, 400, 500, 500])
})

t.test('error bodies: the switch\'s code when it sent one, else a code from the status', async (t) => {
  t.match(toRequestError(404, '{"error":{"code":"queue_not_found","message":"queue \\"q\\" does not exist"}}'),
    { name: 'SwitchRequestError', code: 'queue_not_found', status: 404, message: 'queue "q" does not exist' })
  t.match(toRequestError(503, '{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}'),
    { code: 'shutting_down', status: 503, message: /^HTTP 503: / })
  t.match(toRequestError(502, ''), { code: 'internal', status: 502, message: 'HTTP 502' })
  t.match(toRequestError(400, '{"error":{"code":"no_such_code","message":"x"}}'), { code: 'invalid_request' })
})
