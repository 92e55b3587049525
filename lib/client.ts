import { nanoid } from 'nanoid'
import { basename } from 'node:path'
import { Batches } from './batches.js'
import { Connection, encodeName, type Credentials } from './connection.js'
import { ClientClosedError } from './errors.js'
import * as operations from './operations.js'
import type { CreateQueueOptions, RequestOptions, SendOptions, TransferOptions } from './operations.js'
import type {
  CreateQueueResponse,
  Diagnostics,
  HealthResponse,
  ListResponse,
  LoginResponse,
  Message,
  QueueInfo,
  SendResponse,
  SendResult,
  SessionInfo,
  TraceResponse,
  TransferResponse,
  LeaseResponse,
  RedriveResponse
} from '../protocol/wire.js'
import type { BindResponse, BindingsResponse, PublishResponse } from '../protocol/topics.js'
import { RpcEngine, type RpcOptions } from './rpc.js'
import { Service, type Handler, type ServeHandle, type ServeOptions, type WorkHandler } from './serve.js'
import { streamMessages, type StreamOptions } from './stream.js'
import { Transport, type Reachability } from './transport.js'

export interface SwitchClientOptions {
  /**
   * The switch, or several switches sharing one store (`switch serve --redis`): the client uses one at a time,
   * in this order, and moves to the next when the one in use cannot be reached or answers 503 (shutting down,
   * its store failed), keeping its session. Default: $SWITCH_URL (several comma-separated), else
   * http://127.0.0.1:8080. With `socketPath` (one URL only) it only gives the Host header.
   */
  url?: string | readonly string[]
  /** Connect over this Unix socket instead of TCP. */
  socketPath?: string
  /** The name the switch shows as this client's origin. Default: `<script>:<pid>`. */
  client?: string
  /**
   * Milliseconds to keep retrying while the switch is unreachable (not up yet, restarting), or every one of
   * several. Default 30000.
   */
  retryFor?: number
  /**
   * Told when the switch is first reached, when it turns unreachable (a request could not reach it and is
   * retried: once per outage, not per attempt) and when it is reached again; with several switches, which one
   * (`target`), so a failover is told as one unreachable and the next reached. For showing what is happening.
   */
  onReachability?: (change: Reachability) => void
  /** With `secret`: the principal to log in as, on a switch with an auth file. */
  principal?: string
  /** The principal's secret. Default: $SWITCH_SECRET. */
  secret?: string
  /** An API key, instead of principal and secret. Default: $SWITCH_API_KEY. */
  apiKey?: string
  /** Pool size. Every long-poll (transfer, trace, rpc and serve loops) holds a connection. Default 64. */
  connections?: number
  /**
   * For an https URL: the CA certificate(s) (PEM) to trust instead of the system's, e.g. the CA that signed a
   * switch's own certificate. The certificate is always verified (and must name the URL's host).
   */
  ca?: string | Buffer
  /** A client certificate (PEM) with its `key`, for a switch that requires one (`switch serve --tls-ca`). */
  cert?: string | Buffer
  key?: string | Buffer
}

export interface ListOptions extends RequestOptions {
  prefix?: string
  /** Only queues that someone is polling (or polled within a session TTL). */
  alive?: boolean
}

export type TraceOptions = TransferOptions

export interface PublishOptions extends RequestOptions {
  /** Keep it as the topic's retained message, which new bindings receive; an empty body clears it. */
  retain?: boolean
  /** Publishes with the same key to the same topic deliver once; by default a fresh key per call. */
  idempotencyKey?: string
}

/** The credentials a login presents (every re-login too): given ones, else the environment's. */
function credentialsOf (options: SwitchClientOptions): Credentials {
  const apiKey = options.apiKey ?? (options.secret === undefined ? process.env.SWITCH_API_KEY : undefined)
  const secret = options.secret ?? (apiKey === undefined ? process.env.SWITCH_SECRET : undefined)
  const credentials: Credentials = {}
  if (options.principal !== undefined) credentials.principal = options.principal
  if (secret !== undefined && secret !== '') credentials.secret = secret
  if (apiKey !== undefined && apiKey !== '') credentials.apiKey = apiKey
  return credentials
}

export const DEFAULT_URL = 'http://127.0.0.1:8080'

/** $SWITCH_URL's switches: one URL, or several separated by commas. */
function urlsOf (text: string): string[] {
  return text.split(',').map((url) => url.trim()).filter((url) => url !== '')
}
export const DEFAULT_RETRY_FOR = 30_000
export const DEFAULT_CONNECTIONS = 64

/**
 * A typed client of a switch (or of several sharing one store, used one at a time: see `url`). Every method that
 * needs a session logs in on first use, and logs in again (restoring its subscriptions) when the switch has
 * forgotten the session. Requests that cannot reach the switch are retried for `retryFor` ms; failures are
 * SwitchClientError subclasses with a stable `code`.
 */
export class SwitchClient {
  /** The switches given, in the order they are tried. */
  readonly urls: readonly string[]
  readonly client: string
  private readonly transport: Transport
  private readonly connection: Connection
  private readonly batches: Batches
  private readonly rpcEngine: RpcEngine
  private readonly services = new Set<Service>()
  private closing: Promise<void> | undefined

  constructor (options: SwitchClientOptions = {}) {
    const fromEnvironment = urlsOf(process.env.SWITCH_URL ?? '')
    const url = options.url ?? (fromEnvironment.length > 0 ? fromEnvironment : DEFAULT_URL)
    this.urls = typeof url === 'string' ? [url] : [...url]
    this.client = options.client ?? `${basename(process.argv[1] ?? 'node')}:${process.pid}`
    this.transport = new Transport({
      urls: this.urls,
      socketPath: options.socketPath,
      connections: options.connections ?? DEFAULT_CONNECTIONS,
      retryFor: options.retryFor ?? DEFAULT_RETRY_FOR,
      onReachability: options.onReachability,
      ...(options.ca === undefined && options.cert === undefined && options.key === undefined
        ? {}
        : { tls: { ca: options.ca, cert: options.cert, key: options.key } })
    })
    this.connection = new Connection(this.transport, this.client, credentialsOf(options))
    this.batches = new Batches(this.connection)
    this.rpcEngine = new RpcEngine(this.connection, this.batches)
  }

  /** The URL of the switch in use: the first one given, until a failover. */
  get url (): string {
    return this.transport.url
  }

  /**
   * How many times this client has logged in. It moves when the session changes (a re-login after expiry or
   * a switch restart): temporary queues and unacked message ids of the old session are gone.
   */
  get sessionEpoch (): number {
    return this.connection.epoch
  }

  private get open (): Connection {
    if (this.closing !== undefined) throw new ClientClosedError()
    return this.connection
  }

  // Session

  /** The current session, logging in if there is none (other methods do that themselves). */
  async login (options: RequestOptions = {}): Promise<LoginResponse> {
    return (await this.open.ensureSession(options.signal)).login
  }

  /** Ends the session (its temporary queues go with it); a later call logs in afresh, without subscriptions. */
  async logout (options: RequestOptions = {}): Promise<void> {
    await this.open.logout(options)
  }

  async session (options: RequestOptions = {}): Promise<SessionInfo> {
    return await this.open.request<SessionInfo>({ method: 'GET', path: '/session', ...options })
  }

  /**
   * Stops every serve (letting running handlers reply), fails waiting rpc calls with ClientClosedError, logs out
   * (best effort) and closes the connections. Idempotent.
   */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.services].map(async (service) => { await service.stop() }))
      await this.rpcEngine.close()
      this.connection.socket.close()
      // Whatever the caller still has in flight fails with ClientClosedError before the logout could end it.
      this.transport.abort()
      await this.connection.logout({ retry: false, final: true }).catch(() => {
        // Best effort: an unreachable switch ends the session when its lease runs out.
      })
      await this.transport.close()
    })()
    await this.closing
  }

  // Queues

  /**
   * Creates a persistent queue; idempotent (`created` is false if it existed). Its options (a work queue, a
   * dead-letter queue, a message TTL) are set once: an existing queue with other ones is a queue_conflict error.
   */
  async createQueue (name: string, options: CreateQueueOptions = {}): Promise<CreateQueueResponse> {
    return await operations.createQueue(this.open, name, options)
  }

  /** Extends this session's lease on a work-queue message by `seconds` (default: the queue's visibilityTimeout); 0 gives it back. */
  async extendLease (id: number, seconds?: number, options: RequestOptions = {}): Promise<LeaseResponse> {
    return await operations.extendLease(this.open, id, seconds, options)
  }

  /** Moves every message of dead-letter queue `queue` to `to`, counted afresh. */
  async redrive (queue: string, to: string, options: RequestOptions = {}): Promise<RedriveResponse> {
    return await this.open.request<RedriveResponse>({ method: 'POST', path: `/queues/${encodeName(queue)}/redrive`, query: { to }, once: true, ...options })
  }

  /** Creates a queue with a fresh name that lives as long as this session. */
  async createTemporaryQueue (options: RequestOptions = {}): Promise<CreateQueueResponse> {
    return await operations.createTemporaryQueue(this.open, options)
  }

  async destroy (name: string, options: RequestOptions = {}): Promise<void> {
    await this.open.request<void>({ method: 'DELETE', path: `/queues/${encodeName(name)}`, ...options })
  }

  async list (options: ListOptions = {}): Promise<QueueInfo[]> {
    const { prefix, alive, ...rest } = options
    const query = { prefix, alive: alive === true ? true : undefined }
    const { queues } = await this.open.anyone<ListResponse>({ method: 'GET', path: '/queues', query, ...rest })
    return queues
  }

  async queue (name: string, options: RequestOptions = {}): Promise<QueueInfo> {
    return await this.open.anyone<QueueInfo>({ method: 'GET', path: `/queues/${encodeName(name)}`, ...options })
  }

  // Messages

  /**
   * Sends a message. It carries an idempotency key (yours, or a fresh one) kept over retries, so a retried
   * send is enqueued once. A send with `ack` is not repeated after a re-login (see `ack`); if its queue is gone
   * (the caller that waited for this reply has gone), the switch acks the request all the same and drops the
   * reply, and the answer is a ReplyDropped (`{dropped: true, acked}`) instead of an id.
   */
  async send (queue: string, body: string | Uint8Array, options?: SendOptions & { ack?: undefined }): Promise<SendResponse>
  async send (queue: string, body: string | Uint8Array, options: SendOptions): Promise<SendResult>
  async send (queue: string, body: string | Uint8Array, options: SendOptions = {}): Promise<SendResult> {
    return await operations.send(this.open, queue, body, options)
  }

  /**
   * Acks (deletes) a message. Not repeated after a transparent re-login: a switch restarted in memory numbers
   * messages afresh, so the id could name another message; the session_not_found error is passed on instead.
   */
  async ack (id: number, options: RequestOptions = {}): Promise<void> {
    await operations.ack(this.open, id, options)
  }

  /** Subscribes this session to a queue; remembered and restored after a re-login. */
  async subscribe (queue: string, options: RequestOptions = {}): Promise<void> {
    await operations.subscribe(this.open, queue, options)
  }

  async unsubscribe (queue: string, options: RequestOptions = {}): Promise<void> {
    await operations.unsubscribe(this.open, queue, options)
  }

  /**
   * Long-polls the subscribed queues for messages with ids above `after`. After a re-login (see
   * `sessionEpoch`) a switch that restarted in memory counts ids from 1 again: start over from cursor 0.
   */
  async transfer (options: TransferOptions = {}): Promise<TransferResponse> {
    return await operations.transfer(this.open, options)
  }

  // Publish/subscribe

  /**
   * Publishes a message to a topic: every queue bound to a matching filter gets a copy, once. Nobody listening
   * is no error (no ids). Like `send`, it carries an idempotency key kept over retries.
   */
  async publish (topic: string, body: string | Uint8Array, options: PublishOptions = {}): Promise<PublishResponse> {
    const { retain, idempotencyKey, ...rest } = options
    return await this.open.request<PublishResponse>({
      method: 'POST',
      path: `/topics/${encodeName(topic)}/messages`,
      query: { retain: retain === true ? true : undefined },
      body,
      idempotencyKey: idempotencyKey ?? nanoid(),
      ...rest
    })
  }

  /**
   * Binds a queue to a topic filter (`+` one level, `#` the rest, as in MQTT); idempotent. A new binding
   * delivers the retained messages of matching topics into the queue at once.
   */
  async bind (queue: string, filter: string, options: RequestOptions = {}): Promise<BindResponse> {
    return await this.open.request<BindResponse>({ method: 'PUT', path: bindingPath(queue, filter), ...options })
  }

  /** Removes a binding; idempotent. */
  async unbind (queue: string, filter: string, options: RequestOptions = {}): Promise<void> {
    await this.open.request<void>({ method: 'DELETE', path: bindingPath(queue, filter), ...options })
  }

  /** A queue's topic filters, sorted. */
  async bindings (queue: string, options: RequestOptions = {}): Promise<string[]> {
    const path = `/queues/${encodeName(queue)}/bindings`
    return (await this.open.anyone<BindingsResponse>({ method: 'GET', path, ...options })).filters
  }

  /**
   * The subscribed queues' messages as they arrive, over the switch's event stream: every unacked message after
   * `after`, then each new one (ack them with `ack`). Resumes where it left off when the stream drops; ends when
   * `signal` aborts or the loop breaks.
   */
  stream (options: StreamOptions = {}): AsyncGenerator<Message, void, undefined> {
    return streamMessages(this.open, options)
  }

  // Observation

  async diagnostics (options: RequestOptions = {}): Promise<Diagnostics> {
    return await this.open.anyone<Diagnostics>({ method: 'GET', path: '/diagnostics', ...options })
  }

  /** Long-polls the switch's trace of recent events with ids above `after`. */
  async trace (options: TraceOptions = {}): Promise<TraceResponse> {
    const { after, timeout, max, ...rest } = options
    return await this.open.anyone<TraceResponse>({
      method: 'GET', path: '/trace', query: { after, timeout, max }, poll: timeout, ...rest
    })
  }

  async health (options: RequestOptions = {}): Promise<HealthResponse> {
    return await this.open.transport.request<HealthResponse>({ method: 'GET', path: '/health', ...options })
  }

  /** Asks the switch to shut down gracefully. */
  async shutdown (options: RequestOptions = {}): Promise<void> {
    await this.open.anyone<unknown>({ method: 'POST', path: '/shutdown', ...options })
  }

  // Patterns

  /**
   * Calls the service on `queue` and resolves with its reply. Rejects with RemoteError if the service replied
   * with an error, RpcTimeoutError after `timeout` seconds (default 30), AbortError on abort.
   */
  async rpc (queue: string, body: string | Uint8Array, options: RpcOptions = {}): Promise<Buffer> {
    if (this.closing !== undefined) throw new ClientClosedError()
    return await this.rpcEngine.call(queue, body, options)
  }

  /** Serves `queue` with `handler` until stopped (or until close()). */
  serve (queue: string, handler: Handler, options: ServeOptions = {}): ServeHandle {
    return this.run(new Service(this.open, this.batches, queue, handler, options))
  }

  /**
   * Processes the jobs of work queue `queue` (which must exist) with `handler`, `concurrency` at a time, until
   * stopped (or until close()): each job is leased to this worker, its lease extended while the handler runs,
   * acked when it returns, given back when it throws (another delivery, towards the queue's maxDeliveries).
   */
  work (queue: string, handler: WorkHandler, options: ServeOptions = {}): ServeHandle {
    return this.run(new Service(this.open, this.batches, queue, handler, options, 'work'))
  }

  private run (service: Service): ServeHandle {
    this.services.add(service)
    service.done.then(
      () => { this.services.delete(service) },
      () => { this.services.delete(service) }
    )
    return service
  }
}

function bindingPath (queue: string, filter: string): string {
  return `/queues/${encodeName(queue)}/bindings/${encodeName(filter)}`
}
