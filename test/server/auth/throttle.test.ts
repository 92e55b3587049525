import t from 'tap'
import { TooManyLoginsError } from '../../../server/core/errors.js'
import { LoginThrottle } from '../../../server/auth/throttle.js'

/** Seconds the throttle tells the address to wait; 0 when it may try now. */
function waitOf (throttle: LoginThrottle, address: string): number {
  try {
    throttle.check(address)
    return 0
  } catch (error) {
    if (!(error instanceof TooManyLoginsError)) throw error
    return error.retryAfter
  }
}

t.test('past maxFailures in the window an address is refused until the oldest failure leaves it', async (t) => {
  let now = 1_000_000
  const throttle = new LoginThrottle({ maxFailures: 3, window: 60_000, now: () => now })
  for (let i = 0; i < 3; i++) {
    throttle.check('10.0.0.1')
    throttle.failed('10.0.0.1')
    now += 10_000
  }
  // Failures at 0 s, 10 s, 20 s; now is 30 s: the first leaves the window at 60 s.
  t.throws(() => { throttle.check('10.0.0.1') }, { code: 'too_many_logins' })
  t.equal(waitOf(throttle, '10.0.0.1'), 30)
  t.equal(waitOf(throttle, '10.0.0.2'), 0, 'another address is not affected')
  now = 1_000_000 + 59_999
  t.equal(waitOf(throttle, '10.0.0.1'), 1, 'never less than a second to wait')
  now = 1_000_000 + 60_000
  t.doesNotThrow(() => { throttle.check('10.0.0.1') }, 'the oldest failure has left the window')
  throttle.failed('10.0.0.1')
  t.equal(waitOf(throttle, '10.0.0.1'), 10, 'a new failure fills the window again')
  now += 3 * 60_000
  t.doesNotThrow(() => { throttle.check('10.0.0.1') })
  t.equal(throttle.size, 0, 'an address whose failures all lapsed is forgotten')
})

t.test('memory stays bounded: past maxAddresses the oldest address is forgotten', async (t) => {
  const throttle = new LoginThrottle({ maxFailures: 1, window: 60_000, maxAddresses: 2, now: () => 0 })
  throttle.failed('a')
  throttle.failed('b')
  throttle.failed('c')
  t.equal(throttle.size, 2)
  t.doesNotThrow(() => { throttle.check('a') }, 'the oldest was forgotten')
  t.throws(() => { throttle.check('c') }, { code: 'too_many_logins' })
})
