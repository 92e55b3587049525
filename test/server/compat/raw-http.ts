// A test client written from the reference, not from our server: HTTP/1.1 by hand over one keep-alive socket,
// the headers the original clients send, one request at a time, responses parsed minimally.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { Test } from 'tap'
import type { RunningSwitch } from '../../../server/index.js'

export interface RawResponse {
  status: number
  /** Header names in lower case. */
  headers: Record<string, string>
  body: string
}

export type Target = { port: number } | { path: string }

/**
 * The request head a client writes: that of the OCaml clients (cohttp), or that of the 2013 Python client
 * (message_switch.py), which sends a content length and nothing else, not even a Host header.
 */
export type HeadStyle = 'cohttp' | 'python'

export function tcpTarget (running: RunningSwitch): Target {
  return { port: Number(new URL(running.url).port) }
}

export class RawConnection {
  private readonly socket: Socket
  private readonly style: HeadStyle
  private buffered = Buffer.alloc(0)
  private wake: (() => void) | undefined
  private ended = false
  /** Resolves when the server has closed the connection (or we did). */
  readonly closed: Promise<void>

  private constructor (socket: Socket, style: HeadStyle) {
    this.socket = socket
    this.style = style
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      this.wake?.()
    })
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true
        this.wake?.()
        resolve()
      })
    })
    socket.on('error', () => { /* seen as a close */ })
  }

  static async open (t: Test, target: Target, style: HeadStyle = 'cohttp'): Promise<RawConnection> {
    const socket = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1')
    await once(socket, 'connect')
    const connection = new RawConnection(socket, style)
    t.teardown(() => { socket.destroy() })
    return connection
  }

  /** Sends a request exactly as the client of this connection's style does and reads its response. */
  async request (method: string, path: string, body = ''): Promise<RawResponse> {
    this.send(method, path, body)
    return await this.response()
  }

  send (method: string, path: string, body = ''): void {
    const payload = Buffer.from(body)
    this.socket.write(this.style === 'python'
      ? `${method} ${path} HTTP/1.1\r\nContent-Length: ${payload.length}\r\n\r\n`
      : `${method} ${path} HTTP/1.1\r\nhost: localhost\r\nuser-agent: cohttp\r\n` +
        `content-length: ${payload.length}\r\nconnection: keep-alive\r\n\r\n`
    )
    this.socket.write(payload)
  }

  async response (): Promise<RawResponse> {
    const end = await this.until(() => {
      const at = this.buffered.indexOf('\r\n\r\n')
      return at < 0 ? undefined : at
    })
    const head = this.buffered.subarray(0, end).toString('latin1').split('\r\n')
    const status = Number(head[0].split(' ')[1])
    const headers: Record<string, string> = {}
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    if (headers['transfer-encoding'] !== undefined) throw new Error('expected a content-length body, got a chunked one')
    const length = Number(headers['content-length'] ?? '0')
    const start = end + 4
    await this.until(() => this.buffered.length >= start + length ? true : undefined)
    const body = this.buffered.subarray(start, start + length).toString('utf8')
    this.buffered = this.buffered.subarray(start + length)
    return { status, headers, body }
  }

  async close (): Promise<void> {
    this.socket.end()
    await this.closed
  }

  private async until<T> (ready: () => T | undefined): Promise<T> {
    for (;;) {
      const value = ready()
      if (value !== undefined) return value
      if (this.ended) throw new Error('the connection closed before a whole response arrived')
      await new Promise<void>((resolve) => { this.wake = resolve })
      this.wake = undefined
    }
  }
}

/** Asserts a 200 response and returns its body. */
export async function ok (connection: RawConnection, method: string, path: string, body = ''): Promise<string> {
  const response = await connection.request(method, path, body)
  if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${response.body}`)
  return response.body
}
