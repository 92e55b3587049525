// An id names one message for ever: kill -9 a switch (`switch serve --data-dir`) while clients send and watch
// the trace, start it again on the same directory, and every id that the trace or a send's answer showed before
// the crash still holds the message it named; ids after the restart go on above all of them. The kill comes
// the moment the trace shows a send, when its commit may still be on its way if the trace ran ahead of it.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { Agent } from 'undici'
import type { SendResponse, TraceResponse, TransferResponse } from '../../../protocol/wire.js'
import { Api } from '../http/fixtures.js'
import { tempDir } from './fixtures.js'

const RUN = fileURLToPath(new URL('../../../../bin/run.js', import.meta.url))
const ROUNDS = 6
const SENDERS = 8
/** Large enough that a commit takes a while, so that a trace running ahead of it would be caught. */
const PAD = 'x'.repeat(32 * 1024)

interface Started { url: string, kill: () => Promise<void> }

/** `switch serve --port 0 --data-dir DIR`, as a user starts it; killed at teardown if still running. */
async function serve (t: Test, dir: string): Promise<Started> {
  const child = spawn(process.execPath, [RUN, 'serve', '--port', '0', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<void>((resolve) => { child.on('close', () => { resolve() }) })
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^switch listening on (\S+)$/.exec(line)
    if (match !== null) return { url: match[1], kill }
  }
  throw new Error(`the switch exited before listening: ${stderr}`)
}

/** What the clients were shown: id -> the tag of the message it named. */
type Seen = Map<number, string>

function see (seen: Seen, problems: string[], id: number, tag: string, where: string): void {
  const known = seen.get(id)
  if (known !== undefined && known !== tag) problems.push(`${where}: id ${id} named ${known}, now ${tag}`)
  seen.set(id, tag)
}

/** Sends and watches the trace until the trace has shown `killAfter` sends, then kills the switch on the spot. */
async function round (t: Test, dir: string, index: number, killAfter: number, seen: Seen, problems: string[]): Promise<void> {
  const { url, kill } = await serve(t, dir)
  const agent = new Agent()
  t.teardown(async () => { await agent.destroy() })
  const api = new Api(url, agent)
  const token = await api.login(`round-${index}`)
  await api.call('PUT', '/v1/queues/q', { token })
  let killed = false
  let shown = 0
  const watchTrace = async (): Promise<void> => {
    let after = 0
    while (!killed) {
      const { events, next } = (await api.call('GET', `/v1/trace?after=${after}&timeout=5`)).json as TraceResponse
      after = next
      for (const event of events) {
        if (event.type !== 'send' || event.messageId === undefined || event.correlationId === undefined) continue
        see(seen, problems, event.messageId, event.correlationId, 'trace')
        if (++shown === killAfter) {
          killed = true
          await kill()
          return
        }
      }
    }
  }
  const send = async (sender: number): Promise<void> => {
    for (let n = 0; !killed; n++) {
      const tag = `r${index}-s${sender}-${n}`
      const reply = await api.call('POST', `/v1/queues/q/messages?correlationId=${tag}`, { token, body: tag + PAD })
      if (reply.status !== 201) throw new Error(`send ${tag}: ${reply.status} ${reply.text}`)
      see(seen, problems, (reply.json as SendResponse).id, tag, 'send answer')
    }
  }
  const senders = Array.from({ length: SENDERS }, async (_, sender) => {
    // Once killed, the requests in flight fail: that is the point.
    await send(sender).catch((error: unknown) => { if (!killed) throw error })
  })
  await Promise.all([watchTrace(), ...senders])
}

/** Every message in q, by id, with its tag (its correlation id) and its payload. */
async function contents (api: Api, token: string): Promise<Map<number, { tag: string, payload: string }>> {
  await api.call('PUT', '/v1/session/subscriptions/q', { token })
  const found = new Map<number, { tag: string, payload: string }>()
  for (let after = 0; ;) {
    const { messages, next } = (await api.call('GET', `/v1/transfer?after=${after}&timeout=0`, { token })).json as TransferResponse
    if (messages.length === 0) return found
    for (const message of messages) found.set(message.id, { tag: message.correlationId ?? '', payload: message.payload })
    after = next
  }
}

t.test('no id the trace or an answer showed before kill -9 names another message after it', async (t) => {
  const dir = tempDir(t)
  const seen: Seen = new Map()
  const problems: string[] = []
  for (let index = 0; index < ROUNDS; index++) {
    await round(t, dir, index, 20 + 37 * index, seen, problems)
    const { url, kill } = await serve(t, dir)
    const agent = new Agent()
    const api = new Api(url, agent)
    const token = await api.login('checker')
    const held = await contents(api, token)
    for (const [id, tag] of seen) {
      const message = held.get(id)
      if (message === undefined) problems.push(`round ${index}: id ${id} (${tag}) is gone`)
      else if (message.tag !== tag || message.payload !== tag + PAD) problems.push(`round ${index}: id ${id} was ${tag}, now holds ${message.tag}`)
    }
    const after = (await api.call('POST', '/v1/queues/q/messages?correlationId=after', { token, body: 'after' })).json as SendResponse
    if (after.id <= Math.max(...seen.keys())) problems.push(`round ${index}: a send after the restart got id ${after.id}, seen before`)
    // It is acked, so that the next round's check sees only what the rounds sent.
    await api.call('DELETE', `/v1/messages/${after.id}`, { token })
    await api.call('DELETE', '/v1/session', { token })
    await agent.destroy()
    await kill()
  }
  t.ok(seen.size > ROUNDS * 20, `${seen.size} ids seen over ${ROUNDS} crashes`)
  t.same(problems, [], 'every id seen names the same message after every crash')
})
