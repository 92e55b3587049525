// The original CLI's `shutdown` over the Unix socket always gets its answer, even while other original clients
// hold long-polls open that the stop must answer and close: the reply is written before its connection ends.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { start } from '../../cli/spawn.js'
import { ok, type RawConnection } from './raw-http.js'
import { loggedIn } from './scenarios.js'

/** The race this guards against was intermittent: the whole exchange runs this many times. */
const ROUNDS = 10
/** Original clients long-polling while the shutdown comes. */
const POLLERS = 6

function socketPath (t: Test): string {
  // Not t.testdir(): a socket path must stay under ~100 characters.
  const dir = mkdtempSync(join(tmpdir(), 'switch-stop-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return join(dir, 'sock')
}

/** As the original clients' event threads do: a long-poll on the reply queue, again as soon as it is answered. */
async function pollUntilClosed (connection: RawConnection, queue: string): Promise<void> {
  for (;;) {
    connection.send('POST', '/transfer', `{"from":"-1","timeout":30.0,"queues":["${queue}"]}`)
    try {
      await connection.response()
    } catch {
      return
    }
  }
}

for (let round = 1; round <= ROUNDS; round++) {
  t.test(`round ${round}: shutdown over --socket answers 200 while long-polls are open, then the switch exits 0`, async (t) => {
    const path = socketPath(t)
    const server = start(t, ['serve', '--no-tcp', '--socket', path, '--log-level', 'warn'])
    await server.line(/^switch listening on /)

    const polls: Array<Promise<void>> = []
    for (let i = 0; i < POLLERS; i++) {
      const token = `client_unix_main.exe:${1000 + i}`
      const connection = await loggedIn(t, { path }, token)
      t.equal(await ok(connection, 'GET', `/transient/${token}`), token)
      polls.push(pollUntilClosed(connection, token))
    }
    const idle = await loggedIn(t, { path }, 'idle:1')
    // Every long-poll is waiting: their queues count as alive.
    while (JSON.parse(await ok(idle, 'GET', '/list/alive/')).length < POLLERS);

    // The CLI: one connection for requests, logged in, its own reply queue, then the shutdown.
    const cli = await loggedIn(t, { path }, 'message-cli:1')
    t.equal(await ok(cli, 'GET', '/transient/message-cli:1'), 'message-cli:1')
    const answer = await cli.request('POST', '/shutdown')
    t.same({ status: answer.status, body: answer.body }, { status: 200, body: '' }, 'the whole answer')
    t.equal(answer.headers['content-length'], '0')

    await Promise.all(polls)
    await cli.closed
    t.match(await server.result, { code: 0, signal: null, stderr: '' })
  })
}
