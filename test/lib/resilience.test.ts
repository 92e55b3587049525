import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Reachability } from '../../lib/index.js'
import { startSwitch } from '../../server/index.js'
import { advanceUntil, manualClock } from '../server/core/fixtures.js'
import { clientOf, deferred, portOf, runSwitch, socketPath, traced } from './fixtures.js'

t.test('the switch starts late: a call made before it listens completes', async (t) => {
  const path = socketPath(t)
  const url = 'http://switch'
  const caller = clientOf(t, url, { client: 'early-caller', socketPath: path })
  const call = caller.rpc('late-service', 'are you there?')
  // The call is under way (its login is being retried) before anything listens.
  const refused = await caller.health({ signal: AbortSignal.timeout(100) }).catch((error: unknown) => error)
  t.match(refused, { code: 'aborted' }, 'nothing listens yet')

  const running = await startSwitch({ listenTcp: false, socketPath: path })
  t.teardown(running.stop)
  const server = clientOf(t, url, { socketPath: path })
  server.serve('late-service', (request) => `yes: ${request.toString()}`)
  t.equal((await call).toString(), 'yes: are you there?')
  t.equal(caller.sessionEpoch, 1)
})

t.test('a switch restarted in memory: serve and rpc carry on, a call in flight completes', async (t) => {
  const first = await runSwitch(t)
  const port = portOf(first.url)
  const server = clientOf(t, first.url, { client: 'server' })
  const caller = clientOf(t, first.url, { client: 'caller' })
  const inHandler = deferred()
  const gate = deferred()
  let handled = 0
  server.serve('svc', async (request) => {
    const text = request.toString()
    if (text === 'in flight' && handled++ === 0) {
      // The first delivery is held until the switch has restarted: its reply goes to a switch that forgot it.
      inHandler.resolve()
      await gate.promise
    }
    return `re ${text}`
  })
  t.equal((await caller.rpc('svc', 'before')).toString(), 're before')

  const inFlight = caller.rpc('svc', 'in flight')
  await inHandler.promise
  await first.stop()
  const second = await startSwitch({ port })
  t.teardown(second.stop)
  gate.resolve()

  t.equal((await inFlight).toString(), 're in flight', 'the call in flight was sent again and answered')
  t.equal((await caller.rpc('svc', 'after')).toString(), 're after')
  t.equal(caller.sessionEpoch, 2, 'the caller logged in again')
  t.equal(server.sessionEpoch, 2, 'the server logged in again')
  const diagnostics = await caller.diagnostics()
  t.same(diagnostics.sessions.map((session) => session.client).sort(), ['caller', 'server'])
  t.same((await caller.session()).queues.length, 1, 'one new reply queue')
  t.same((await server.session()).subscriptions, ['svc'], 'the service queue was created and subscribed again')
})

t.test('an expired session: the next call logs in again and gets its subscriptions back', async (t) => {
  // Leases on a clock the test moves, only once the setup is done: no stall can end a session early.
  const clock = manualClock()
  const { url } = await runSwitch(t, { sessionTtl: 200, now: clock.now, timers: clock })
  const observer = clientOf(t, url)
  const server = clientOf(t, url, { client: 'server' })
  server.serve('svc', (request) => `re ${request.toString()}`)
  const client = clientOf(t, url, { client: 'sleeper' })
  await client.createQueue('inbox')
  await client.subscribe('inbox')
  const early = await client.send('inbox', 'before')
  t.equal((await client.rpc('svc', 'one')).toString(), 're one')
  const { token } = await client.session()
  const after = (await observer.trace({ after: 0 })).next

  // Idle (the reply loop stops polling soon after the last call) until the switch ends the session.
  await advanceUntil(clock, 50, traced(observer, (event) => event.type === 'session_end' && event.client === 'sleeper', after))

  // An ack names a message id, which a switch restarted in memory may have given to another message: it is
  // not repeated after the re-login.
  await t.rejects(client.ack(early.id), { code: 'session_not_found', status: 401 })
  const sent = await client.send('inbox', 'still here')
  t.equal(client.sessionEpoch, 2, 'logged in again')
  const session = await client.session()
  t.not(session.token, token, 'a new session')
  t.same(session.subscriptions, ['inbox'], 'subscriptions restored; the old reply queue is forgotten')
  t.match((await client.transfer({ after: 0 })).messages, [{ id: early.id }, { id: sent.id, payload: 'still here' }])
  await client.ack(early.id)
  t.equal((await client.rpc('svc', 'two')).toString(), 're two', 'rpc works with a new reply queue')
  t.equal((await client.session()).queues.length, 1)
  t.equal(server.sessionEpoch, 1, 'a serving client keeps its session alive by polling')
})

t.test('onReachability: told once when the switch cannot be reached, and once when it answers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switch-reach-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const socketPath = join(dir, 'switch.sock')
  const changes: Reachability[] = []
  const told = deferred()
  const client = clientOf(t, 'http://localhost', { socketPath, onReachability: (change) => { changes.push(change); told.resolve() } })
  const login = client.login()
  await told.promise
  const running = await startSwitch({ listenTcp: false, socketPath })
  t.teardown(running.stop)
  await login
  await client.health()
  t.match(changes, [{ reachable: false, reason: 'no socket there', error: Error }, { reachable: true }], 'however many attempts it took')
  t.equal(changes.length, 2)
})
