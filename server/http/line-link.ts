import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { LineError, LineReader } from '../../protocol/lines.js'
import { SOCKET_MAX_FRAME_BYTES, type SocketClose } from '../../protocol/socket.js'
import type { FrameHandlers, FrameLink } from './frame-link.js'

/** How long a closed link waits for the client to end its side before it cuts the connection. */
const CLOSE_TIMEOUT_MS = 10_000
/** A WebSocket's codes for the same faults: a frame too large, text that is not UTF-8. */
const CLOSE_TOO_LARGE = 1009
const CLOSE_NOT_UTF8 = 1007

/** The socket framed as lines (SOCKET_LINES_UPGRADE): the library's framing, on the connection itself. */
export class LineLink implements FrameLink {
  private readonly reader = new LineReader(SOCKET_MAX_FRAME_BYTES)
  private closing = false

  constructor (readonly connection: Duplex, head: Buffer, private readonly handlers: FrameHandlers, log: FastifyBaseLogger) {
    // What came with the upgrade request is read first, as the connection's next data: not before the channel
    // that made this link has it.
    if (head.length > 0) connection.unshift(head)
    connection.on('data', (chunk: Buffer) => { this.read(chunk) })
    // The client ended its side (after a close, or instead of one): so does the switch.
    connection.on('end', () => { connection.end() })
    connection.on('close', handlers.closed)
    connection.on('error', (error) => { log.debug({ err: error }, 'socket connection failed') })
    connection.resume()
  }

  get open (): boolean {
    return !this.closing && this.connection.writable
  }

  get bufferedAmount (): number {
    return this.connection.writableLength
  }

  send (text: string, written?: () => void): void {
    this.connection.write(`${text}\n`, written)
  }

  ping (): void {
    this.connection.write('\n')
  }

  close (code: number, reason: string): void {
    if (this.closing) return
    this.closing = true
    const close: SocketClose = { close: code, reason }
    this.connection.end(`${JSON.stringify(close)}\n`)
    const cut = setTimeout(() => { this.connection.destroy() }, CLOSE_TIMEOUT_MS)
    cut.unref()
    this.connection.once('close', () => { clearTimeout(cut) })
  }

  terminate (): void {
    this.connection.destroy()
  }

  pause (): void {
    this.connection.pause()
  }

  resume (): void {
    this.connection.resume()
  }

  private read (chunk: Buffer): void {
    this.handlers.alive()
    // What follows a close is read only to be dropped, until the client ends its side.
    if (this.closing) return
    try {
      this.reader.push(chunk, (text) => {
        if (text !== '' && !this.closing) this.handlers.frame(text)
      })
    } catch (error) {
      if (!(error instanceof LineError)) throw error
      this.close(error.tooLong ? CLOSE_TOO_LARGE : CLOSE_NOT_UTF8, error.message)
    }
  }
}
