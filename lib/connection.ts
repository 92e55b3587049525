import { AbortError, hasCode, isSessionLost, SessionChangedError } from './errors.js'
import type { LoginRequest, LoginResponse } from '../protocol/wire.js'
import { raceAbort } from './signals.js'
import { SocketLink } from './socket-link.js'
import type { Dispatcher } from 'undici'
import type { HttpRequest, Transport } from './transport.js'

export interface SessionRequest extends Omit<HttpRequest, 'token'> {
  /**
   * Run only in this session (its `epoch`), else fail with SessionChangedError; never repeated after a
   * re-login. For loops that keep state tied to one session: a cursor, a reply queue, a message id.
   */
  pin?: number
  /**
   * Never repeated after a re-login: the request names a message id, and a switch that restarted in memory
   * numbers its messages from 1 again, so the id may now name someone else's message.
   */
  once?: boolean
}

export interface CurrentSession {
  token: string
  /** Counts logins: a new epoch means a new session, whose switch may have forgotten everything. */
  epoch: number
  login: LoginResponse
}

export const encodeName = (name: string): string => encodeURIComponent(name)

/** What a login presents on a switch with an auth file: a principal and its secret, or an API key. */
export type Credentials = Omit<LoginRequest, 'client'>

/**
 * The client's session: logs in lazily, logs in again when the switch says the session is gone (expired, or a
 * switch restarted in memory), restores the subscriptions, and repeats the request that found out.
 */
export class Connection {
  /** Queues this client subscribed to, restored after every re-login. */
  readonly subscriptions = new Set<string>()
  /** The socket that carries rpc's and serve's sends, acks and deliveries when the switch offers one. */
  readonly socket = new SocketLink(this)
  private current: CurrentSession | undefined
  private loggingIn: Promise<CurrentSession> | undefined
  private logins = 0

  constructor (readonly transport: Transport, readonly client: string, private readonly credentials: Credentials = {}) {}

  /** The number of logins so far; it changes whenever the session does. */
  get epoch (): number {
    return this.logins
  }

  async ensureSession (signal?: AbortSignal): Promise<CurrentSession> {
    if (this.current !== undefined) return this.current
    // One login for everyone who finds the session missing at the same time.
    this.loggingIn ??= this.login().finally(() => { this.loggingIn = undefined })
    return await raceAbort(this.loggingIn, signal, () => new AbortError())
  }

  private async login (): Promise<CurrentSession> {
    const login = await this.transport.request<LoginResponse>({ method: 'POST', path: '/sessions', json: { client: this.client, ...this.credentials } })
    await Promise.all([...this.subscriptions].map(async (queue) => {
      try {
        await this.transport.request<void>({ method: 'PUT', path: `/session/subscriptions/${encodeName(queue)}`, token: login.token })
      } catch (error) {
        // A queue that is gone (temporary, or a switch restarted in memory) is forgotten; its owner re-creates it.
        if (!hasCode(error, 'queue_not_found')) throw error
        this.subscriptions.delete(queue)
      }
    }))
    this.current = { token: login.token, epoch: ++this.logins, login }
    return this.current
  }

  /**
   * A request that needs no session on a switch without an auth file (list, diagnostics, shutdown): sent without
   * one, unless the client has credentials, which a switch with an auth file wants for everything.
   */
  async anyone<T> (request: SessionRequest): Promise<T> {
    if (Object.keys(this.credentials).length === 0) return await this.transport.request<T>(request)
    return await this.request<T>(request)
  }

  async request<T> (request: SessionRequest): Promise<T> {
    return await this.inSession(request, async (http) => await this.transport.request<T>(http))
  }

  /** A request whose answer is read as it arrives (see Transport.open), in the session like `request`. */
  async open (request: SessionRequest): Promise<Dispatcher.ResponseData['body']> {
    return await this.inSession(request, async (http) => await this.transport.open(http))
  }

  private async inSession<T> (request: SessionRequest, send: (http: HttpRequest) => Promise<T>): Promise<T> {
    const { pin, once } = request
    for (let repeated = false; ; repeated = true) {
      // Most requests find the session there: no wait for them.
      const session = this.current ?? await this.ensureSession(request.signal)
      if (pin !== undefined && pin !== session.epoch) throw new SessionChangedError()
      try {
        // One copy, with the token: `pin` and `once` go along, unread.
        return await send({ ...request, token: session.token })
      } catch (error) {
        if (!isSessionLost(error)) throw error
        // Only the first to notice drops the session; the next ensureSession logs in again.
        if (this.current === session) this.current = undefined
        if (repeated || pin !== undefined || once === true) throw error
      }
    }
  }

  /** The switch ended session `epoch` (seen on a socket): the next request logs in again. */
  forget (epoch: number): void {
    if (this.current?.epoch === epoch) this.current = undefined
  }

  /** Ends the session if there is one; subscriptions are forgotten, the next request logs in afresh. */
  async logout (options: Pick<HttpRequest, 'retry' | 'final' | 'signal'> = {}): Promise<void> {
    const session = this.current
    if (session === undefined) return
    this.current = undefined
    this.subscriptions.clear()
    try {
      await this.transport.request<void>({ method: 'DELETE', path: '/session', token: session.token, ...options })
    } catch (error) {
      if (!isSessionLost(error)) throw error
    }
  }
}
