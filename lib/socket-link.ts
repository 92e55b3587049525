import type { Connection } from './connection.js'
import { SocketClosedError, SwitchSocket } from './socket.js'

/**
 * After a socket could not be opened (an older switch, a proxy that does not pass upgrades on, or a switch
 * away), how long requests go over HTTP alone, unless the session changes first (a switch restarted, perhaps
 * upgraded) or the client fails over to another switch: each try may cost a handshake timeout.
 */
const RETRY_AFTER_MS = 60_000

/**
 * The connection's socket to the switch, for the hot path of rpc and serve: at most one, for the current
 * session, opened by the first delivery that wants it. Requests use it once it is open and go over HTTP until
 * then, or when it cannot be had; a socket that closes is opened again by the next delivery.
 */
export class SocketLink {
  private socket: SwitchSocket | undefined
  private opening: Promise<SwitchSocket | undefined> | undefined
  /** Where and when a socket could not be had: not tried again there, in that session, for a while. */
  private unavailable: { epoch: number, url: string, until: number } | undefined
  private closed = false

  constructor (private readonly connection: Connection) {}

  /** The open socket of session `epoch`, if there is one. */
  current (epoch: number): SwitchSocket | undefined {
    const socket = this.socket
    return socket !== undefined && socket.epoch === epoch && !socket.closed ? socket : undefined
  }

  /** The socket of session `epoch`, opened if need be; undefined when it cannot be had (then: HTTP). */
  async open (epoch: number): Promise<SwitchSocket | undefined> {
    const open = this.current(epoch)
    if (open !== undefined) return open
    if (this.waitBefore(epoch) > 0) return undefined
    this.opening ??= this.connect().finally(() => { this.opening = undefined })
    const socket = await this.opening
    return socket?.epoch === epoch ? socket : undefined
  }

  /**
   * Milliseconds before a socket may be tried for session `epoch`: 0 if it may be now, Infinity once closed. A
   * failover (the transport moved to another switch) may try at once, as may a new session.
   */
  waitBefore (epoch: number): number {
    if (this.closed) return Infinity
    const { unavailable } = this
    if (unavailable === undefined || unavailable.epoch !== epoch || unavailable.url !== this.connection.transport.socketTarget().url) return 0
    return Math.max(0, unavailable.until - Date.now())
  }

  close (): void {
    this.closed = true
    this.socket?.close()
    this.socket = undefined
  }

  private async connect (): Promise<SwitchSocket | undefined> {
    const session = await this.connection.ensureSession()
    // The session's socket replaces one of an earlier session.
    this.socket?.close()
    const target = this.connection.transport.socketTarget()
    try {
      const socket = await SwitchSocket.open(target, session.token, session.epoch, (closed, error) => {
        if (this.socket === closed) this.socket = undefined
        // The switch ended the session: the next request logs in again.
        if (error.sessionEnded) this.connection.forget(closed.epoch)
      })
      if (this.closed) {
        socket.close()
        return undefined
      }
      this.socket = socket
      return socket
    } catch (error) {
      if (!(error instanceof SocketClosedError)) throw error
      this.unavailable = { epoch: session.epoch, url: target.url, until: Date.now() + RETRY_AFTER_MS }
      return undefined
    }
  }
}
