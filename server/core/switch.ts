import { customAlphabet, nanoid } from 'nanoid'
import {
  MAX_DELAY,
  MAX_MESSAGE_TTL,
  MAX_VISIBILITY_TIMEOUT,
  queueNameProblem,
  type CreateQueueResponse,
  type Diagnostics,
  type DiagnosticsMessage,
  type DiagnosticsQueue,
  type DiagnosticsSession,
  type LeaseResponse,
  type QueueInfo,
  type QueueOptions,
  type RedriveResponse,
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
  NotLeasedError,
  PayloadTooLargeError,
  QueueConflictError,
  QueueNotFoundError,
  SessionNotFoundError,
  ShuttingDownError,
  StorageFailedError
} from './errors.js'
import { IdempotencyKeys } from './idempotency.js'
import { DEFAULT_LIMITS, Limits, type LimitOptions } from './limits.js'
import { hasExpired, Queue, type StoredMessage } from './queue.js'
import { queueOptions, sameOptions } from './queue-options.js'
import { Deadlines, type Due } from './deadlines.js'
import { RetainedMessages } from './retained.js'
import { ANONYMOUS, Session, sessionKey, type SessionKind } from './session.js'
import { filterMatches } from './topics.js'
import { TraceLog } from './trace.js'
import type { Observation, QueueDepth } from './observe.js'
import { AnswerBudget, withinBudget } from './budget.js'
import { REAL_TIMERS, type Cancel, type Timers } from './timers.js'
import { Follower } from './follower.js'
import { Waiter, type WaitSignal } from './waiter.js'
import type { WatcherRegistry } from './watcher.js'
import { MemoryStore } from '../store/memory.js'
import type { PersistedLease, PersistedQueue, SharedLog, Snapshot, Store, StoreRecord } from '../store/store.js'
import type { Operation } from './operations.js'

export interface SwitchOptions extends LimitOptions {
  /** Milliseconds a session lives after its last request, unless its login asks for another lease. */
  sessionTtl: number
  /**
   * The longest lease a login may ask for, in milliseconds: a person typing requests by hand needs more than a
   * program's 30 s, but a forgotten session should not hold its temporary queues for days.
   */
  maxSessionTtl: number
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
  maxSessionTtl: 3_600_000,
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
  /** Milliseconds after which it expires unacked, instead of its queue's messageTtl. */
  ttl?: number
  /** Milliseconds before which it is not delivered (work queues only). */
  delay?: number
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
  signal?: WaitSignal
  /** Watch these queues instead of the session's subscriptions (a protocol that names them on every call). */
  queues?: string[]
  /**
   * Bytes a message takes in the caller's encoding of the answer; with it, the answer holds no more than
   * maxAnswerBytes of them (but always one). Only what is answered is traced as delivered.
   */
  size?: (message: StoredMessage) => number
}

/** What a transfer looks for, where, until when: its options with the timeout made a deadline. */
interface Search {
  names: Iterable<string>
  followsSubscriptions: boolean
  after: number
  max: number
  size: TransferOptions['size']
  signal: WaitSignal | undefined
  deadline: number
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

/** A trace event held back until its change is durable (see `submit`), with the message it is about. */
interface Traced {
  event: Omit<TraceEvent, 'id'>
  subject?: StoredMessage
}

/** What applying an operation did: its answer, and what follows once it is durable. */
interface Applied<Result = unknown> {
  result: Result
  /** The change for a store that mirrors state (absent: nothing changed). */
  record?: StoreRecord
  traced: Traced[]
  /** New messages, in id order: visible, and their long-polls woken, once durable. */
  messages: StoredMessage[]
  /** Replies dropped for want of their queue. */
  dropped?: number
  /** A reply-and-ack's time since its request was sent, in ms (the RPC latency metric). */
  replyTime?: number
}

const unchanged = <Result>(result: Result): Applied<Result> => ({ result, traced: [], messages: [] })

const PREVIEW_BYTES = 80
/**
 * Switches sharing a log all see a message come due; the one whose operation set the deadline (the lease, the
 * send, the ack that made room) moves it at once, and the others only this long after, if it has not: each
 * would append the same move, which changes nothing but the log's length. Should that switch be gone, the
 * message moves this much later.
 */
const MOVE_GRACE = 2000
const temporaryName = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 12)

/** A message's delivery count, lease and lease state as a store keeps them. */
function persistedLease (message: StoredMessage): PersistedLease {
  const lease: PersistedLease = { id: message.id, deliveries: message.deliveries ?? 0 }
  if (message.leaseUntil !== undefined) lease.leaseUntil = message.leaseUntil
  if (message.leasedBy !== undefined) lease.leasedBy = message.leasedBy
  return lease
}

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
  if ((message.deliveries ?? 0) > 0) described.deliveries = message.deliveries
  if (message.leaseUntil !== undefined && message.leaseUntil > now) described.leaseExpires = message.leaseUntil
  if (message.deadLetter !== undefined) described.deadLetter = message.deadLetter
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
  private readonly waiters: WatcherRegistry = new Map()
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
  /** Leases running out, delays ending and messages expiring: the timer that looks at them when due. */
  private readonly deadlines: Deadlines
  /**
   * Deadlines of messages another switch goes first to move (see `due`): looked at again after MOVE_GRACE, in
   * case that switch is gone.
   */
  private readonly laterMoves: Deadlines
  /**
   * False while an operation another switch submitted is applied (from the shared log), or while state is read
   * back from one: the deadlines it sets are that switch's to act on first.
   */
  private ownOperation = true
  /** Dead letters held in their queue, by the full dead-letter queue they wait to move to (see `applyExpire`). */
  private readonly awaitingRoom = new Map<string, Set<number>>()
  /** Work-queue messages a transfer of this switch is leasing now: other transfers here pass them by. */
  private readonly leasing = new Set<number>()
  /** The log shared with other switches, if the store is one: operations are applied as they come up in it. */
  private readonly log: SharedLog | undefined

  /** A switch with the store's state as it is when its constructor runs: empty. `Switch.open` loads what the store holds. */
  constructor (options: Partial<SwitchOptions> = {}) {
    this.options = { ...DEFAULT_SWITCH_OPTIONS, store: new MemoryStore(), now: Date.now, timers: REAL_TIMERS, ...options }
    this.store = this.options.store
    this.log = this.store.log
    this.trace = new TraceLog(this.options.traceCapacity)
    this.limits = new Limits(this.options)
    this.startTime = this.options.now()
    this.idempotency = new IdempotencyKeys(this.options.maxIdempotencyKeys)
    this.publishKeys = new IdempotencyKeys(this.options.maxIdempotencyKeys)
    // Leases are checked a few times per TTL: a session ends between 1 and 1.25 TTLs after its last request.
    const sweepEvery = Math.max(10, Math.min(1000, this.options.sessionTtl / 4))
    this.stopSweeper = this.options.timers.every(sweepEvery, () => { this.sweep() })
    this.deadlines = new Deadlines(this.options.timers, this.options.now, (due) => { this.due(due) })
    this.laterMoves = new Deadlines(this.options.timers, this.options.now, (due) => { this.move(due.map(({ id }) => id)) })
  }

  /** A switch on what its store holds: read (and, for a log, replayed) before it takes any request. */
  static async open (options: Partial<SwitchOptions> = {}): Promise<Switch> {
    const core = new Switch(options)
    try {
      core.restore(await core.store.load())
      core.log?.follow({
        apply: (operation, own) => core.applyLogged(operation, own),
        snapshot: () => core.snapshot(),
        restore: (snapshot) => { core.restore(snapshot) }
      })
    } catch (error) {
      await core.close()
      throw error
    }
    return core
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
   * Applies an operation and answers once it is durable. With a store that mirrors state, it is applied here at
   * once (later operations build on it) and its change handed to the store; if the store fails, memory is put
   * back to what the store holds (the first failed write of a batch does it for the batch), so nothing of the
   * change stays, and the request fails with storage_failed. With a shared log it is appended, and answered
   * when this switch applies it in log order, as every other does. Trace events are recorded only once the
   * change is durable: an id the trace shows names its message for ever, even across kill -9.
   */
  private submit<Result> (operation: Operation): Promise<Result> {
    // Not an async function: an operation a store takes at once (memory) is answered without turns of the
    // microtask queue, and most operations are.
    if (this.log !== undefined) return this.log.submit(operation) as Promise<Result>
    if (this.needsRollback) return this.refuseUnreadable()
    let applied: Applied
    let pending: Promise<void> | undefined
    try {
      applied = this.applyOperation(operation)
      pending = applied.record === undefined ? undefined : this.store.write(applied.record)
    } catch (error) {
      return Promise.reject(error)
    }
    if (pending !== undefined) return this.committed(applied, pending)
    this.durable(applied)
    return Promise.resolve(applied.result as Result)
  }

  /** Answers once the store has the change; if it fails, memory goes back to what the store holds. */
  private async committed<Result> (applied: Applied, pending: Promise<void>): Promise<Result> {
    this.unsettled = pending
    const started = performance.now()
    try {
      await pending
      this.trace.tally.commits.observe((performance.now() - started) / 1000)
    } catch (error) {
      if (error !== this.lastFailure) {
        this.lastFailure = error
        await this.rollBack()
      }
      throw new StorageFailedError(error instanceof Error ? error.message : String(error))
    } finally {
      if (this.unsettled === pending) this.unsettled = undefined
    }
    // Writes settle in order and so do their awaits: the trace keeps the order of the changes.
    this.durable(applied)
    return applied.result as Result
  }

  private async refuseUnreadable (): Promise<never> {
    await this.rollBack()
    throw new StorageFailedError('the store cannot be read back')
  }

  private durable (applied: Applied): void {
    for (const { event, subject } of applied.traced) this.trace.record(event, subject)
    if (applied.dropped !== undefined) this.dropped += applied.dropped
    if (applied.replyTime !== undefined) this.trace.tally.replies.observe(applied.replyTime / 1000)
    this.delivered(applied.messages)
  }

  /** An operation as it comes up in the shared log (this switch's or another's): applied, and at once durable. */
  private applyLogged (operation: Operation, own: boolean): unknown {
    this.ownOperation = own
    try {
      const applied = this.applyOperation(operation)
      this.durable(applied)
      return applied.result
    } finally {
      this.ownOperation = true
    }
  }

  private async rollBack (): Promise<void> {
    try {
      this.restore(await this.store.load())
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

  /**
   * The one place the rules change state: every operation, live or replayed, local or another switch's, goes
   * through here. It decides on the state as it finds it, changes it, and says what to do once that is durable;
   * a refusal (a SwitchError) changes nothing.
   */
  applyOperation (operation: Operation): Applied {
    switch (operation.type) {
      case 'session': return this.applySession(operation)
      case 'session_end': return this.applySessionEnd(operation)
      case 'queue': return this.applyQueue(operation)
      case 'destroy': return this.applyDestroy(operation)
      case 'subscribe': return this.applySubscribe(operation)
      case 'unsubscribe': return this.applyUnsubscribe(operation)
      case 'send': return this.applySend(operation)
      case 'ack': return this.applyAck(operation)
      case 'publish': return this.applyPublish(operation)
      case 'bind': return this.applyBind(operation)
      case 'unbind': return this.applyUnbind(operation)
      case 'lease': return this.applyLease(operation)
      case 'extend': return this.applyExtend(operation)
      case 'expire': return this.applyExpire(operation)
      case 'redrive': return this.applyRedrive(operation)
    }
  }

  // Sessions

  /**
   * A new session for `client`, acting as `principal` (authenticated by the caller). `ttl` asks for a lease in
   * milliseconds other than the switch's; it is granted up to maxSessionTtl (see the session's `ttl`).
   */
  async login (client: string, principal = ANONYMOUS, ttl?: number): Promise<Session> {
    return await this.startSession(nanoid(), client, principal, ttl === undefined ? this.options.sessionTtl : this.grantedTtl(ttl))
  }

  /** The lease a login asking for `ttl` ms gets: at most the longest allowed, which is never below the default. */
  private grantedTtl (ttl: number): number {
    if (!Number.isFinite(ttl) || ttl <= 0) throw new InvalidRequestError('ttl must be a positive number of seconds', 'ttl')
    return Math.min(ttl, Math.max(this.options.maxSessionTtl, this.options.sessionTtl))
  }

  /**
   * The session of a token the client chose, started if there is none: in the original protocols a client logs
   * several connections in with one token (its program name and PID) and they share one session.
   */
  async loginWithToken (token: string, principal = ANONYMOUS): Promise<Session> {
    this.refuseIfStopping()
    const key = sessionKey('original', token)
    return this.sessions.get(key) ?? await this.startSession(key, token, principal, this.options.sessionTtl)
  }

  /** False once the session has ended (logout, expiry), for a caller that kept the object. */
  isCurrent (session: Session): boolean {
    return this.sessions.get(session.token) === session
  }

  private async startSession (token: string, client: string, principal: string, ttl: number): Promise<Session> {
    this.refuseIfStopping()
    if (client.length === 0 || client.length > 200) {
      throw new InvalidRequestError('client name must be 1 to 200 characters', 'client')
    }
    return await this.submit({ type: 'session', token, client, principal, ttl, time: this.now() })
  }

  /** A session that is there already stays as it is (two logins with one chosen token, on two switches of a log). */
  private applySession ({ token, client, principal, ttl, time }: Operation & { type: 'session' }): Applied<Session> {
    const existing = this.sessions.get(token)
    if (existing !== undefined) return unchanged(existing)
    const session = new Session(token, client, principal, this.now(), ttl)
    this.sessions.set(session.token, session)
    return { result: session, record: { type: 'session', token, client, principal }, traced: [{ event: { time, type: 'login', client } }], messages: [] }
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
    this.log?.touch(token, session.ttl)
    return session
  }

  leave (session: Session): void {
    session.holds--
    session.lastActivity = this.now()
  }

  async logout (session: Session): Promise<void> {
    if (!this.isCurrent(session)) throw new SessionNotFoundError()
    const subscriptions = [...session.subscriptions]
    await this.submit({ type: 'session_end', token: session.token, time: this.now() })
    for (const name of subscriptions) this.markLeft(name)
  }

  /** After a clean goodbye (unsubscribe, logout): a queue nobody is subscribed to any more has no service running. */
  private markLeft (name: string): void {
    const queue = this.queues.get(name)
    if (queue === undefined || queue.lastTransfer === undefined) return
    for (const session of this.sessions.values()) {
      if (session.subscriptions.has(name)) return
    }
    queue.left = this.now()
  }

  /** Ends the session: its long-polls answer, its temporary queues go. */
  private applySessionEnd ({ token, time }: Operation & { type: 'session_end' }): Applied<undefined> {
    const session = this.sessions.get(token)
    if (session === undefined) throw new SessionNotFoundError()
    const traced: Traced[] = []
    this.sessions.delete(session.token)
    for (const waiter of [...session.waiters]) waiter.release()
    for (const name of session.queues) {
      const queue = this.queues.get(name)
      if (queue !== undefined) traced.push(this.removeQueue(queue, session.client, time))
    }
    traced.push({ event: { time, type: 'session_end', client: session.client } })
    return { result: undefined, record: { type: 'session_end', token }, traced, messages: [] }
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
   * `token`: the session asking, undefined for a protocol without owners.
   */
  private checkOwner (token: string | undefined, queue: Queue, doing: string): void {
    if (queue.owner === undefined || token === undefined || queue.owner === token) return
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
    if (queue !== undefined) this.checkOwner(session.token, queue, 'ack messages in')
  }

  /**
   * Creates a queue, or finds it. With `options`, one that exists must have been created with the same ones
   * (else queue_conflict); without, it is found as it is.
   */
  async createQueue (session: Session, name: string, options?: QueueOptions): Promise<CreateQueueResponse> {
    this.refuseIfStopping()
    this.checkName(name)
    const operation: Operation = { type: 'queue', name, kind: 'persistent', client: session.client, time: this.now() }
    if (options !== undefined) operation.options = queueOptions(options)
    if (this.queues.has(name)) await this.caughtUp()
    return await this.submit(operation)
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
      name = chosen
    }
    return await this.submit({ type: 'queue', name, kind: 'temporary', owner: session.token, client: session.client, time: this.now() })
  }

  private applyQueue ({ name, kind, owner, options, client, time }: Operation & { type: 'queue' }): Applied<CreateQueueResponse> {
    const existing = this.queues.get(name)
    if (existing !== undefined) {
      if (options !== undefined && !sameOptions(existing.options ?? {}, options)) throw new QueueConflictError(name)
      return unchanged({ name, kind: existing.kind, created: false })
    }
    if (options?.deadLetter !== undefined) {
      if (options.deadLetter === name) throw new InvalidRequestError('a queue cannot be its own dead-letter queue', 'deadLetter')
      this.queue(options.deadLetter)
    }
    // Kept only when they say something: a plain queue has none, as before there were options.
    const kept = options === undefined || Object.keys(options).length === 0 ? undefined : options
    const session = owner === undefined ? undefined : this.sessions.get(owner)
    if (owner !== undefined && session === undefined) throw new SessionNotFoundError()
    this.limits.allowQueue(this.queues.size)
    if (session !== undefined) this.limits.allowTemporaryQueue(session.queues.size)
    this.queues.set(name, new Queue(name, kind, owner, kept))
    session?.queues.add(name)
    const record: StoreRecord & { type: 'queue' } = owner === undefined ? { type: 'queue', name, kind } : { type: 'queue', name, kind, owner }
    if (kept !== undefined) record.options = kept
    return { result: { name, kind, created: true }, record, traced: [{ event: { time, type: 'create', client, queue: name } }], messages: [] }
  }

  async destroy (session: Session | undefined, name: string): Promise<void> {
    this.checkName(name)
    const operation: Operation = { type: 'destroy', name, time: this.now() }
    if (session !== undefined) Object.assign(operation, { token: session.token, client: session.client })
    await this.submit(operation)
  }

  private applyDestroy ({ name, token, client, time }: Operation & { type: 'destroy' }): Applied<undefined> {
    const queue = this.queue(name)
    this.checkOwner(token, queue, 'destroy')
    return { result: undefined, record: { type: 'destroy', name }, traced: [this.removeQueue(queue, client, time)], messages: [] }
  }

  private removeQueue (queue: Queue, client: string | undefined, time: number): Traced {
    this.queues.delete(queue.name)
    this.queuedBytes -= queue.bytes
    for (const message of queue.messages()) {
      this.messageQueue.delete(message.id)
      this.removed(message.id)
    }
    this.bindings.removeQueue(queue.name)
    // Their dead-letter queue gone, they are dropped (traced, counted) as where there is none.
    this.madeRoom(queue.name)
    if (queue.owner !== undefined) this.sessions.get(queue.owner)?.queues.delete(queue.name)
    return { event: { time, type: 'destroy', client, queue: queue.name } }
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
    if (queue.options !== undefined) info.options = queue.options
    if (queue.work) info.leased = queue.leasedCount(now)
    const waiting = this.deadLetterWaiting(queue, now)
    if (waiting > 0) info.deadLetterWaiting = waiting
    return info
  }

  /** Only a queue with a dead-letter queue can hold messages due to move; the others drop them at once. */
  private deadLetterWaiting (queue: Queue, now: number): number {
    return queue.options?.deadLetter === undefined ? 0 : queue.dueCount(now)
  }

  private isAlive (queue: Queue, now: number): boolean {
    if ((this.waiters.get(queue.name)?.size ?? 0) > 0) return true
    return queue.left === undefined && queue.nextTransferExpected !== undefined && now <= queue.nextTransferExpected + this.options.sessionTtl
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
  send (session: Session, queueName: string, payload: Buffer, options: SendOptions = {}): Promise<SendResult> {
    // Not an async function, like submit: what it refuses, it refuses as a rejection all the same.
    try {
      this.refuseIfStopping()
      this.checkName(queueName)
      if (options.replyTo !== undefined) this.checkName(options.replyTo, 'replyTo')
      if (payload.length > this.options.maxPayload) throw new PayloadTooLargeError(this.options.maxPayload)
      const { idempotencyKey, ttl, delay } = options
      if (ttl !== undefined && (!Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_MESSAGE_TTL * 1000)) {
        throw new InvalidRequestError(`ttl must be more than 0 and at most ${MAX_MESSAGE_TTL} seconds`, 'ttl')
      }
      if (delay !== undefined && (!Number.isFinite(delay) || delay < 0 || delay > MAX_DELAY * 1000)) {
        throw new InvalidRequestError(`delay must be from 0 to ${MAX_DELAY} seconds`, 'delay')
      }
      // A retry is answered once the send it repeats is durable; should that one fail, this one is no retry. With
      // no write in flight there is nothing to wait for (and no lookup in a map of every recent key to pay for).
      if (idempotencyKey !== undefined && this.unsettled !== undefined && this.idempotency.lookup(queueName, idempotencyKey, this.now()) !== undefined) {
        return this.caughtUp().then(() => this.submit(this.sendOperation(session, queueName, payload, options)))
      }
      return this.submit(this.sendOperation(session, queueName, payload, options))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private sendOperation (session: Session, queueName: string, payload: Buffer, options: SendOptions): Operation {
    const operation: Operation = { type: 'send', token: session.token, client: session.client, queue: queueName, payload, time: this.now() }
    if (options.correlationId !== undefined) operation.correlationId = options.correlationId
    if (options.replyTo !== undefined) operation.replyTo = options.replyTo
    if (options.error === true) operation.error = true
    if (options.idempotencyKey !== undefined) operation.idempotencyKey = options.idempotencyKey
    if (options.ack !== undefined) operation.ack = options.ack
    if (options.ttl !== undefined) operation.ttl = options.ttl
    if (options.delay !== undefined && options.delay > 0) operation.delay = options.delay
    return operation
  }

  private applySend (op: Operation & { type: 'send' }): Applied<SendResult> {
    const { token, client, queue: queueName, payload, idempotencyKey, time } = op
    const queue = this.queues.get(queueName)
    if (queue === undefined) {
      const request = op.ack === undefined ? undefined : this.messageQueue.get(op.ack)
      if (request !== undefined) this.checkOwner(token, request, 'ack messages in')
      if (request !== undefined && op.ack !== undefined) return this.dropReply(client, queueName, request, op.ack, op.correlationId, time)
      throw new QueueNotFoundError(queueName)
    }
    if (idempotencyKey !== undefined) {
      const earlier = this.idempotency.lookup(queueName, idempotencyKey, time)
      if (earlier !== undefined) return unchanged({ id: earlier, duplicate: true })
    }
    const acked = op.ack === undefined ? undefined : this.messageQueue.get(op.ack)
    if (op.ack !== undefined && acked === undefined) throw new MessageNotFoundError(op.ack)
    if (acked !== undefined) this.checkOwner(token, acked, 'ack messages in')
    // A cursor queue delivers in id order: a message held back would be passed by the cursor and never delivered.
    if (op.delay !== undefined && !queue.work) throw new InvalidRequestError('delay needs a work queue (mode "work")', 'delay')
    this.limits.allowMessage(queueName, queue.length, this.queuedBytes, payload.length)

    const message: StoredMessage = { id: ++this.lastId, queue: queueName, payload, origin: client, time }
    if (op.correlationId !== undefined) message.correlationId = op.correlationId
    if (op.replyTo !== undefined) message.replyTo = op.replyTo
    if (op.error === true) message.error = true
    if (op.ttl !== undefined) message.expires = time + op.ttl
    if (op.delay !== undefined) message.notBefore = time + op.delay
    const traced: Traced[] = [this.enqueue(client, queue, message, time)]

    const record: StoreRecord & { type: 'send' } = { type: 'send', message }
    if (idempotencyKey !== undefined) {
      record.idempotencyKey = idempotencyKey
      record.idempotencyExpires = time + this.options.idempotencyWindow
      this.idempotency.remember(queueName, idempotencyKey, message.id, record.idempotencyExpires)
    }
    const applied: Applied<SendResponse> = { result: { id: message.id, duplicate: false }, record, traced, messages: [message] }
    if (acked !== undefined && op.ack !== undefined) {
      record.ack = op.ack
      const reply = this.removeMessage(acked, op.ack, client, time)
      traced.push(reply)
      applied.replyTime = reply.event.processingTime
    }
    return applied
  }

  /**
   * A reply to a caller that is gone (its session ended, and its temporary reply queue with it): the request
   * was answered, so it is acked (else it would be delivered to the service again, for ever), and the reply,
   * which has nowhere to go, is dropped. One store record, the ack; the drop is traced and counted once it is
   * durable. No message is made, so the answer has no id.
   */
  private dropReply (client: string, queueName: string, request: Queue, id: number, correlationId: string | undefined, time: number): Applied<ReplyDropped> {
    const drop: Omit<TraceEvent, 'id'> = { time, type: 'drop', client, queue: queueName }
    if (correlationId !== undefined) drop.correlationId = correlationId
    return {
      result: { dropped: true, acked: id },
      record: { type: 'ack', id },
      traced: [this.removeMessage(request, id, client, time), { event: drop }],
      messages: [],
      dropped: 1
    }
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
    const operation: Operation = { type: 'ack', token: session.token, client: session.client, id, time: this.now() }
    if (queueName !== undefined) operation.queue = queueName
    await this.submit(operation)
  }

  private applyAck (op: Operation & { type: 'ack' }): Applied<undefined> {
    const queue = this.messageQueue.get(op.id)
    if (queue === undefined || (op.queue !== undefined && queue.name !== op.queue)) throw new MessageNotFoundError(op.id)
    this.checkOwner(op.token, queue, 'ack messages in')
    return { result: undefined, record: { type: 'ack', id: op.id }, traced: [this.removeMessage(queue, op.id, op.client, op.time)], messages: [] }
  }

  private removeMessage (queue: Queue, id: number, client: string, now: number): Traced {
    const message = this.takeOut(queue, id)
    const event: Omit<TraceEvent, 'id'> = { time: now, type: 'ack', client, queue: queue.name, messageId: id }
    if (message !== undefined) event.processingTime = now - message.time
    return { event }
  }

  /** Removes message `id` from its queue and the switch's books, waking whoever waits for it to go. */
  private takeOut (queue: Queue, id: number): StoredMessage | undefined {
    const message = queue.remove(id)
    if (message !== undefined) this.queuedBytes -= message.payload.length
    this.messageQueue.delete(id)
    this.removed(id)
    this.madeRoom(queue.name)
    return message
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
      this.checkOwner(session.token, queue, 'receive from')
      // A work queue's cursor means nothing: what the session holds is what is leased to it.
      if (queue.work) {
        const now = this.now()
        for (const message of queue.messages()) if (this.leasedTo(message, session, now)) ids.push(message.id)
      } else {
        queue.idsUpTo(after, max, ids)
      }
    }
    return ids.sort((a, b) => a - b).slice(0, max)
  }

  private leasedTo (message: StoredMessage, session: Session, now: number): boolean {
    return message.leasedBy === session.token && (message.leaseUntil ?? 0) > now
  }

  /**
   * True while message `id` is unacked; in a work queue, given the session, only while it is leased to that
   * session (a lease that ran out is no longer held, whoever has the message now).
   */
  holds (id: number, session?: Session): boolean {
    const queue = this.messageQueue.get(id)
    if (queue === undefined) return false
    if (session === undefined || !queue.work) return true
    const message = queue.get(id)
    return message !== undefined && this.leasedTo(message, session, this.now())
  }

  /**
   * Waits until one of `ids` goes (acked, or its queue destroyed), `timeout` ms pass, the session ends or the
   * switch shuts down: a delivery stream out of credit waits here for its client's acks.
   */
  async untilRemoved (session: Session, ids: number[], timeout: number, signal: WaitSignal): Promise<void> {
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
    await this.submit({ type: 'subscribe', token: session.token, queue: name })
  }

  private applySubscribe ({ token, queue: name }: Operation & { type: 'subscribe' }): Applied<undefined> {
    const queue = this.queue(name)
    this.checkOwner(token, queue, 'subscribe to')
    // A request may still hold a session that ended meanwhile: its subscription dies with it.
    const session = this.sessions.get(token)
    if (session === undefined || session.subscriptions.has(name)) return unchanged(undefined)
    // Subscriptions are kept by name: a queue destroyed and created again keeps its subscribers.
    session.subscriptions.add(name)
    // A long-poll already waiting honours the new subscription.
    for (const waiter of session.waiters) {
      if (!waiter.followsSubscriptions) continue
      waiter.watch(name)
      if (queue.hasAfter(waiter.after)) waiter.wake()
    }
    return { result: undefined, record: { type: 'subscribe', token, queue: name }, traced: [], messages: [] }
  }

  async unsubscribe (session: Session, name: string): Promise<void> {
    this.checkName(name)
    if (!session.subscriptions.has(name)) await this.caughtUp()
    await this.submit({ type: 'unsubscribe', token: session.token, queue: name })
    this.markLeft(name)
  }

  private applyUnsubscribe ({ token, queue }: Operation & { type: 'unsubscribe' }): Applied<undefined> {
    if (this.sessions.get(token)?.subscriptions.delete(queue) !== true) return unchanged(undefined)
    return { result: undefined, record: { type: 'unsubscribe', token, queue }, traced: [], messages: [] }
  }

  transfer (session: Session, options: TransferOptions): Promise<TransferResult> {
    // Not an async function: a held long-poll keeps no suspended frame (or promise) of it, and an answer at hand
    // takes no extra turns of the microtask queue. What it refuses, it refuses as a rejection all the same.
    try {
      const now = this.now()
      const timeout = Math.min(options.timeout, this.options.maxTimeout)
      // Named queues as a set: a protocol may name one twice.
      const names = this.readBy(session, options.queues === undefined ? undefined : new Set(options.queues), now, timeout)
      return this.gather(session, this.search(options, names, now + timeout))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * What a transfer that does not wait would answer: a running delivery's next batch. It is at hand unless
   * work-queue leases must be stored first. `expectedWithin`: the milliseconds within which the reader will
   * look again, as a transfer's timeout says (the queues stay alive meanwhile).
   */
  take (session: Session, options: Omit<TransferOptions, 'timeout' | 'signal'> & { expectedWithin: number }): TransferResult | Promise<TransferResult> {
    const now = this.now()
    const search = this.search(options, this.readBy(session, options.queues, now, options.expectedWithin), now)
    return this.found(session, search, this.collect(search.names, search.after, search.max, search.size))
  }

  /**
   * A standing watch for a running delivery (see Follower), on `queues` or, without, on the session's
   * subscriptions (read live). Until closed, it counts as one of the session's waiting long-polls.
   */
  follow (session: Session, queues: string[] | undefined, after: number, heartbeat: number, woken: (idle: boolean) => void): Follower {
    this.refuseIfEnded(session)
    this.limits.allowPoll(session.waiters.size)
    const follower = new Follower(session, after, this.waiters, queues === undefined, heartbeat, woken)
    session.waiters.add(follower)
    for (const name of queues ?? session.subscriptions) follower.watch(name)
    return follower
  }

  /**
   * The queues a read looks at (the subscriptions, read live, unless named), refused if the session may not
   * read one; each is marked read now and expected to be read again within `timeout` ms (it is alive).
   */
  private readBy (session: Session, queues: Iterable<string> | undefined, now: number, timeout: number): Iterable<string> {
    this.refuseIfEnded(session)
    const names = queues ?? session.subscriptions
    for (const name of names) {
      const queue = this.queues.get(name)
      if (queue === undefined) continue
      this.checkOwner(session.token, queue, 'receive from')
      queue.lastTransfer = now
      queue.nextTransferExpected = now + timeout
      queue.left = undefined
    }
    return names
  }

  private search (options: Omit<TransferOptions, 'timeout'>, names: Iterable<string>, deadline: number): Search {
    const max = Math.min(options.max ?? this.options.maxTransfer, this.options.maxTransfer)
    const { after, size, signal } = options
    return { names, followsSubscriptions: options.queues === undefined, after, max, size, signal, deadline }
  }

  /** A transfer's messages: those there, or the first to come before the deadline. */
  private gather (session: Session, search: Search): Promise<TransferResult> {
    const { names, followsSubscriptions, after, max, size, signal, deadline } = search
    const messages = this.collect(names, after, max, size)
    const left = deadline - this.now()
    if (messages.length === 0 && left > 0 && !this.stopping && signal?.aborted !== true) {
      this.limits.allowPoll(session.waiters.size)
      return this.wait(session, names, followsSubscriptions, { after, max, timeout: left, signal, size })
        .then((messages) => this.found(session, search, messages))
    }
    return Promise.resolve(this.found(session, search, messages))
  }

  /**
   * The answer to a transfer that found `messages`: the work-queue ones among them leased to the session first,
   * and a look again while there is time if another transfer leased every one first.
   */
  private found (session: Session, search: Search, messages: StoredMessage[]): TransferResult | Promise<TransferResult> {
    let work: Set<number> | undefined
    for (const message of messages) {
      if (this.queues.get(message.queue)?.work === true) (work ??= new Set()).add(message.id)
    }
    if (work === undefined) return this.answer(session, messages, search.after, undefined)
    const leasing = work
    return this.lease(session, messages, leasing).then((leased) => {
      const lookAgain = leased.length === 0 && this.now() < search.deadline && !this.stopping && search.signal?.aborted !== true
      return lookAgain ? this.gather(session, search) : this.answer(session, leased, search.after, leasing)
    })
  }

  /** The answer to a transfer, its messages traced as delivered (`work`: the ids leased from work queues). */
  private answer (session: Session, messages: StoredMessage[], after: number, work: Set<number> | undefined): TransferResult {
    if (messages.length === 0) return { messages, next: after }
    const delivered = this.now()
    let next = after
    for (const message of messages) {
      this.trace.record({ time: delivered, type: 'deliver', client: session.client, queue: message.queue, messageId: message.id }, message)
      if (work?.has(message.id) !== true) {
        // A cursor queue's count is this switch's, in memory: a delivery there is no change to the state.
        message.deliveries = (message.deliveries ?? 0) + 1
        next = Math.max(next, message.id)
      }
    }
    return { messages, next }
  }

  /**
   * Leases the work-queue messages among `messages` (ids in `work`) to the session, in one operation: those
   * another transfer leased first (on this switch or another) are left out of the answer.
   */
  private async lease (session: Session, messages: StoredMessage[], work: Set<number>): Promise<StoredMessage[]> {
    for (const id of work) this.leasing.add(id)
    let granted = new Set<number>()
    try {
      const leased: StoredMessage[] = await this.submit({ type: 'lease', token: session.token, client: session.client, ids: [...work], time: this.now() })
      granted = new Set(leased.map((message) => message.id))
    } finally {
      for (const id of work) this.leasing.delete(id)
      // Passed by while being leased here, and not leased after all (the lease failed): the others look again.
      for (const message of messages) if (work.has(message.id) && !granted.has(message.id)) this.wake(message.queue)
    }
    return messages.filter((message) => !work.has(message.id) || granted.has(message.id))
  }

  private applyLease ({ token, ids, time }: Operation & { type: 'lease' }): Applied<StoredMessage[]> {
    if (!this.sessions.has(token)) throw new SessionNotFoundError()
    const leased: StoredMessage[] = []
    for (const id of ids) {
      const queue = this.messageQueue.get(id)
      const message = queue?.get(id)
      if (queue === undefined || message === undefined || !queue.work || !queue.available(message, time)) continue
      message.deliveries = (message.deliveries ?? 0) + 1
      message.leaseUntil = time + (queue.options?.visibilityTimeout ?? 0) * 1000
      message.leasedBy = token
      this.deadlines.add(message.leaseUntil, id, this.ownOperation)
      leased.push(message)
    }
    if (leased.length === 0) return unchanged(leased)
    return { result: leased, record: { type: 'lease', leases: leased.map(persistedLease) }, traced: [], messages: [] }
  }

  /**
   * Sets the session's lease on message `id` to run out `ms` from now: a worker that needs longer extends it;
   * 0 gives it back, for another delivery at once (which counts towards maxDeliveries).
   */
  async extendLease (session: Session, id: number, ms?: number): Promise<LeaseResponse> {
    if (ms !== undefined && (!Number.isFinite(ms) || ms < 0 || ms > MAX_VISIBILITY_TIMEOUT * 1000)) {
      throw new InvalidRequestError(`seconds must be from 0 to ${MAX_VISIBILITY_TIMEOUT}`, 'seconds')
    }
    const operation: Operation = { type: 'extend', token: session.token, id, time: this.now() }
    if (ms !== undefined) operation.ms = ms
    return await this.submit(operation)
  }

  private applyExtend ({ token, id, ms, time }: Operation & { type: 'extend' }): Applied<LeaseResponse> {
    const queue = this.messageQueue.get(id)
    const message = queue?.get(id)
    if (queue === undefined || message === undefined) throw new MessageNotFoundError(id)
    if (message.leasedBy !== token || (message.leaseUntil ?? 0) <= time) throw new NotLeasedError(id)
    message.leaseUntil = time + (ms ?? (queue.options?.visibilityTimeout ?? 0) * 1000)
    this.deadlines.add(message.leaseUntil, id, this.ownOperation)
    // Given back: the long-polls of its queue look again once this is durable.
    const messages = ms === 0 ? [message] : []
    return { result: { id, expires: message.leaseUntil }, record: { type: 'lease', leases: [persistedLease(message)] }, traced: [], messages }
  }

  /**
   * Deadlines come due: long-polls of their queues look again (a delay ended, a lease ran out), delivery streams
   * holding a lease that ran out get their credit back, and what expired or is spent is moved aside, by an
   * operation carrying the time, so that every switch moves the same: at once by the switch that set the
   * deadline, by the others after MOVE_GRACE if it is still there.
   */
  private due (due: Due[]): void {
    const now = this.now()
    const first = new Set<number>()
    for (const entry of due) if (entry.first) first.add(entry.id)
    const queues = new Set<string>()
    const moving: number[] = []
    for (const id of new Set(due.map((entry) => entry.id))) {
      const queue = this.messageQueue.get(id)
      const message = queue?.get(id)
      if (queue === undefined || message === undefined) continue
      if (hasExpired(message, now) || queue.spent(message, now)) {
        if (first.has(id)) moving.push(id)
        else this.laterMoves.add(now + MOVE_GRACE, id)
      }
      if (message.leaseUntil !== undefined && message.leaseUntil <= now) this.removed(id)
      queues.add(queue.name)
    }
    for (const name of queues) this.wake(name)
    this.move(moving)
  }

  /** Submits the move of those of `ids` still due (expired, or spent): see `applyExpire`. */
  private move (ids: number[]): void {
    const now = this.now()
    const moving = ids.filter((id) => {
      const queue = this.messageQueue.get(id)
      const message = queue?.get(id)
      return queue !== undefined && message !== undefined && (hasExpired(message, now) || queue.spent(message, now))
    })
    if (moving.length > 0 && !this.stopping) {
      this.submit({ type: 'expire', ids: moving, time: now }).catch(() => {
        // Not stored: the messages stay as they were, and are moved when next looked at (a restart schedules them again).
      })
    }
  }

  private applyExpire ({ ids, time }: Operation & { type: 'expire' }): Applied<number> {
    const removed: number[] = []
    const copies: StoredMessage[] = []
    const traced: Traced[] = []
    let dropped = 0
    for (const id of ids) {
      const queue = this.messageQueue.get(id)
      const message = queue?.get(id)
      if (queue === undefined || message === undefined) continue
      const reason = hasExpired(message, time) ? 'expired' : queue.spent(message, time) ? 'max_deliveries' : undefined
      if (reason === undefined) continue
      const target = queue.options?.deadLetter === undefined ? undefined : this.queues.get(queue.options.deadLetter)
      // A dead letter is never lost to a full dead-letter queue: it stays here, never delivered, until there is room.
      if (target !== undefined && !this.limits.queueHasRoom(target.length)) {
        this.awaitRoom(target.name, id)
        continue
      }
      this.takeOut(queue, id)
      removed.push(id)
      if (target === undefined) {
        dropped++
        traced.push({ event: { time, type: 'drop', queue: queue.name, messageId: id } })
        continue
      }
      const copy = this.copyOf(message, target.name)
      copy.deadLetter = { reason, from: queue.name, deliveries: message.deliveries ?? 0, time }
      const { event, subject } = this.enqueue(message.origin, target, copy, time)
      event.type = 'dead_letter'
      event.messageId = id
      traced.push({ event, subject })
      copies.push(subject)
    }
    if (removed.length === 0) return unchanged(0)
    return { result: removed.length, record: { type: 'move', removed, messages: copies }, traced, messages: copies, dropped }
  }

  /** Message `id` is due for dead-letter queue `name`, which is full: it is looked at again once that has room. */
  private awaitRoom (name: string, id: number): void {
    let ids = this.awaitingRoom.get(name)
    if (ids === undefined) this.awaitingRoom.set(name, ids = new Set())
    ids.add(id)
  }

  /** A message left queue `name` (or the queue went): as many dead letters waiting for room in it as fit come due now. */
  private madeRoom (name: string): void {
    const ids = this.awaitingRoom.get(name)
    if (ids === undefined) return
    const queue = this.queues.get(name)
    let room = queue === undefined ? Infinity : this.options.maxQueueLength - queue.length
    const now = this.now()
    for (const id of ids) {
      if (room-- <= 0) break
      ids.delete(id)
      this.deadlines.add(now, id, this.ownOperation)
    }
    if (ids.size === 0) this.awaitingRoom.delete(name)
  }

  /** A new message in `queue` with the payload and headers of `message`, counted afresh. */
  private copyOf (message: StoredMessage, queue: string): StoredMessage {
    const copy: StoredMessage = { id: ++this.lastId, queue, payload: message.payload, origin: message.origin, time: message.time }
    if (message.correlationId !== undefined) copy.correlationId = message.correlationId
    if (message.replyTo !== undefined) copy.replyTo = message.replyTo
    if (message.error === true) copy.error = true
    if (message.topic !== undefined) copy.topic = message.topic
    return copy
  }

  /** Moves every message of dead-letter queue `from` back to `to` (usually the queue they came from), counted afresh. */
  async redrive (session: Session, from: string, to: string): Promise<RedriveResponse> {
    this.refuseIfStopping()
    this.checkName(from)
    this.checkName(to, 'to')
    return await this.submit({ type: 'redrive', token: session.token, client: session.client, from, to, time: this.now() })
  }

  private applyRedrive ({ token, client, from, to, time }: Operation & { type: 'redrive' }): Applied<RedriveResponse> {
    const source = this.queue(from)
    const target = this.queue(to)
    this.checkOwner(token, source, 'receive from')
    if (source === target) throw new InvalidRequestError('a queue cannot be redriven to itself', 'to')
    const moving = [...source.messages()]
    // All or nothing, as a publish: a full target refuses the whole move.
    moving.forEach((message, i) => { this.limits.allowMessage(to, target.length + i, this.queuedBytes, 0) })
    if (moving.length === 0) return unchanged({ moved: 0 })
    const traced: Traced[] = []
    const copies: StoredMessage[] = []
    for (const message of moving) {
      this.takeOut(source, message.id)
      const sent = this.enqueue(client, target, this.copyOf(message, to), time)
      traced.push(sent)
      copies.push(sent.subject)
    }
    return { result: { moved: copies.length }, record: { type: 'move', removed: moving.map((message) => message.id), messages: copies }, traced, messages: copies }
  }

  private collect (names: Iterable<string>, after: number, max: number, size?: (message: StoredMessage) => number): StoredMessage[] {
    let out: StoredMessage[] = []
    let sources = 0
    const now = this.now()
    let expiring = false
    for (const name of names) {
      const queue = this.queues.get(name)
      if (queue === undefined) continue
      const before = out.length
      // A work queue hands out what is available, whatever the cursor: a lease that ran out brings an old id back.
      if (queue.work) queue.collectAvailable(now, this.durableId, max, this.leasing, out)
      else queue.collectAfter(after, max, out)
      if (queue.options?.messageTtl !== undefined) expiring = true
      if (out.length > before) sources++
    }
    // An expired message waiting for its deadline's timer is not delivered (a send's ttl may be on any queue).
    if (expiring || out.some((message) => message.expires !== undefined)) out = out.filter((message) => !hasExpired(message, now))
    if (sources > 1) {
      out.sort((a, b) => a.id - b.id)
      out.length = Math.min(out.length, max)
    }
    // Out of sight until its send is durable: it may yet fail and be undone.
    while (out.length > 0 && out[out.length - 1].id > this.durableId) out.pop()
    return size === undefined ? out : withinBudget(out, this.options.maxAnswerBytes, size)
  }

  private wait (
    session: Session,
    names: Iterable<string>,
    followsSubscriptions: boolean,
    { after, max, timeout, signal, size }: {
      after: number, max: number, timeout: number, signal: WaitSignal | undefined, size: ((message: StoredMessage) => number) | undefined
    }
  ): Promise<StoredMessage[]> {
    return new Promise((resolve) => {
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
    const operation: Operation = { type: 'publish', token: session.token, client: session.client, topic, payload, time: this.now() }
    if (options.retain === true) operation.retain = true
    if (idempotencyKey !== undefined) operation.idempotencyKey = idempotencyKey
    return await this.submit(operation)
  }

  private applyPublish (op: Operation & { type: 'publish' }): Applied<PublishResponse> {
    const { client, topic, payload, idempotencyKey, time } = op
    if (idempotencyKey !== undefined) {
      const earlier = this.publishKeys.lookup(topic, idempotencyKey, time)
      if (earlier !== undefined) return unchanged({ ids: earlier, count: earlier.length, duplicate: true })
    }
    const queues = [...this.bindings.queuesFor(topic)].map((name) => this.queue(name))
    // All or nothing: one full queue refuses the publish before anything is copied.
    let bytes = this.queuedBytes
    for (const queue of queues) {
      this.limits.allowMessage(queue.name, queue.length, bytes, payload.length)
      bytes += payload.length
    }
    const traced = queues.map((queue) => this.enqueue(client, queue, {
      id: ++this.lastId, queue: queue.name, payload, origin: client, time, topic
    }, time))
    const messages = traced.map(({ subject }) => subject)
    const record: StoreRecord & { type: 'publish' } = { type: 'publish', topic, time, messages }
    if (op.retain === true) {
      record.retained = payload.length === 0 ? null : { topic, payload, origin: client, time }
      if (record.retained === null) this.retained.delete(topic)
      else this.retained.set(record.retained)
    }
    const ids = messages.map((message) => message.id)
    if (idempotencyKey !== undefined) {
      record.idempotencyKey = idempotencyKey
      record.idempotencyExpires = time + this.options.idempotencyWindow
      this.publishKeys.remember(topic, idempotencyKey, ids, record.idempotencyExpires)
    }
    return { result: { ids, count: ids.length, duplicate: false }, record, traced, messages }
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
    return await this.submit({ type: 'bind', token: session.token, client: session.client, queue: queueName, filter, time: this.now() })
  }

  private applyBind ({ token, client, queue: queueName, filter, time }: Operation & { type: 'bind' }): Applied<BindResponse> {
    const queue = this.queue(queueName)
    this.checkOwner(token, queue, 'bind')
    if (this.bindings.has(queueName, filter)) return unchanged({ queue: queueName, filter, created: false, retained: 0 })
    const others = this.bindings.filtersOf(queueName)
    const retained = this.retained.matching(filter).filter((message) => !others.some((other) => filterMatches(other, message.topic)))
    let bytes = this.queuedBytes
    retained.forEach((message, i) => {
      this.limits.allowMessage(queueName, queue.length + i, bytes, message.payload.length)
      bytes += message.payload.length
    })
    this.bindings.add(queueName, filter)
    const traced = retained.map((message) => this.enqueue(client, queue, {
      id: ++this.lastId, queue: queueName, payload: message.payload, origin: message.origin, time: message.time, topic: message.topic, retained: true
    }, time))
    const messages = traced.map(({ subject }) => subject)
    return {
      result: { queue: queueName, filter, created: true, retained: messages.length },
      record: { type: 'bind', queue: queueName, filter, messages },
      traced,
      messages
    }
  }

  /** Removes a binding, if the queue has it; what it delivered already stays in the queue. */
  async unbind (session: Session | undefined, queueName: string, filter: string): Promise<void> {
    this.checkName(queueName)
    this.checkFilter(filter)
    if (!this.bindings.has(queueName, filter)) await this.caughtUp()
    const operation: Operation = { type: 'unbind', queue: queueName, filter }
    if (session !== undefined) operation.token = session.token
    await this.submit(operation)
  }

  private applyUnbind ({ token, queue, filter }: Operation & { type: 'unbind' }): Applied<undefined> {
    this.checkOwner(token, this.queue(queue), 'unbind')
    if (!this.bindings.delete(queue, filter)) return unchanged(undefined)
    return { result: undefined, record: { type: 'unbind', queue, filter }, traced: [], messages: [] }
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
  private enqueue (client: string, queue: Queue, message: StoredMessage, time: number): Traced & { subject: StoredMessage } {
    const ttl = queue.options?.messageTtl
    if (message.expires === undefined && ttl !== undefined) message.expires = time + ttl * 1000
    this.schedule(message)
    queue.push(message)
    this.queuedBytes += message.payload.length
    this.messageQueue.set(message.id, queue)
    const event: Omit<TraceEvent, 'id'> = { time, type: 'send', client, queue: queue.name, messageId: message.id }
    if (message.correlationId !== undefined) event.correlationId = message.correlationId
    return { event, subject: message }
  }

  /** Looks at the message again when its delay ends, its lease runs out or it expires. */
  private schedule (message: StoredMessage): void {
    const first = this.ownOperation
    if (message.notBefore !== undefined) this.deadlines.add(message.notBefore, message.id, first)
    if (message.leaseUntil !== undefined) this.deadlines.add(message.leaseUntil, message.id, first)
    if (message.expires !== undefined) this.deadlines.add(message.expires, message.id, first)
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
    after: number, timeout: number, max: number, signal?: WaitSignal, size?: (event: TraceEvent) => number
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
    if (queue.left !== undefined) entry.left = queue.left
    const filters = this.bindings.filtersOf(queue.name)
    if (filters.length > 0) entry.bindings = filters
    if (queue.options !== undefined) entry.options = queue.options
    if (queue.work) entry.leased = queue.leasedCount(this.now())
    const waiting = this.deadLetterWaiting(queue, this.now())
    if (waiting > 0) entry.deadLetterWaiting = waiting
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
    const expired: string[] = []
    for (const session of this.sessions.values()) {
      if (session.expired(now)) expired.push(session.token)
      // A long-poll held here keeps its lease alive for the switches that share the log.
      else if (session.holds > 0) this.log?.touch(session.token, session.ttl)
    }
    if (this.log === undefined) this.endSessions(expired)
    else if (expired.length > 0 && !this.stopping) {
      // Idle here, but perhaps busy on another switch: only a lease lapsed in the shared store ends a session.
      this.log.lapsed(expired).then((tokens) => {
        const lapsed = new Set(tokens)
        // Alive elsewhere: not asked about again for a TTL.
        for (const token of expired) {
          const session = this.sessions.get(token)
          if (session !== undefined && !lapsed.has(token)) session.lastActivity = now
        }
        this.endSessions(tokens)
      }, () => {
        // The shared store cannot be reached: a later sweep asks again.
      })
    }
    this.idempotency.prune(now)
    this.publishKeys.prune(now)
  }

  private endSessions (tokens: string[]): void {
    for (const token of tokens) {
      this.submit({ type: 'session_end', token, time: this.now() }).catch(() => {
        // Rolled back, or ended already (by another switch): a later sweep ends it again if it is still there.
      })
    }
  }

  /** Stops taking new work and answers every waiting long-poll with what it has (nothing). */
  shutdown (): void {
    if (this.stopping) return
    this.stopping = true
    this.stopSweeper()
    this.deadlines.stop()
    this.laterMoves.stop()
    // By session, not by queue: a long-poll of a session with no subscriptions watches no queue.
    for (const session of this.sessions.values()) {
      for (const waiter of [...session.waiters]) waiter.release()
    }
    this.trace.releaseAll()
  }

  async close (): Promise<void> {
    this.shutdown()
    await this.store.close()
  }

  /** The state as `restore` reads it: what a shared log's compaction saves. */
  private snapshot (): Snapshot {
    const queues = [...this.queues.values()]
    return {
      lastId: this.lastId,
      sessions: [...this.sessions.values()].map(({ token, client, principal, ttl, subscriptions }) =>
        ({ token, client, principal, ttl, subscriptions: [...subscriptions] })),
      queues: queues.map(({ name, kind, owner, options }) => {
        const persisted: PersistedQueue = { name, kind }
        if (owner !== undefined) persisted.owner = owner
        if (options !== undefined) persisted.options = options
        return persisted
      }),
      messages: queues.flatMap((queue) => [...queue.messages()]).sort((a, b) => a.id - b.id),
      idempotencyKeys: [...this.idempotency.all()],
      bindings: queues.flatMap(({ name }) => this.bindings.filtersOf(name).map((filter) => ({ queue: name, filter }))),
      retained: this.retained.all(),
      publishKeys: [...this.publishKeys.all()].map(({ queue: topic, key, id: ids, expires }) => ({ topic, key, ids, expires }))
    }
  }

  /**
   * Makes memory what the store holds: at start-up, and after a failed write, to undo every change not durable.
   * Sessions and queues that stay keep their live state (leases, long-polls, poll times).
   */
  private restore (snapshot: Snapshot): void {
    // Read back from a shared log, what comes due is no more this switch's to move first than any other's.
    this.ownOperation = this.log === undefined
    try {
      this.restoreState(snapshot)
    } finally {
      this.ownOperation = true
    }
  }

  private restoreState (snapshot: Snapshot): void {
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
      // Lease clocks restart at boot: a client has one TTL to come back (the default one where leases are not stored).
      const session = sessionsBefore.get(persisted.token) ??
        new Session(persisted.token, persisted.client, persisted.principal, now, persisted.ttl ?? this.options.sessionTtl)
      sessionsBefore.delete(persisted.token)
      session.subscriptions.clear()
      session.queues.clear()
      for (const name of persisted.subscriptions) session.subscriptions.add(name)
      this.sessions.set(session.token, session)
    }
    // Sessions whose login failed.
    for (const session of sessionsBefore.values()) {
      for (const waiter of [...session.waiters]) waiter.release()
    }
    this.deadlines.clear()
    this.laterMoves.clear()
    // Scheduled again below: a message due for a full dead-letter queue comes due at once and waits again.
    this.awaitingRoom.clear()
    for (const persisted of snapshot.queues) {
      const queue = new Queue(persisted.name, persisted.kind, persisted.owner, persisted.options)
      const before = queuesBefore.get(persisted.name)
      queue.lastTransfer = before?.lastTransfer
      queue.nextTransferExpected = before?.nextTransferExpected
      queue.left = before?.left
      this.queues.set(persisted.name, queue)
      if (persisted.owner !== undefined) this.sessions.get(persisted.owner)?.queues.add(persisted.name)
    }
    for (const message of snapshot.messages) {
      const queue = this.queues.get(message.queue)
      if (queue === undefined) continue
      queue.push(message)
      this.queuedBytes += message.payload.length
      this.messageQueue.set(message.id, queue)
      // A lease, delay or expiry that ran out while the switch was down comes due at once.
      this.schedule(message)
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
    // A log's operations after its snapshot, by the same rules as the live path; one refused changed nothing then either.
    for (const operation of snapshot.operations ?? []) {
      try {
        this.applyOperation(operation)
      } catch {}
    }
    this.durableId = this.lastId
    // Long-polls look again: a failed ack has brought its message back.
    for (const waiters of this.waiters.values()) {
      for (const waiter of waiters) waiter.wake()
    }
  }
}
