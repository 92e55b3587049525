import type { Socket } from 'node:net'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'

interface Binding {
  token: string
  /** Who its login acts as, should the session have to start again. */
  principal: string
  /** The session whose lease this connection holds; undefined until its login completes. */
  session: Session | undefined
  closed: boolean
}

/**
 * Sessions as the original protocols define them: a login binds the connection to the session of its token
 * (connections logging in with one token share it), and an open connection holds that session's lease. Once the
 * last one closes the usual TTL grace runs, then the session ends and its temporary queues go; a client that
 * reconnects within the grace keeps its reply queue.
 */
export class ConnectionSessions {
  private readonly core: Switch
  private readonly bindings = new WeakMap<Socket, Binding>()

  constructor (core: Switch) {
    this.core = core
  }

  /** Binds the connection to the session of `token`, started (acting as `principal`) if there is none. */
  async login (socket: Socket, token: string, principal: string): Promise<void> {
    let binding = this.bindings.get(socket)
    if (binding === undefined) {
      const created: Binding = { token, principal, session: undefined, closed: socket.destroyed }
      this.bindings.set(socket, created)
      socket.once('close', () => {
        created.closed = true
        this.release(created)
      })
      binding = created
    }
    binding.token = token
    binding.principal = principal
    const session = await this.core.loginWithToken(token, principal)
    // The connection closed, or logged in again with another token, while the session started.
    if (binding.closed || binding.token !== token) return
    if (binding.session === session && this.core.isCurrent(session)) return
    const held = this.core.enter(session.token, 'original')
    this.release(binding)
    binding.session = held
  }

  /** True for a connection that has logged in. */
  isBound (socket: Socket): boolean {
    return this.bindings.has(socket)
  }

  /**
   * The session of a logged-in connection, else undefined. A session ended meanwhile (a logout through the JSON
   * API) starts again, as the client still believes itself logged in.
   */
  async sessionOf (socket: Socket): Promise<Session | undefined> {
    const binding = this.bindings.get(socket)
    if (binding === undefined || binding.closed) return undefined
    if (binding.session === undefined || !this.core.isCurrent(binding.session)) await this.login(socket, binding.token, binding.principal)
    return binding.session
  }

  private release (binding: Binding): void {
    if (binding.session !== undefined) this.core.leave(binding.session)
    binding.session = undefined
  }
}
