// Raw HTTP over a plain socket, for requests no well-behaved client would send (bad bytes, huge headers, half a
// body, nothing at all) and for reading exactly what the switch wrote back.
import { connect, type Socket } from 'node:net'

export interface RawReply {
  /** 0 when the switch closed the connection without answering. */
  status: number
  headers: Record<string, string>
  body: string
  /** The parsed body when it is JSON, else undefined. */
  json: unknown
  /** How the connection ended: closed by the switch, or still open when we gave up. */
  closed: boolean
}

export function addressOf (url: string): { host: string, port: number } {
  const { hostname, port } = new URL(url)
  return { host: hostname, port: Number(port) }
}

/** Opens a connection to the switch at `url`; resolves once connected. */
export async function openSocket (url: string): Promise<Socket> {
  const socket = connect(addressOf(url))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

/** Everything the switch writes on `socket` until it closes it (or `limitMs` passes: then `closed` is false). */
export async function readAll (socket: Socket, limitMs = 10_000): Promise<{ data: Buffer, closed: boolean }> {
  const chunks: Buffer[] = []
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { finish(false) }, limitMs)
    const finish = (closed: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ data: Buffer.concat(chunks), closed })
    }
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    // A reset after the answer (the switch closing while we still wrote) still counts as closed.
    socket.on('error', () => {})
    socket.on('close', () => { finish(true) })
  })
}

/** Parses one HTTP/1.1 response (Content-Length or chunked); status 0 if there is none. */
export function parseReply (data: Buffer, closed = true): RawReply {
  const text = data.toString('latin1')
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, body: text, json: undefined, closed }
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let rest = data.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'))
  let body: Buffer
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = []
    for (;;) {
      const lineEnd = rest.indexOf('\r\n')
      const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16)
      if (lineEnd < 0 || !(size > 0)) break
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size))
      rest = rest.subarray(lineEnd + 2 + size + 2)
    }
    body = Buffer.concat(parts)
  } else {
    body = rest.subarray(0, Number(headers['content-length'] ?? rest.length))
  }
  const bodyText = body.toString('utf8')
  let json: unknown
  if ((headers['content-type'] ?? '').startsWith('application/json')) {
    try {
      json = JSON.parse(bodyText)
    } catch {
      json = undefined
    }
  }
  return { status, headers, body: bodyText, json, closed }
}

/**
 * Reads until one whole response is in (its Content-Length, its last chunk, or the head of an event stream,
 * which never ends by itself), the switch closes the connection, or `limitMs` passes.
 */
export async function readOne (socket: Socket, limitMs = 10_000): Promise<RawReply> {
  const chunks: Buffer[] = []
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { finish(false) }, limitMs)
    const finish = (closed: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(parseReply(Buffer.concat(chunks), closed))
    }
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (isComplete(Buffer.concat(chunks))) finish(false)
    })
    socket.on('error', () => {})
    socket.on('close', () => { finish(true) })
  })
}

function isComplete (data: Buffer): boolean {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return false
  const reply = parseReply(data.subarray(0, end + 4))
  // A stream (SSE, the NDJSON delivery stream) never ends by itself: its head is the whole answer to judge.
  if (/^(text\/event-stream|application\/x-ndjson)/.test(reply.headers['content-type'] ?? '')) return true
  if (reply.headers['transfer-encoding'] === 'chunked') return data.subarray(end).includes('\r\n0\r\n\r\n')
  const length = reply.headers['content-length']
  return length !== undefined && data.length - end - 4 >= Number(length)
}

/** Sends `request` as it is on a new connection and reads the answer up to the close (or `limitMs`). */
export async function rawRequest (url: string, request: string | Buffer, limitMs = 10_000): Promise<RawReply> {
  const socket = await openSocket(url)
  socket.write(request)
  const { data, closed } = await readAll(socket, limitMs)
  return parseReply(data, closed)
}

/** A request head with `Connection: close`, so that the answer ends with the connection. */
export function head (method: string, path: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}
