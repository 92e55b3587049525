import type { Connection } from './connection.js'
import { SocketClosedError, SwitchSocket } from './socket.js'

/**
 * After a socket could not be opened (an older switch, a proxy that does not pass upgrades on, or a switch
 * away), how long requests go over HTTP alone, unless the session changes first (a switch restarted, perhaps
 * upgraded): each try may cost a handshake timeout.
 */
const RETRY_AFTER_MS = 60_000

/**
 * The connection's WebSocket to the switch, for the hot path of rpc and serve: at most one, for the current
 * session, opened by the first delivery that wants it. Requests use it once it is open and go over HTTP until
 * then, or when it cannot be had; a socket that closes is opened again by the next delivery.
 */
export class SocketLink {
  private socket: SwitchSocket | undefined
  private opening: Promise<SwitchSocket | undefined> | undefined
  private unavailable: { epoch: number, until: number } | undefined
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
    if (this.closed) return undefined
    if (this.unavailable !== undefined && this.unavailable.epoch === epoch && Date.now() < this.unavailable.until) return undefined
    this.opening ??= this.connect().finally(() => { this.opening = undefined })
    const socket = await this.opening
    return socket?.epoch === epoch ? socket : undefined
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
    try {
      const socket = await SwitchSocket.open(this.connection.transport.socketTarget(), session.token, session.epoch, (closed, error) => {
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
      this.unavailable = { epoch: session.epoch, until: Date.now() + RETRY_AFTER_MS }
      return undefined
    }
  }
}
