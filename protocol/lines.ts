import { isUtf8 } from 'node:buffer'

// The socket's line framing (see SOCKET_LINES_UPGRADE): each frame is one line of JSON text. JSON text never holds
// a raw newline (JSON.stringify escapes it), and a newline byte never occurs inside a UTF-8 sequence, so
// splitting the bytes on newlines is all the framing there is.

/** Why a connection's lines cannot be read: a line over the limit, or one that is not UTF-8. */
export class LineError extends Error {
  constructor (readonly tooLong: boolean, message: string) {
    super(message)
    this.name = 'LineError'
  }
}

/** Splits a connection's bytes into lines, as they come in chunks cut anywhere. */
export class LineReader {
  /** The start of a line whose end has not come yet. */
  private parts: Buffer[] = []
  private partBytes = 0

  constructor (private readonly maxBytes: number) {}

  /** Calls `line` with the text of each line the chunk completes; throws LineError on a line it cannot take. */
  push (chunk: Buffer, line: (text: string) => void): void {
    let start = 0
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      let bytes = chunk.subarray(start, end)
      start = end + 1
      if (this.partBytes > 0) {
        this.parts.push(bytes)
        bytes = Buffer.concat(this.parts, this.partBytes + bytes.length)
        this.parts = []
        this.partBytes = 0
      }
      line(this.text(bytes))
    }
    if (start === chunk.length) return
    const rest = chunk.subarray(start)
    this.partBytes += rest.length
    if (this.partBytes > this.maxBytes) throw new LineError(true, `a frame is over ${this.maxBytes} bytes`)
    this.parts.push(rest)
  }

  private text (bytes: Buffer): string {
    if (bytes.length > this.maxBytes) throw new LineError(true, `a frame is over ${this.maxBytes} bytes`)
    if (!isUtf8(bytes)) throw new LineError(false, 'a frame is not UTF-8')
    return bytes.toString()
  }
}
