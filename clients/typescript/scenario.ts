// scenario URL: runs the shared scenario (clients/scenario.md), one `ok STEP` or `not ok STEP: why` line per step.
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { SwitchClient, SwitchRequestError, messageBody, type Message } from '../../lib/index.js'
import { upper } from './upper.js'

const LANG = 'typescript'
const BASE = `scn-${LANG}-${process.pid}`
const TOPICS = `scn/${LANG}-${process.pid}`
/** How long the library's rpc keeps its reply stream open after the last call (a request in flight). */
const RPC_LINGER_MS = 1000

class Failed extends Error {}

function check (condition: boolean, reason: string): asserts condition {
  if (!condition) throw new Failed(reason)
}

const url = process.argv[2]
if (url === undefined) {
  process.stderr.write('usage: scenario URL\n')
  process.exit(2)
}
const client = new SwitchClient({ url, client: `scenario-${LANG}:${process.pid}`, retryFor: 10_000 })
const queue = `${BASE}-q`
const rpcQueue = `${BASE}-rpc`
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
let passed = true

async function step (name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run()
    process.stdout.write(`ok ${name}\n`)
  } catch (error) {
    passed = false
    const reason = error instanceof Error ? error.message : String(error)
    process.stdout.write(`not ok ${name}: ${reason.replace(/\s+/g, ' ')}\n`)
  }
}

/** The next `count` messages of `name` (transfers return every subscribed queue's). */
async function receive (name: string, count: number, after = 0, waitMs = 5000): Promise<Message[]> {
  const found: Message[] = []
  const deadline = Date.now() + waitMs
  while (found.length < count) {
    const remaining = deadline - Date.now()
    check(remaining > 0, `${found.length} of ${count} messages arrived in ${name} within ${waitMs} ms`)
    const answer = await client.transfer({ after, timeout: Math.min(remaining, 1000) / 1000 })
    after = answer.next
    found.push(...answer.messages.filter((message) => message.queue === name))
  }
  return found
}

async function rpcServed (body: string, expected: string): Promise<void> {
  const service = client.serve(rpcQueue, upper)
  try {
    const reply = (await client.rpc(rpcQueue, body, { timeout: 10 })).toString()
    check(reply === expected, `replied ${JSON.stringify(reply)}`)
  } finally {
    await service.stop()
  }
}

await step('login', async () => {
  check((await client.login()).token !== '', 'no token')
})

await step('queues', async () => {
  await client.createQueue(queue)
  const names = (await client.list({ prefix: BASE })).map((info) => info.name)
  check(names.includes(queue), 'the list does not show the queue')
  const info = await client.queue(queue)
  check(info.name === queue && info.kind === 'persistent', `get answered ${JSON.stringify(info)}`)
})

await step('send-transfer-ack', async () => {
  await client.subscribe(queue)
  for (const body of ['one', 'two', 'three']) await client.send(queue, body)
  const messages = await receive(queue, 3)
  const bodies = messages.map((message) => messageBody(message).toString())
  check(bodies.join() === 'one,two,three', `received ${bodies.join()}`)
  const ids = messages.map((message) => message.id)
  check(ids.every((id, i) => i === 0 || id > ids[i - 1]), `ids not increasing: ${ids.join()}`)
  for (const id of ids) await client.ack(id)
  const rest = await client.transfer({ after: ids[ids.length - 1], timeout: 0.1 })
  check(rest.messages.length === 0, `${rest.messages.length} messages after the last one`)
})

await step('binary', async () => {
  const sent = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte))
  await client.send(queue, sent)
  const [message] = await receive(queue, 1)
  check(messageBody(message).equals(sent), `received ${messageBody(message).length} other bytes`)
  await client.ack(message.id)
})

await step('missing-queue', async () => {
  const error = await client.send(`${BASE}-missing`, 'lost').then(() => undefined, (error: unknown) => error)
  check(error !== undefined, 'the send succeeded')
  check(error instanceof SwitchRequestError && error.status === 404 && error.code === 'queue_not_found', String(error))
})

await step('publish-bind', async () => {
  const topicQueue = `${BASE}-topic`
  await client.createQueue(topicQueue)
  await client.bind(topicQueue, `${TOPICS}/+`)
  await client.subscribe(topicQueue)
  await client.publish(`${TOPICS}/x`, 'hi')
  const [message] = await receive(topicQueue, 1)
  check(messageBody(message).toString() === 'hi' && message.topic === `${TOPICS}/x`, `received ${JSON.stringify(message)}`)
  await client.ack(message.id)
})

await step('rpc', async () => {
  await rpcServed('hello', 'HELLO')
})

await step('session-expiry', async () => {
  const epoch = client.sessionEpoch
  await sleep(RPC_LINGER_MS + 3500)
  await client.send(queue, 'after expiry')
  check(client.sessionEpoch > epoch, 'the session did not expire: no new login')
  await rpcServed('again', 'AGAIN')
})

await step('restart', async () => {
  process.stdout.write('ready-for-restart\n')
  check((await lines.next()).done !== true, 'stdin closed before go')
  const after = `${BASE}-after`
  await client.createQueue(after)
  await client.subscribe(after)
  await client.send(after, 'back')
  const [message] = await receive(after, 1)
  check(messageBody(message).toString() === 'back', `received ${JSON.stringify(message.payload)}`)
})

await client.close()
process.stdin.destroy()
process.exitCode = passed ? 0 : 1
// Let stdout drain before the process ends.
if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain')
