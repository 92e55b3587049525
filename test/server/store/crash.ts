// kill -9 at a random moment under load, start again on the same store, and check that everything answered as
// done survived: every message whose send returned an id is there exactly once or was acked, nothing acked came
// back, and ids go on above every id seen before. Then an RPC across a crash. Each store's crash-*.test.ts runs
// it with the flags that start a switch on that store.
import type { Test } from 'tap'
import { Agent } from 'undici'
import type { CreateQueueResponse, Diagnostics, SendResponse, TransferResponse } from '../../../protocol/wire.js'
import { Api, codeOf, waitingOn } from '../http/fixtures.js'
import { startSwitch, type Cli } from '../../cli/spawn.js'
import { seedFor } from '../../seed.js'

export interface CrashedStore {
  name: string
  /** kill -9 and start again this many times. */
  rounds: number
  /** The flags of `switch serve` for a store of the test's own (a data directory, a redis-server), made once per test. */
  flags: (t: Test) => Promise<string[]>
}

/** Each round crashes after a random number of answered changes in this range. */
const CRASH_AFTER = [20, 200] as const

/** mulberry32: a small seeded generator, so that a failing run can be replayed with its seed. */
function random (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
}

/** What the clients were told, over all rounds. Payloads are unique tags, so a message tells which send it is. */
class Ledger {
  /** Every send tried: tag -> queue. */
  readonly tried = new Map<string, string>()
  /** Sends answered with an id: id -> tag. */
  readonly sent = new Map<number, string>()
  /** Sends answered with an error: these must never show up. */
  readonly refused = new Set<string>()
  readonly ackTried = new Set<number>()
  readonly acked = new Set<number>()
  /** Keyed sends (the callers' requests) that got no answer before the crash: tag -> who sent it. */
  readonly unanswered = new Map<string, Caller>()
  /** The highest id any answer showed. */
  highest = 0

  see (id: number): void {
    if (id > this.highest) this.highest = id
  }
}

/** One switch process and the clients working on it until it is killed. */
class Round {
  readonly api: Api
  private readonly agent = new Agent()
  private answered = 0
  killed = false

  constructor (readonly process: Cli, url: string, private readonly crashAfter: number) {
    this.api = new Api(url, this.agent)
  }

  /** Counts an answered change; the one that reaches the round's number kills the switch on the spot. */
  done (): void {
    if (++this.answered === this.crashAfter) {
      this.killed = true
      this.process.child.kill('SIGKILL')
    }
  }

  async close (): Promise<void> {
    await this.agent.destroy()
  }
}

interface Caller {
  token: string
  replyQueue: string
}

async function loop (round: Round, body: () => Promise<void>): Promise<void> {
  while (!round.killed) {
    try {
      await body()
    } catch (error) {
      // Once killed, every request in flight fails: that is the point. Before, a failure is a finding.
      if (round.killed) return
      throw error
    }
  }
}

async function newCaller (api: Api, name: string): Promise<Caller> {
  const token = await api.login(name)
  const replyQueue = ((await api.call('POST', '/v1/queues', { token })).json as CreateQueueResponse).name
  await api.call('PUT', `/v1/session/subscriptions/${replyQueue}`, { token })
  await api.call('PUT', '/v1/queues/svc', { token })
  return { token, replyQueue }
}

/** Sends requests to svc, up to four at once, each with its tag as idempotency key. */
async function request (round: Round, ledger: Ledger, caller: Caller, tag: string): Promise<void> {
  ledger.tried.set(tag, 'svc')
  ledger.unanswered.set(tag, caller)
  const reply = await round.api.call('POST', `/v1/queues/svc/messages?replyTo=${caller.replyQueue}&correlationId=${tag}`, {
    token: caller.token, body: tag, headers: { 'idempotency-key': tag }
  })
  if (reply.status !== 201) throw new Error(`request ${tag}: ${reply.status} ${reply.text}`)
  const { id } = reply.json as SendResponse
  ledger.unanswered.delete(tag)
  ledger.sent.set(id, tag)
  ledger.see(id)
  round.done()
}

async function ack (round: Round, ledger: Ledger, token: string, id: number): Promise<void> {
  ledger.ackTried.add(id)
  const reply = await round.api.call('DELETE', `/v1/messages/${id}`, { token })
  if (reply.status === 204) {
    ledger.acked.add(id)
    round.done()
  } else if (codeOf(reply) !== 'message_not_found') {
    throw new Error(`ack ${id}: ${reply.status} ${reply.text}`)
  }
}

/** Reads its replies and acks them. */
async function readReplies (round: Round, ledger: Ledger, caller: Caller): Promise<void> {
  let after = 0
  await loop(round, async () => {
    const reply = await round.api.call('GET', `/v1/transfer?after=${after}&timeout=1`, { token: caller.token })
    const { messages, next } = reply.json as TransferResponse
    after = next
    for (const message of messages) {
      ledger.see(message.id)
      await ack(round, ledger, caller.token, message.id)
    }
  })
}

/** Serves svc: replies and acks in one step, or only acks. Both servers see every request; one of them wins. */
async function serve (round: Round, ledger: Ledger, name: string, next: () => number): Promise<void> {
  const token = await round.api.login(name)
  await round.api.call('PUT', '/v1/session/subscriptions/svc', { token })
  let after = 0
  let replies = 0
  await loop(round, async () => {
    const polled = await round.api.call('GET', `/v1/transfer?after=${after}&timeout=1&max=20`, { token })
    const { messages, next: cursor } = polled.json as TransferResponse
    after = cursor
    for (const message of messages) {
      ledger.see(message.id)
      if (next() < 0.3 || message.replyTo === undefined) {
        await ack(round, ledger, token, message.id)
        continue
      }
      const tag = `${name}.${++replies}`
      ledger.tried.set(tag, message.replyTo)
      ledger.ackTried.add(message.id)
      const reply = await round.api.call('POST', `/v1/queues/${message.replyTo}/messages?ack=${message.id}&correlationId=${message.correlationId ?? ''}`, { token, body: tag })
      if (reply.status === 201) {
        const { id } = reply.json as SendResponse
        ledger.sent.set(id, tag)
        ledger.see(id)
        ledger.acked.add(message.id)
        round.done()
      } else if (codeOf(reply) === 'message_not_found') {
        // The other server answered first: this reply must not exist.
        ledger.refused.add(tag)
      } else if (codeOf(reply) === 'queue_not_found') {
        ledger.refused.add(tag)
        await ack(round, ledger, token, message.id)
      } else {
        throw new Error(`reply ${tag}: ${reply.status} ${reply.text}`)
      }
    }
  })
}

/** Checks the switch against the ledger: nothing answered as done is missing, nothing undone is there. */
async function check (t: Test, api: Api, ledger: Ledger, callers: Caller[]): Promise<void> {
  const diagnostics = (await api.call('GET', '/v1/diagnostics')).json as Diagnostics
  const present = new Map<number, { queue: string, tag: string }>()
  const byTag = new Map<string, number>()
  const problems: string[] = []
  for (const queue of diagnostics.queues) {
    for (const message of queue.messages) {
      const tag = message.preview
      if (present.has(message.id)) problems.push(`id ${message.id} is there twice`)
      present.set(message.id, { queue: queue.name, tag })
      if (byTag.has(tag)) problems.push(`${tag} is there twice (ids ${byTag.get(tag) ?? ''} and ${message.id})`)
      byTag.set(tag, message.id)
      if (ledger.tried.get(tag) !== queue.name) problems.push(`${tag} (id ${message.id}) in ${queue.name} was never sent there`)
      if (ledger.refused.has(tag)) problems.push(`${tag} was refused yet is there`)
      if (ledger.acked.has(message.id)) problems.push(`acked ${message.id} is back`)
      const answered = ledger.sent.get(message.id)
      if (answered !== undefined && answered !== tag) problems.push(`id ${message.id} holds ${tag}, its send was ${answered}`)
    }
  }
  for (const [id, tag] of ledger.sent) {
    if (!ledger.acked.has(id) && !present.has(id) && !ledger.ackTried.has(id)) problems.push(`${tag} (id ${id}) is lost`)
  }
  const queues = new Set(diagnostics.queues.map((queue) => queue.name))
  for (const caller of callers) {
    if (!queues.has(caller.replyQueue)) problems.push(`reply queue ${caller.replyQueue} is gone`)
    if ((await api.call('GET', '/v1/session', { token: caller.token })).status !== 200) problems.push('a session is gone')
  }
  t.same(problems, [], `${present.size} messages as answered`)
}

export function crashTests (t: Test, store: CrashedStore): void {
  t.test(`${store.name}: kill -9 under load, ${store.rounds} times, loses nothing answered as done`, async (t) => {
    await crashes(t, store)
  })
  t.test(`${store.name}: an RPC started before a crash completes after it`, async (t) => {
    await rpcAcrossCrash(t, store)
  })
}

async function crashes (t: Test, store: CrashedStore): Promise<void> {
  const seed = seedFor(t, 20240610) // it picks the crash points
  const crashPoint = random(seed)
  const next = random(seed + 1)
  const flags = await store.flags(t)
  const ledger = new Ledger()
  const callers: Caller[] = []
  let started = await startSwitch(t, flags)
  for (let number = 1; number <= store.rounds; number++) {
    const crashAfter = CRASH_AFTER[0] + Math.floor(crashPoint() * (CRASH_AFTER[1] - CRASH_AFTER[0]))
    const round = new Round(started.server, started.url, crashAfter)
    const fresh = await Promise.all([newCaller(round.api, `caller-${number}a`), newCaller(round.api, `caller-${number}b`)])
    callers.push(...fresh)
    let sent = 0
    const workers = [
      serve(round, ledger, `server-${number}a`, next),
      serve(round, ledger, `server-${number}b`, next),
      ...fresh.map(async (caller) => await readReplies(round, ledger, caller)),
      ...fresh.map(async (caller, index) => await loop(round, async () => {
        const burst = 1 + Math.floor(next() * 4)
        await Promise.all(Array.from({ length: burst }, async () => await request(round, ledger, caller, `r${number}.${index}.${++sent}`)))
      }))
    ]
    await Promise.all(workers)
    t.ok(round.killed, `round ${number}: killed after ${crashAfter} answered changes`)
    await round.process.result
    await round.close()

    started = await startSwitch(t, flags)
    const agent = new Agent()
    const api = new Api(started.url, agent)
    await check(t, api, ledger, callers)
    // The answers lost in the crash: a client sends again with the same key, and gets one message, not two.
    for (const [tag, caller] of ledger.unanswered) {
      const reply = await api.call('POST', `/v1/queues/svc/messages?replyTo=${caller.replyQueue}&correlationId=${tag}`, {
        token: caller.token, body: tag, headers: { 'idempotency-key': tag }
      })
      t.equal(reply.status, 201, `retry of ${tag}`)
      const { id, duplicate } = reply.json as SendResponse
      if (!duplicate && id <= ledger.highest) t.fail(`new id ${id} is not above ${ledger.highest}, the highest seen before the crash`)
      ledger.sent.set(id, tag)
      ledger.see(id)
    }
    ledger.unanswered.clear()
    const tag = `after-${number}`
    ledger.tried.set(tag, 'svc')
    const after = (await api.call('POST', '/v1/queues/svc/messages', { token: callers[0].token, body: tag })).json as SendResponse
    t.ok(after.id > ledger.highest, `round ${number}: ids go on above ${ledger.highest} (${after.id})`)
    ledger.sent.set(after.id, tag)
    ledger.see(after.id)
    await check(t, api, ledger, callers)
    await agent.close()
  }
  await started.server.kill()
}

async function rpcAcrossCrash (t: Test, store: CrashedStore): Promise<void> {
  const flags = await store.flags(t)
  const first = await startSwitch(t, flags)
  const agents = [new Agent(), new Agent()]
  t.teardown(async () => { await Promise.all(agents.map(async (agent) => { await agent.destroy() })) })
  let api = new Api(first.url, agents[0])
  const caller = await api.login('caller')
  const replyQueue = ((await api.call('POST', '/v1/queues', { token: caller })).json as CreateQueueResponse).name
  await api.call('PUT', `/v1/session/subscriptions/${replyQueue}`, { token: caller })
  await api.call('PUT', '/v1/queues/svc', { token: caller })
  const request = await api.call('POST', `/v1/queues/svc/messages?correlationId=rpc-1&replyTo=${replyQueue}`, { token: caller, body: 'what is 6 * 7?' })
  t.equal(request.status, 201)
  // The caller waits for its reply when the switch dies under it.
  const waiting = api.call('GET', '/v1/transfer?after=0&timeout=30', { token: caller }).then(() => undefined, (error: Error) => error)
  await waitingOn(api, replyQueue, 1)
  await first.server.kill()
  t.type(await waiting, Error, 'its long-poll broke off')

  const second = await startSwitch(t, flags)
  api = new Api(second.url, agents[1])
  const server = await api.login('server')
  await api.call('PUT', '/v1/session/subscriptions/svc', { token: server })
  const served = (await api.call('GET', '/v1/transfer?after=0&timeout=5', { token: server })).json as TransferResponse
  t.match(served.messages, [{ payload: 'what is 6 * 7?', correlationId: 'rpc-1', replyTo: replyQueue }])
  const { id, replyTo, correlationId } = served.messages[0]
  const answer = await api.call('POST', `/v1/queues/${replyTo ?? ''}/messages?correlationId=${correlationId ?? ''}&ack=${id}`, { token: server, body: '42' })
  t.equal(answer.status, 201, 'the server replies and acks')

  // The caller comes back with its old token, to its old reply queue.
  const reply = (await api.call('GET', '/v1/transfer?after=0&timeout=5', { token: caller })).json as TransferResponse
  t.match(reply.messages, [{ queue: replyQueue, payload: '42', correlationId: 'rpc-1', origin: 'server' }])
  t.equal((await api.call('DELETE', `/v1/messages/${reply.messages[0].id}`, { token: caller })).status, 204)
  const left = (await api.call('GET', '/v1/diagnostics')).json as Diagnostics
  t.same(left.queues.map((queue) => [queue.name, queue.messages.length]).sort(), [['svc', 0], [replyQueue, 0]].sort())
  await second.server.kill()
}
