import type { Duplex } from 'node:stream'

/**
 * One client's socket as the channel sees it, whatever its framing (a WebSocket, or lines): frames of JSON text
 * both ways, pings, and a close with a WebSocket's code and reason. A framing error (a frame too large, binary,
 * not UTF-8) the link answers itself, by closing.
 */
export interface FrameLink {
  /** The connection under the frames: corked while frames are made, watched for what the client leaves unread. */
  readonly connection: Duplex
  /** Whether frames can still be sent. */
  readonly open: boolean
  /** Bytes sent but not yet written to the connection. */
  readonly bufferedAmount: number
  /** Sends one frame; `written` is called once it has gone to the connection. */
  send: (text: string, written?: () => void) => void
  ping: () => void
  /** Says why, then closes once the client has what was sent. */
  close: (code: number, reason: string) => void
  /** Cuts the connection now. */
  terminate: () => void
  /** Reads no more frames until resumed. */
  pause: () => void
  resume: () => void
}

/** What a link tells its channel. */
export interface FrameHandlers {
  /** A frame came (its JSON text, not parsed yet). */
  frame: (text: string) => void
  /** The client showed it is there (a pong, or any frame). */
  alive: () => void
  closed: () => void
}
