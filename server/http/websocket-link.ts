import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { SOCKET_CLOSE_PROTOCOL } from '../../protocol/socket.js'
import type { FrameHandlers, FrameLink } from './frame-link.js'

/** Close reasons must fit a control frame (123 bytes, not characters: ws throws beyond). */
function reasonOf (text: string): string {
  if (Buffer.byteLength(text) <= 123) return text
  let cut = text.slice(0, 120)
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1)
  return `${cut}...`
}

/** The socket framed as a WebSocket (what a browser opens), on `ws`. */
export class WebSocketLink implements FrameLink {
  constructor (private readonly socket: WebSocket, readonly connection: Duplex, handlers: FrameHandlers, log: FastifyBaseLogger) {
    socket.on('message', (data, isBinary) => {
      handlers.alive()
      if (isBinary) this.close(SOCKET_CLOSE_PROTOCOL, 'frames are JSON text')
      else handlers.frame(data.toString())
    })
    socket.on('pong', handlers.alive)
    socket.on('close', handlers.closed)
    // A frame too large or malformed at the WebSocket level: ws closes the socket (1009, 1002) and says why here.
    socket.on('error', (error) => { log.debug({ err: error }, 'socket closed on a protocol error') })
  }

  get open (): boolean {
    return this.socket.readyState === this.socket.OPEN
  }

  get bufferedAmount (): number {
    return this.socket.bufferedAmount
  }

  send (text: string, written?: () => void): void {
    this.socket.send(text, written)
  }

  ping (): void {
    this.socket.ping()
  }

  close (code: number, reason: string): void {
    this.socket.close(code, reasonOf(reason))
  }

  terminate (): void {
    this.socket.terminate()
  }

  pause (): void {
    this.socket.pause()
  }

  resume (): void {
    this.socket.resume()
  }
}
