import { customAlphabet, nanoid } from 'nanoid'
import {
  queueNameProblem,
  type CreateQueueResponse,
  type Diagnostics,
  type DiagnosticsMessage,
  type DiagnosticsQueue,
  type DiagnosticsSession,
  type QueueInfo,
  type QueueKind,
  type ReplyDropped,
  type SendResponse,
  type SendResult,
  type TraceEvent
} from '../../protocol/wire.js'
import { filterProblem, topicProblem, type BindResponse, type PublishResponse } from '../../protocol/topics.js'
import { Bindings } from './bindings.js'
import {
  ForbiddenError,
  InvalidQueueNameError,
  InvalidRequestError,
  MessageNotFoundError,
  PayloadTooLargeError,
  QueueNotFoundError,
  SessionNotFoundError,
  ShuttingDownError,
  StorageFailedError
} from './errors.js'
import { IdempotencyKeys } from './idempotency.js'
import { DEFAULT_LIMITS, Limits, type LimitOptions } from './limits.js'
import { Queue, type StoredMessage } from './queue.js'
import { RetainedMessages } from './retained.js'
import { ANONYMOUS, Session, sessionKey, type SessionKind } from './session.js'
import { filterMatches } from './topics.js'
import { TraceLog } from './trace.js'
import type { Observation, QueueDepth } from './observe.js'
import { AnswerBudget, withinBudget } from './budget.js'
import { REAL_TIMERS, type Cancel, type Timers } from './timers.js'
import { Waiter, type WaiterRegistry } from './waiter.js'
import { MemoryStore } from '../store/memory.js'
import type { Snapshot, Store, StoreRecord } from '../store/store.js'

export interface SwitchOptions extends LimitOptions {
  /** Milliseconds a session lives after its last request. */
  sessionTtl: number
  maxPayload: number
  /** The longest a transfer may wait, in milliseconds; longer requests are capped to it. */
  maxTimeout: number
  /** The most messages one transfer returns. */
  maxTransfer: number
  /**
   * The most bytes one answer encodes, as its caller measures them (see TransferOptions.size): fewer messages and a
   * `next` that continues, never an answer so large that it cannot be built. At least one message always goes.
   */
  maxAnswerBytes: number
  /**
   * How long an idempotency key is remembered, in milliseconds: longer than a client keeps retrying (the
   * library's retryFor is 30 s by default).
   */
  idempotencyWindow: number
  /** The most idempotency keys remembered (per kind: sends, publishes); past it the oldest are forgotten early. */
  maxIdempotencyKeys: number
  traceCapacity: number
  store: Store
  now: () => number
  timers: Timers
}

export const DEFAULT_SWITCH_OPTIONS: Omit<SwitchOptions, 'store' | 'now' | 'timers'> = {
  ...DEFAULT_LIMITS,
  sessionTtl: 30_000,
  maxPayload: 1024 * 1024,
  maxTimeout: 300_000,
  maxTransfer: 1000,
  maxAnswerBytes: 4 * 1024 * 1024,
  // Every send of the client library carries a key: at 20,000 sends/s a 10-minute window held 24 million of
  // them. A minute outlasts any retry, and the cap bounds memory whatever the rate.
  idempotencyWindow: 60_000,
  maxIdempotencyKeys: 200_000,
  traceCapacity: 1000
}

export interface SendOptions {
  correlationId?: string
  replyTo?: string
  error?: boolean
  idempotencyKey?: string
  /** Ack this message in the same step: a server's reply to the request it answers. */
  ack?: number
}

export interface PublishOptions {
  /** Keep it as the topic's retained message (an empty payload clears that instead). */
  retain?: boolean
  idempotencyKey?: string
}

export interface TransferOptions {
  after: number
  /** Milliseconds to wait when nothing is there yet; 0 answers at once. */
  timeout: number
  max?: number
  signal?: AbortSignal
  /** Watch these queues instead of the session's subscriptions (a protocol that names them on every call). */
  queues?: string[]
  /**
   * Bytes a message takes in the caller's encoding of the answer; with it, the answer holds no more than
   * maxAnswerBytes of them (but always one). Only what is answered is traced as delivered.
   */
  size?: (message: StoredMessage) => number
}

export interface TransferResult {
  messages: StoredMessage[]
  next: number
}

/** A queue with its whole messages, for the original protocols' diagnostics. */
export interface QueueContents {
  name: string
  kind: QueueKind
  /** The deadline of the latest long-poll on it; absent if never polled. */
  nextTransferExpected?: number
  /** How many `messages` yields. */
  length: number
  /** Its messages in id order, read as they are encoded: a listing is cut to the answer's budget, never copied whole. */
  messages: Iterable<StoredMessage>
}

/** A trace event held back until its change is durable (see `persist`), with the message it is about. */
interface Traced {
  event: Omit<TraceEvent, 'id'>
  subject?: StoredMessage
}

const PREVIEW_BYTES = 80
const temporaryName = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 12)

function describeMessage (message: StoredMessage, now: number): DiagnosticsMessage {
  const described: DiagnosticsMessage = {
    id: message.id,
    origin: message.origin,
    time: message.time,
    age: now - message.time,
    size: message.payload.length,
    preview: message.payload.subarray(0, PREVIEW_BYTES).toString('utf8')
  }
  if (message.correlationId !== undefined) described.correlationId = message.correlationId
  if (message.replyTo !== undefined) described.replyTo = message.replyTo
  return described
}

/**
 * The switch itself: queues, sessions, subscriptions and long-polls, knowing nothing of HTTP. Every change is
 * applied in memory, handed to the store, and reported done only once the store says it is durable; waiters
 * are woken after that, so nobody sees a message whose send could still fail.
 */
export class Switch {
  readonly options: SwitchOptions
  readonly startTime: number
  private readonly store: Store
  private readonly queues = new Map<string, Queue>()
  private readonly sessions = new Map<string, Session>()
  /** Which queue holds each unacked message, for ack by id. */
  private readonly messageQueue = new Map<number, Queue>()
  private readonly waiters: WaiterRegistry = new Map()
  /** Delivery streams out of credit, by the unacked messages whose going gives it back (see `untilRemoved`). */
  private readonly removalWaiters = new Map<number, Set<Waiter>>()
  private idempotency = new IdempotencyKeys()
  private readonly bindings = new Bindings()
  private readonly retained = new RetainedMessages()
  /** The ids each keyed publish made, by topic and key. */
  private publishKeys = new IdempotencyKeys<number[]>()
  readonly trace: TraceLog
  private readonly limits: Limits
  /** Payload bytes held by all queues, for the maxQueuedBytes limit. */
  private queuedBytes = 0
  private lastId = 0
  /** Messages dropped for want of their queue (sendOrDrop, dropReply), for diagnostics. */
  private dropped = 0
  /** The highest message id known durable: transfers show nothing beyond it, as its send may still fail. */
  private durableId = 0
  /** The latest write the store has not answered yet (see `caughtUp`). */
  private unsettled: Promise<void> | undefined
  /** The failure already rolled back, so that the other writes of its batch do not roll back again. */
  private lastFailure: unknown
  /** A rollback could not read the store back: memory may hold failed changes until one can. */
  private needsRollback = false
  private stopping = false
  private readonly stopSweeper: Cancel

  constructor (options: Partial<SwitchOptions> = {}) {
    this.options = { ...DEFAULT_SWITCH_OPTIONS, store: new MemoryStore(), now: Date.now, timers: REAL_TIMERS, ...options }
    this.store = this.options.store
    this.trace = new TraceLog(this.options.traceCapacity)
    this.limits = new Limits(this.options)
    this.startTime = this.options.now()
    this.restore(this.store.load())
    // Leases are checked a few times per TTL: a session ends between 1 and 1.25 TTLs after its last request.
    const sweepEvery = Math.max(10, Math.min(1000, this.options.sessionTtl / 4))
    this.stopSweeper = this.options.timers.every(sweepEvery, () => { this.sweep() })
  }

  get shuttingDown (): boolean {
    return this.stopping
  }

  get storeInfo (): { kind: string, location?: string } {
    return this.store.location === undefined
      ? { kind: this.store.kind }
      : { kind: this.store.kind, location: this.store.location }
  }

  private now (): number {
    return this.options.now()
  }

  /**
   * Hands a change already made in memory to the store; resolves once it is durable. If the store fails, memory
   * is put back to what the store holds (the first failed write of a batch does it for the batch), so nothing
   * of the change stays, and the request fails with storage_failed. The change's trace events are recorded
   * only once it is durable: an id the trace shows names its message for ever, even across kill -9.
   */
  private async persist (record: StoreRecord, traced: Traced[] = []): Promise<void> {
    if (this.needsRollback) {
      this.rollBack()
      throw new StorageFailedError('the store cannot be read back')
    }
    const pending = this.store.write(record)
    if (pending === undefined) {
      this.record(traced)
      return
    }
    this.unsettled = pending
    const started = performance.now()
    try {
      await pending
      this.trace.tally.commits.observe((performance.now() - started) / 1000)
      // Writes settle in order and so do their awaits: the trace keeps the order of the changes.
      this.record(traced)
    } catch (error) {
      if (error !== this.lastFailure) {
        this.lastFailure = error
        this.rollBack()
      }
      throw new StorageFailedError(error instanceof Error ? error.message : String(error))
    } finally {
      if (this.unsettled === pending) this.unsettled = undefined
    }
  }

  private record (traced: Traced[]): void {
    for (const { event, subject } of traced) this.trace.record(event, subject)
  }

  private rollBack (): void {
    try {
      this.restore(this.store.load())
      this.needsRollback = false
    } catch {
      this.needsRollback = true
    }
  }

  /**
   * Waits until every change made so far is durable or undone. An answer that changes nothing ("exists
   * already", "already subscribed", a retried send) stands on an earlier change: it must wait for it, then look
   * again. Stores complete writes in order, so the latest one settling means all have.
   */
  private async caughtUp (): Promise<void> {
    await this.unsettled?.catch(() => {})
  }

  // Sessions

  /** A new session for `client`, acting as `principal` (authenticated by the caller). */
  async login (client: string, principal = ANONYMOUS): Promise<Session> {
    return await this.startSession(nanoid(), client, principal)
  }

  /**
   * The session of a token the client chose, started if there is none: in the original protocols a client logs
   * several connections in with one token (its program name and PID) and they share one session.
   */
  async loginWithToken (token: string, principal = ANONYMOUS): Promise<Session> {
    this.refuseIfStopping()
    const key = sessionKey('original', token)
    return this.sessions.get(key) ?? await this.startSession(key, token, principal)
  }

  /** False once the session has ended (logout, expiry), for a caller that kept the object. */
  isCurrent (session: Session): boolean {
    return this.sessions.get(session.token) === session
  }

  private async startSession (token: string, client: string, principal: string): Promise<Session> {
    this.refuseIfStopping()
    if (client.length === 0 || client.length > 200) {
      throw new InvalidRequestError('client name must be 1 to 200 characters', 'client')
    }
    const session = new Session(token, client, principal, this.now())
    this.sessions.set(session.token, session)
    await this.persist({ type: 'session', token: session.token, client, principal }, [{ event: { time: this.now(), type: 'login', client } }])
    return session
  }

  /**
   * Looks a session up for a request and holds its lease until `leave`. `token` is the session's key; a session
   * of another kind is not found (an original client's token is no /v1 bearer token).
   */
  enter (token: string, kind: SessionKind = 'v1'): Session {
    const session = this.sessions.get(token)
    if (session === undefined || session.kind !== kind) throw new SessionNotFoundError()
    session.holds++
    session.lastActivity = this.now()
    return session
  }

  leave (session: Session): void {
    session.holds--
    session.lastActivity = this.now()
  }

  async logout (session: Session): Promise<void> {
    if (!this.isCurrent(session)) throw new SessionNotFoundError()
    await this.persist({ type: 'session_end', token: session.token }, this.endSession(session))
  }

  /** Ends the session in memory; returns its trace events, to record once that is durable. */
  private endSession (session: Session): Traced[] {
    const traced: Traced[] = []
    this.sessions.delete(session.token)
    for (const waiter of [...session.waiters]) waiter.settle([])
    for (const name of session.queues) {
      const queue = this.queues.get(name)
      if (queue !== undefined) traced.push(this.removeQueue(queue, session.client))
    }
    traced.push({ event: { time: this.now(), type: 'session_end', client: session.client } })
    return traced
  }

  // Queues

  private checkName (name: string, field?: string): void {
    const problem = queueNameProblem(name)
    if (problem !== undefined) throw new InvalidQueueNameError(problem, field)
  }

  private queue (name: string): Queue {
    const queue = this.queues.get(name)
    if (queue === undefined) throw new QueueNotFoundError(name)
    return queue
  }

  /**
   * A session's temporary queues are its own, whatever else allows: no other session may receive from them,
   * ack in them, bind, unbind or destroy them. (Anyone may send to one: a reply; its random name is the capability.)
   */
  private checkOwner (session: Session | undefined, queue: Queue, doing: string): void {
    if (queue.owner === undefined || session === undefined || queue.owner === session.token) return
    throw new ForbiddenError(`queue ${JSON.stringify(queue.name)} is another session's temporary queue: only its owner may ${doing} it`)
  }

  /** True for a temporary queue: its owner may do anything with it, others only send to it (see checkOwner). */
  isTemporary (name: string): boolean {
    return this.queues.get(name)?.owner !== undefined
  }

  /**
   * The queue a send needs permission for: none for a reply (`ack`) to a queue that is gone, as its caller went
   * with it; the switch drops that reply and acks the request, which needs receive on the request's queue.
   */
  sendTarget (name: string, ack: number | undefined): string | undefined {
    return ack !== undefined && !this.queues.has(name) ? undefined : name
  }

  /** The queue holding unacked message `id`, if one does (to check that an ack may touch it). */
  queueOfMessage (id: number | undefined): string | undefined {
    return id === undefined ? undefined : this.messageQueue.get(id)?.name
  }

  /** Throws ForbiddenError if message `id` is in another session's temporary queue (an ack may not remove it). */
  checkAck (session: Session, id: number): void {
    const queue = this.messageQueue.get(id)
    if (queue !== undefined) this.checkOwner(session, queue, 'ack messages in')
  }

  async createQueue (session: Session, name: string): Promise<CreateQueueResponse> {
    this.refuseIfStopping()
    this.checkName(name)
    if (this.queues.has(name)) await this.caughtUp()
    const existing = this.queues.get(name)
    if (existing !== undefined) return { name, kind: existing.kind, created: false }
    this.limits.allowQueue(this.queues.size)
    this.queues.set(name, new Queue(name, 'persistent'))
    await this.persist({ type: 'queue', name, kind: 'persistent' }, [{ event: { time: this.now(), type: 'create', client: session.client, queue: name } }])
    return { name, kind: 'persistent', created: true }
  }

  /**
   * A queue owned by the session, removed when the session ends. Its name is fresh unless the client chooses one
   * (the xapi protocol does); a chosen name that exists already is left as it is, as createQueue does.
   */
  async createTemporaryQueue (session: Session, chosen?: string): Promise<CreateQueueResponse> {
    this.refuseIfStopping()
    this.refuseIfEnded(session)
    let name: string
    if (chosen === undefined) {
      do name = `tmp-${temporaryName()}`; while (this.queues.has(name))
    } else {
      this.checkName(chosen)
      if (this.queues.has(chosen)) await this.caughtUp()
      const existing = this.queues.get(chosen)
      if (existing !== undefined) return { name: chosen, kind: existing.kind, created: false }
      name = chosen
    }
    this.limits.allowQueue(this.queues.size)
    this.limits.allowTemporaryQueue(session.queues.size)
    this.queues.set(name, new Queue(name, 'temporary', session.token))
    session.queues.add(name)
    await this.persist(
      { type: 'queue', name, kind: 'temporary', owner: session.token },
      [{ event: { time: this.now(), type: 'create', client: session.client, queue: name } }]
    )
    return { name, kind: 'temporary', created: true }
  }

  async destroy (session: Session | undefined, name: string): Promise<void> {
    this.checkName(name)
    const queue = this.queue(name)
    this.checkOwner(session, queue, 'destroy')
    await this.persist({ type: 'destroy', name }, [this.removeQueue(queue, session?.client)])
  }

  private removeQueue (queue: Queue, client: string | undefined): Traced {
    this.queues.delete(queue.name)
    this.queuedBytes -= queue.bytes
    for (const message of queue.messages()) {
      this.messageQueue.delete(message.id)
      this.removed(message.id)
    }
    this.bindings.removeQueue(queue.name)
    if (queue.owner !== undefined) this.sessions.get(queue.owner)?.queues.delete(queue.name)
    return { event: { time: this.now(), type: 'destroy', client, queue: queue.name } }
  }

  list (prefix: string, aliveOnly: boolean): QueueInfo[] {
    const now = this.now()
    const result: QueueInfo[] = []
    for (const queue of this.queues.values()) {
      if (!queue.name.startsWith(prefix)) continue
      const info = this.info(queue, now)
      if (aliveOnly && !info.alive) continue
      result.push(info)
    }
    return result.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  /** One queue, looked up by name: no scan of the others. */
  queueInfo (name: string): QueueInfo {
    this.checkName(name)
    return this.info(this.queue(name), this.now())
  }

  private info (queue: Queue, now: number): QueueInfo {
    const info: QueueInfo = { name: queue.name, kind: queue.kind, length: queue.length, alive: this.isAlive(queue, now) }
    const owner = this.ownerName(queue)
    if (owner !== undefined) info.owner = owner
    const filters = this.bindings.filtersOf(queue.name)
    if (filters.length > 0) info.bindings = filters
    return info
  }

  private isAlive (queue: Queue, now: number): boolean {
    if ((this.waiters.get(queue.name)?.size ?? 0) > 0) return true
    return queue.nextTransferExpected !== undefined && now <= queue.nextTransferExpected + this.options.sessionTtl
  }

  private ownerName (queue: Queue): string | undefined {
    return queue.owner === undefined ? undefined : this.sessions.get(queue.owner)?.shownClient
  }

  // Messages

  /**
   * Enqueues a message; with `ack`, acks that message in the same step. A reply (`ack`) to a queue that is gone
   * is not sent but still acks its request (see `dropReply`).
   */
  send (session: Session, queueName: string, payload: Buffer, options?: SendOptions & { ack?: undefined }): Promise<SendResponse>
  send (session: Session, queueName: string, payload: Buffer, options: SendOptions): Promise<SendResult>
  async send (session: Session, queueName: string, payload: Buffer, options: SendOptions = {}): Promise<SendResult> {
    this.refuseIfStopping()
    this.checkName(queueName)
    if (options.replyTo !== undefined) this.checkName(options.replyTo, 'replyTo')
    if (payload.length > this.options.maxPayload) throw new PayloadTooLargeError(this.options.maxPayload)
    const { idempotencyKey } = options
    // A retry is answered once the send it repeats is durable; should that one fail, this one is no retry.
    if (idempotencyKey !== undefined && this.idempotency.lookup(queueName, idempotencyKey, this.now()) !== undefined) {
      await this.caughtUp()
    }
    const queue = this.queues.get(queueName)
    if (queue === undefined) {
      const request = options.ack === undefined ? undefined : this.messageQueue.get(options.ack)
      if (request !== undefined) this.checkOwner(session, request, 'ack messages in')
      if (request !== undefined && options.ack !== undefined) return await this.dropReply(session, queueName, request, options.ack, options.correlationId)
      throw new QueueNotFoundError(queueName)
    }
    const now = this.now()
    if (idempotencyKey !== undefined) {
      const earlier = this.idempotency.lookup(queueName, idempotencyKey, now)
      if (earlier !== undefined) return { id: earlier, duplicate: true }
    }
    const acked = options.ack === undefined ? undefined : this.messageQueue.get(options.ack)
    if (options.ack !== undefined && acked === undefined) throw new MessageNotFoundError(options.ack)
    if (acked !== undefined) this.checkOwner(session, acked, 'ack messages in')
    this.limits.allowMessage(queueName, queue.length, this.queuedBytes, payload.length)

    const message: StoredMessage = { id: ++this.lastId, queue: queueName, payload, origin: session.client, time: now }
    if (options.correlationId !== undefined) message.correlationId = options.correlationId
    if (options.replyTo !== undefined) message.replyTo = options.replyTo
    if (options.error === true) message.error = true
    const traced: Traced[] = [this.enqueue(session, queue, message)]

    const record: StoreRecord & { type: 'send' } = { type: 'send', message }
    if (idempotencyKey !== undefined) {
      record.idempotencyKey = idempotencyKey
      record.idempotencyExpires = now + this.options.idempotencyWindow
      this.idempotency.remember(queueName, idempotencyKey, message.id, record.idempotencyExpires)
    }
    let reply: Traced | undefined
    if (acked !== undefined && options.ack !== undefined) {
      record.ack = options.ack
      reply = this.removeMessage(acked, options.ack, session, now)
      traced.push(reply)
    }
    await this.persist(record, traced)
    this.delivered([message])
    if (reply?.event.processingTime !== undefined) this.trace.tally.replies.observe(reply.event.processingTime / 1000)
    return { id: message.id, duplicate: false }
  }

  /**
   * A reply to a caller that is gone (its session ended, and its temporary reply queue with it): the request
   * was answered, so it is acked (else it would be delivered to the service again, for ever), and the reply,
   * which has nowhere to go, is dropped. One store record, the ack; the drop is traced and counted once it is
   * durable. No message is made, so the answer has no id.
   */
  private async dropReply (session: Session, queueName: string, request: Queue, id: number, correlationId: string | undefined): Promise<ReplyDropped> {
    const now = this.now()
    const drop: Omit<TraceEvent, 'id'> = { time: now, type: 'drop', client: session.client, queue: queueName }
    if (correlationId !== undefined) drop.correlationId = correlationId
    await this.persist({ type: 'ack', id }, [this.removeMessage(request, id, session, now), { event: drop }])
    this.dropped++
    return { dropped: true, acked: id }
  }

  /**
   * A send as the original protocols make it: a message to a queue that does not exist is dropped (undefined),
   * and the drop is traced so that it can be seen.
   */
  async sendOrDrop (session: Session, queueName: string, payload: Buffer, options: SendOptions = {}): Promise<SendResponse | undefined> {
    if (this.queues.has(queueName)) {
      const sent = await this.send(session, queueName, payload, options)
      return 'id' in sent ? sent : undefined
    }
    this.refuseIfStopping()
    this.dropped++
    this.trace.record({ time: this.now(), type: 'drop', client: session.client, queue: queueName })
    return undefined
  }

  /** Removes message `id`; given `queueName`, only if that queue holds it (the xapi protocol names both). */
  async ack (session: Session, id: number, queueName?: string): Promise<void> {
    const queue = this.messageQueue.get(id)
    if (queue === undefined || (queueName !== undefined && queue.name !== queueName)) throw new MessageNotFoundError(id)
    this.checkOwner(session, queue, 'ack messages in')
    await this.persist({ type: 'ack', id }, [this.removeMessage(queue, id, session, this.now())])
  }

  private removeMessage (queue: Queue, id: number, session: Session, now: number): Traced {
    const message = queue.remove(id)
    if (message !== undefined) this.queuedBytes -= message.payload.length
    this.messageQueue.delete(id)
    this.removed(id)
    const event: Omit<TraceEvent, 'id'> = { time: now, type: 'ack', client: session.client, queue: queue.name, messageId: id }
    if (message !== undefined) event.processingTime = now - message.time
    return { event }
  }

  private removed (id: number): void {
    const waiters = this.removalWaiters.get(id)
    if (waiters === undefined) return
    this.removalWaiters.delete(id)
    for (const waiter of waiters) waiter.settle([])
  }

  /**
   * Ids of the unacked messages of these queues with ids up to `after`, at most `max`: what a delivery stream
   * resumed at that cursor counts as delivered and not acked yet.
   */
  heldUpTo (session: Session, queues: Iterable<string>, after: number, max: number): number[] {
    const ids: number[] = []
    for (const name of queues) {
      const queue = this.queues.get(name)
      if (queue === undefined) continue
      // Refused here, before a stream's answer starts, as transfer would refuse it.
      this.checkOwner(session, queue, 'receive from')
      queue.idsUpTo(after, max, ids)
    }
    return ids.sort((a, b) => a - b).slice(0, max)
  }

  /** True while message `id` is unacked. */
  holds (id: number): boolean {
    return this.messageQueue.has(id)
  }

  /**
   * Waits until one of `ids` goes (acked, or its queue destroyed), `timeout` ms pass, the session ends or the
   * switch shuts down: a delivery stream out of credit waits here for its client's acks.
   */
  async untilRemoved (session: Session, ids: number[], timeout: number, signal: AbortSignal): Promise<void> {
    this.refuseIfEnded(session)
    if (this.stopping || signal.aborted || ids.some((id) => !this.messageQueue.has(id))) return
    await new Promise<void>((resolve) => {
      const onAbort = (): void => { waiter.settle([]) }
      // It watches no queue: only a removal, the timeout, the session's end or the shutdown settle it.
      const waiter = new Waiter(session, 0, this.waiters, () => [], false, () => {
        session.waiters.delete(waiter)
        signal.removeEventListener('abort', onAbort)
        for (const id of ids) {
          const waiters = this.removalWaiters.get(id)
          waiters?.delete(waiter)
          if (waiters?.size === 0) this.removalWaiters.delete(id)
        }
        resolve()
      })
      session.waiters.add(waiter)
      for (const id of ids) {
        let waiters = this.removalWaiters.get(id)
        if (waiters === undefined) this.removalWaiters.set(id, waiters = new Set())
        waiters.add(waiter)
      }
      waiter.expireAfter(timeout)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  // Subscriptions and transfer

  async subscribe (session: Session, name: string): Promise<void> {
    this.checkName(name)
    if (session.subscriptions.has(name)) await this.caughtUp()
    const queue = this.queue(name)
    this.checkOwner(session, queue, 'subscribe to')
    if (session.subscriptions.has(name)) return
    // Subscriptions are kept by name: a queue destroyed and created again keeps its subscribers.
    session.subscriptions.add(name)
    // A long-poll already waiting honours the new subscription.
    for (const waiter of session.waiters) {
      if (!waiter.followsSubscriptions) continue
      waiter.watch(name)
      if (queue.hasAfter(waiter.after)) waiter.wake()
    }
    await this.persist({ type: 'subscribe', token: session.token, queue: name })
  }

  async unsubscribe (session: Session, name: string): Promise<void> {
    this.checkName(name)
    if (!session.subscriptions.has(name)) await this.caughtUp()
    if (!session.subscriptions.delete(name)) return
    await this.persist({ type: 'unsubscribe', token: session.token, queue: name })
  }

  async transfer (session: Session, options: TransferOptions): Promise<TransferResult> {
    this.refuseIfEnded(session)
    const { after } = options
    const max = Math.min(options.max ?? this.options.maxTransfer, this.options.maxTransfer)
    const timeout = Math.min(options.timeout, this.options.maxTimeout)
    const now = this.now()
    // The subscriptions are read live, so a subscription added while the transfer waits counts.
    const names: Iterable<string> = options.queues === undefined ? session.subscriptions : new Set(options.queues)
    for (const name of names) {
      const queue = this.queues.get(name)
      if (queue === undefined) continue
      this.checkOwner(session, queue, 'receive from')
      queue.lastTransfer = now
      queue.nextTransferExpected = now + timeout
    }
    const { size } = options
    let messages = this.collect(names, after, max, size)
    if (messages.length === 0 && timeout > 0 && !this.stopping && options.signal?.aborted !== true) {
      this.limits.allowPoll(session.waiters.size)
      messages = await this.wait(session, names, options.queues === undefined, { after, max, timeout, signal: options.signal, size })
    }
    if (messages.length === 0) return { messages, next: after }
    const delivered = this.now()
    for (const message of messages) {
      this.trace.record({ time: delivered, type: 'deliver', client: session.client, queue: message.queue, messageId: message.id }, message)
    }
    return { messages, next: messages[messages.length - 1].id }
  }

  private collect (names: Iterable<string>, after: number, max: number, size?: (message: StoredMessage) => number): StoredMessage[] {
    const out: StoredMessage[] = []
    let sources = 0
    for (const name of names) {
      const queue = this.queues.get(name)
      if (queue === undefined) continue
      const before = out.length
      queue.collectAfter(after, max, out)
      if (out.length > before) sources++
    }
    if (sources > 1) {
      out.sort((a, b) => a.id - b.id)
      out.length = Math.min(out.length, max)
    }
    // Out of sight until its send is durable: it may yet fail and be undone.
    while (out.length > 0 && out[out.length - 1].id > this.durableId) out.pop()
    return size === undefined ? out : withinBudget(out, this.options.maxAnswerBytes, size)
  }

  private async wait (
    session: Session,
    names: Iterable<string>,
    followsSubscriptions: boolean,
    { after, max, timeout, signal, size }: {
      after: number, max: number, timeout: number, signal: AbortSignal | undefined, size: ((message: StoredMessage) => number) | undefined
    }
  ): Promise<StoredMessage[]> {
    return await new Promise((resolve) => {
      const onAbort = (): void => { waiter.settle([]) }
      const collect = (): StoredMessage[] => this.collect(names, after, max, size)
      const waiter = new Waiter(session, after, this.waiters, collect, followsSubscriptions, (messages) => {
        session.waiters.delete(waiter)
        signal?.removeEventListener('abort', onAbort)
        resolve(messages)
      })
      session.waiters.add(waiter)
      for (const name of names) waiter.watch(name)
      waiter.expireAfter(timeout)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private wake (queue: string): void {
    const waiters = this.waiters.get(queue)
    if (waiters === undefined) return
    for (const waiter of waiters) waiter.wake()
  }

  /** True while a long-poll waits on the queue: a message sent to it now is handed over at once. */
  awaited (queue: string): boolean {
    return this.waiters.has(queue)
  }

  // Topics

  private checkTopic (topic: string): void {
    const problem = topicProblem(topic)
    if (problem !== undefined) throw new InvalidRequestError(problem, 'topic')
  }

  private checkFilter (filter: string): void {
    const problem = filterProblem(filter)
    if (problem !== undefined) throw new InvalidRequestError(problem, 'filter')
  }

  /**
   * Copies the message into every queue bound to a filter that matches `topic`, once per queue however many of
   * its bindings match, in one step that is stored, or fails, as a whole. Nobody listening is no error: the
   * answer has no ids. With `retain`, it also becomes the topic's retained message (an empty payload clears it).
   */
  async publish (session: Session, topic: string, payload: Buffer, options: PublishOptions = {}): Promise<PublishResponse> {
    this.refuseIfStopping()
    this.checkTopic(topic)
    if (payload.length > this.options.maxPayload) throw new PayloadTooLargeError(this.options.maxPayload)
    const { idempotencyKey } = options
    // As for a send: a retry is answered once the publish it repeats is durable.
    if (idempotencyKey !== undefined && this.publishKeys.lookup(topic, idempotencyKey, this.now()) !== undefined) {
      await this.caughtUp()
    }
    const now = this.now()
    if (idempotencyKey !== undefined) {
      const earlier = this.publishKeys.lookup(topic, idempotencyKey, now)
      if (earlier !== undefined) return { ids: earlier, count: earlier.length, duplicate: true }
    }
    const queues = [...this.bindings.queuesFor(topic)].map((name) => this.queue(name))
    // All or nothing: one full queue refuses the publish before anything is copied.
    let bytes = this.queuedBytes
    for (const queue of queues) {
      this.limits.allowMessage(queue.name, queue.length, bytes, payload.length)
      bytes += payload.length
    }
    const traced = queues.map((queue) => this.enqueue(session, queue, {
      id: ++this.lastId, queue: queue.name, payload, origin: session.client, time: now, topic
    }))
    const messages = traced.map(({ subject }) => subject)
    const record: StoreRecord & { type: 'publish' } = { type: 'publish', topic, time: now, messages }
    if (options.retain === true) {
      record.retained = payload.length === 0 ? null : { topic, payload, origin: session.client, time: now }
      if (record.retained === null) this.retained.delete(topic)
      else this.retained.set(record.retained)
    }
    const ids = messages.map((message) => message.id)
    if (idempotencyKey !== undefined) {
      record.idempotencyKey = idempotencyKey
      record.idempotencyExpires = now + this.options.idempotencyWindow
      this.publishKeys.remember(topic, idempotencyKey, ids, record.idempotencyExpires)
    }
    await this.persist(record, traced)
    this.delivered(messages)
    return { ids, count: ids.length, duplicate: false }
  }

  /**
   * Binds a queue to a topic filter: publishes to matching topics are copied into it from now on, and so, at
   * once, are the retained messages of matching topics (but for those another of its bindings matches, which it
   * has had already). Binding again changes nothing.
   */
  async bind (session: Session, queueName: string, filter: string): Promise<BindResponse> {
    this.refuseIfStopping()
    this.checkName(queueName)
    this.checkFilter(filter)
    if (this.bindings.has(queueName, filter)) await this.caughtUp()
    const queue = this.queue(queueName)
    this.checkOwner(session, queue, 'bind')
    if (this.bindings.has(queueName, filter)) return { queue: queueName, filter, created: false, retained: 0 }
    const others = this.bindings.filtersOf(queueName)
    const retained = this.retained.matching(filter).filter((message) => !others.some((other) => filterMatches(other, message.topic)))
    let bytes = this.queuedBytes
    retained.forEach((message, i) => {
      this.limits.allowMessage(queueName, queue.length + i, bytes, message.payload.length)
      bytes += message.payload.length
    })
    this.bindings.add(queueName, filter)
    const traced = retained.map((message) => this.enqueue(session, queue, {
      id: ++this.lastId, queue: queueName, payload: message.payload, origin: message.origin, time: message.time, topic: message.topic, retained: true
    }))
    const messages = traced.map(({ subject }) => subject)
    await this.persist({ type: 'bind', queue: queueName, filter, messages }, traced)
    this.delivered(messages)
    return { queue: queueName, filter, created: true, retained: messages.length }
  }

  /** Removes a binding, if the queue has it; what it delivered already stays in the queue. */
  async unbind (session: Session | undefined, queueName: string, filter: string): Promise<void> {
    this.checkName(queueName)
    this.checkFilter(filter)
    if (!this.bindings.has(queueName, filter)) await this.caughtUp()
    this.checkOwner(session, this.queue(queueName), 'unbind')
    if (!this.bindings.delete(queueName, filter)) return
    await this.persist({ type: 'unbind', queue: queueName, filter })
  }

  /** A queue's topic filters, sorted. */
  bindingsOf (queueName: string): string[] {
    this.checkName(queueName)
    this.queue(queueName)
    return this.bindings.filtersOf(queueName)
  }

  /**
   * Puts a new message (a send's, or a publish's copy) in a queue, out of sight until `delivered`; returns its
   * 'send' event, about it, to record once it is durable.
   */
  private enqueue (session: Session, queue: Queue, message: StoredMessage): Traced & { subject: StoredMessage } {
    queue.push(message)
    this.queuedBytes += message.payload.length
    this.messageQueue.set(message.id, queue)
    const event: Omit<TraceEvent, 'id'> = { time: this.now(), type: 'send', client: session.client, queue: queue.name, messageId: message.id }
    if (message.correlationId !== undefined) event.correlationId = message.correlationId
    return { event, subject: message }
  }

  /** Once stored, messages (in id order) become visible and wake the long-polls of their queues. */
  private delivered (messages: StoredMessage[]): void {
    if (messages.length === 0) return
    this.durableId = Math.max(this.durableId, messages[messages.length - 1].id)
    for (const message of messages) this.wake(message.queue)
  }

  // Observation

  /**
   * Trace events after `after`, waiting up to `timeout` ms for one. With `size` (bytes an event takes in the
   * caller's encoding), no more than maxAnswerBytes of them, but always one.
   */
  async waitForTrace (
    after: number, timeout: number, max: number, signal?: AbortSignal, size?: (event: TraceEvent) => number
  ): Promise<{ events: TraceEvent[], next: number }> {
    const since = (): TraceEvent[] => {
      const events = this.trace.since(after, max)
      return size === undefined ? events : withinBudget(events, this.options.maxAnswerBytes, size)
    }
    let events = since()
    if (events.length === 0 && timeout > 0 && !this.stopping && signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer)
          stop()
          signal?.removeEventListener('abort', finish)
          resolve()
        }
        const timer = setTimeout(finish, Math.min(timeout, this.options.maxTimeout))
        const stop = this.trace.listen(finish)
        signal?.addEventListener('abort', finish, { once: true })
      })
      events = since()
    }
    return { events, next: events.length === 0 ? Math.min(after, this.trace.lastId) : events[events.length - 1].id }
  }

  /** A message still held: sent (durably) and not yet acked. */
  message (id: number): StoredMessage | undefined {
    return id <= this.durableId ? this.messageQueue.get(id)?.get(id) : undefined
  }

  /**
   * A queue's messages that are durable. Like transfer, observers see no message whose send may still fail:
   * its id could name another message after a crash.
   */
  private * durableMessages (queue: Queue): Generator<StoredMessage> {
    for (const message of queue.messages()) {
      if (message.id > this.durableId) return
      yield message
    }
  }

  private durableLength (queue: Queue): number {
    return queue.length - queue.countAfter(this.durableId)
  }

  contents (): QueueContents[] {
    return [...this.queues.values()].map((queue) => {
      const entry: QueueContents = {
        name: queue.name, kind: queue.kind, length: this.durableLength(queue), messages: this.durableMessages(queue)
      }
      if (queue.nextTransferExpected !== undefined) entry.nextTransferExpected = queue.nextTransferExpected
      return entry
    })
  }

  /**
   * Everything the switch holds, for people. With `size` (bytes a part takes in the caller's encoding), no more
   * than maxAnswerBytes of it: the queues' own entries, the sessions and the retained topics first, then the
   * messages, queue by queue, while the budget lasts. What is left out is counted: `omitted`, and each queue's own.
   */
  diagnostics (size?: (part: object) => number): Diagnostics {
    const now = this.now()
    const budget = new AnswerBudget(size === undefined ? Infinity : this.options.maxAnswerBytes)
    const fits = (part: object): boolean => budget.take(size === undefined ? 0 : size(part))
    const listed: Array<[Queue, DiagnosticsQueue]> = []
    for (const queue of this.queues.values()) {
      const entry = this.describeQueue(queue)
      if (!fits(entry)) break
      listed.push([queue, entry])
    }
    const sessions: DiagnosticsSession[] = []
    for (const session of this.sessions.values()) {
      const entry: DiagnosticsSession = {
        id: session.id,
        client: session.shownClient,
        principal: session.principal,
        subscriptions: [...session.subscriptions],
        queues: [...session.queues],
        lastActivity: session.lastActivity,
        inFlight: session.holds
      }
      if (!fits(entry)) break
      sessions.push(entry)
    }
    const retained = this.retained.all().map((message) => message.topic)
    const topics: string[] = []
    for (const topic of retained) {
      if (!fits([topic])) break
      topics.push(topic)
    }
    // A message's origin is its sender's client name: for an original client, its token; shown as its session is.
    const shownOrigins = new Map<string, string>()
    for (const session of this.sessions.values()) if (session.kind === 'original') shownOrigins.set(session.client, session.shownClient)
    let messages = 0
    for (const [queue, entry] of listed) {
      for (const message of this.durableMessages(queue)) {
        const described = describeMessage(message, now)
        described.origin = shownOrigins.get(message.origin) ?? message.origin
        if (!fits(described)) break
        entry.messages.push(described)
      }
      messages += entry.messages.length
      const durable = this.durableLength(queue)
      if (entry.messages.length < durable) entry.omitted = durable - entry.messages.length
    }
    const limits = this.limits.report(this.queues.values(), this.sessions.values(), this.queuedBytes)
    const diagnostics: Diagnostics = {
      startTime: this.startTime,
      now,
      dropped: this.dropped,
      store: this.storeInfo,
      limits,
      queues: listed.map(([, entry]) => entry),
      sessions,
      retained: { count: retained.length, topics }
    }
    if (budget.full) {
      diagnostics.omitted = {
        queues: this.queues.size - listed.length,
        sessions: this.sessions.size - sessions.length,
        messages: this.messageQueue.size - messages
      }
    }
    return diagnostics
  }

  /**
   * The figures metrics read at each scrape: one pass over the queues and sessions, no message read. Only the
   * `maxQueues` deepest queues are listed (a scrape's size, and the series it makes, stay bounded).
   */
  observation (maxQueues: number): Observation {
    const queues: QueueDepth[] = []
    for (const queue of this.queues.values()) {
      queues.push({ name: queue.name, depth: this.durableLength(queue), waiting: this.waiters.get(queue.name)?.size ?? 0 })
    }
    queues.sort((a, b) => b.depth - a.depth || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    if (queues.length > maxQueues) queues.length = maxQueues
    let waiting = 0
    for (const session of this.sessions.values()) waiting += session.waiters.size
    return {
      queues,
      queueCount: this.queues.size,
      sessions: this.sessions.size,
      waiting,
      limits: this.limits.report(this.queues.values(), this.sessions.values(), this.queuedBytes),
      tally: this.trace.tally
    }
  }

  private describeQueue (queue: Queue): DiagnosticsQueue {
    const entry: DiagnosticsQueue = { name: queue.name, kind: queue.kind, messages: [], waiting: this.waiters.get(queue.name)?.size ?? 0 }
    const owner = this.ownerName(queue)
    if (owner !== undefined) entry.owner = owner
    if (queue.lastTransfer !== undefined) entry.lastTransfer = queue.lastTransfer
    if (queue.nextTransferExpected !== undefined) entry.nextTransferExpected = queue.nextTransferExpected
    const filters = this.bindings.filtersOf(queue.name)
    if (filters.length > 0) entry.bindings = filters
    return entry
  }

  // Life cycle

  private refuseIfStopping (): void {
    if (this.stopping) throw new ShuttingDownError()
  }

  /**
   * For a Session object held past its end (a logout raced the request): nothing would ever remove a temporary
   * queue it created, nor answer a long-poll it started.
   */
  private refuseIfEnded (session: Session): void {
    if (!this.isCurrent(session)) throw new SessionNotFoundError()
  }

  /** Ends the sessions whose lease ran out and forgets lapsed idempotency keys; the timer calls it. */
  sweep (): void {
    const now = this.now()
    for (const session of this.sessions.values()) {
      if (session.expired(now, this.options.sessionTtl)) {
        this.persist({ type: 'session_end', token: session.token }, this.endSession(session)).catch(() => {
          // Rolled back: the session is there again, and a later sweep ends it again.
        })
      }
    }
    this.idempotency.prune(now)
    this.publishKeys.prune(now)
  }

  /** Stops taking new work and answers every waiting long-poll with what it has (nothing). */
  shutdown (): void {
    if (this.stopping) return
    this.stopping = true
    this.stopSweeper()
    // By session, not by queue: a long-poll of a session with no subscriptions watches no queue.
    for (const session of this.sessions.values()) {
      for (const waiter of [...session.waiters]) waiter.settle([])
    }
    this.trace.releaseAll()
  }

  async close (): Promise<void> {
    this.shutdown()
    await this.store.close()
  }

  /**
   * Makes memory what the store holds: at start-up, and after a failed write, to undo every change not durable.
   * Sessions and queues that stay keep their live state (leases, long-polls, poll times).
   */
  private restore (snapshot: Snapshot): void {
    const now = this.now()
    const sessionsBefore = new Map(this.sessions)
    const queuesBefore = new Map(this.queues)
    this.sessions.clear()
    this.queues.clear()
    this.messageQueue.clear()
    this.queuedBytes = 0
    this.idempotency = new IdempotencyKeys(this.options.maxIdempotencyKeys)
    // An id handed out for a change that failed is not handed out again.
    this.lastId = Math.max(this.lastId, snapshot.lastId)
    this.durableId = this.lastId
    for (const persisted of snapshot.sessions) {
      // Lease clocks restart at boot: a client has one TTL to come back.
      const session = sessionsBefore.get(persisted.token) ?? new Session(persisted.token, persisted.client, persisted.principal, now)
      sessionsBefore.delete(persisted.token)
      session.subscriptions.clear()
      session.queues.clear()
      for (const name of persisted.subscriptions) session.subscriptions.add(name)
      this.sessions.set(session.token, session)
    }
    // Sessions whose login failed.
    for (const session of sessionsBefore.values()) {
      for (const waiter of [...session.waiters]) waiter.settle([])
    }
    for (const persisted of snapshot.queues) {
      const queue = new Queue(persisted.name, persisted.kind, persisted.owner)
      const before = queuesBefore.get(persisted.name)
      queue.lastTransfer = before?.lastTransfer
      queue.nextTransferExpected = before?.nextTransferExpected
      this.queues.set(persisted.name, queue)
      if (persisted.owner !== undefined) this.sessions.get(persisted.owner)?.queues.add(persisted.name)
    }
    for (const message of snapshot.messages) {
      const queue = this.queues.get(message.queue)
      if (queue === undefined) continue
      queue.push(message)
      this.queuedBytes += message.payload.length
      this.messageQueue.set(message.id, queue)
    }
    for (const entry of snapshot.idempotencyKeys) {
      if (entry.expires > now) this.idempotency.remember(entry.queue, entry.key, entry.id, entry.expires)
    }
    this.bindings.clear()
    for (const { queue, filter } of snapshot.bindings) {
      if (this.queues.has(queue)) this.bindings.add(queue, filter)
    }
    this.retained.clear()
    for (const message of snapshot.retained) this.retained.set(message)
    this.publishKeys = new IdempotencyKeys(this.options.maxIdempotencyKeys)
    for (const entry of snapshot.publishKeys) {
      if (entry.expires > now) this.publishKeys.remember(entry.topic, entry.key, entry.ids, entry.expires)
    }
    // Long-polls look again: a failed ack has brought its message back.
    for (const waiters of this.waiters.values()) {
      for (const waiter of waiters) waiter.wake()
    }
  }
}
