// Plain clients of GET /v1/socket in both of its framings, written apart from the library's framing code: a `ws`
// WebSocket, and lines read off an upgraded node:http connection.
import { once } from 'node:events'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import WebSocket from 'ws'

export const FRAMINGS = ['websocket', 'lines'] as const
export type Framing = typeof FRAMINGS[number]

export interface Wire {
  /** Sends one frame: text, or bytes as they are. */
  send: (data: string | Uint8Array) => void
  terminate: () => void
}

export interface WireEvents {
  frame: (text: string) => void
  closed: (code: number, reason: string) => void
  /** A ping came (lines only): answered unless `silent`. */
  ping?: () => void
}

/** Opens `path` (with its query) on the switch at `url` in the given framing; rejects if it is refused. */
export async function openWire (framing: Framing, url: string, path: string, headers: Record<string, string>, events: WireEvents): Promise<Wire> {
  return framing === 'websocket' ? await openWebSocket(`${url.replace('http', 'ws')}${path}`, headers, events) : await openLines(`${url}${path}`, headers, events)
}

async function openWebSocket (url: string, headers: Record<string, string>, events: WireEvents): Promise<Wire> {
  const socket = new WebSocket(url, { headers })
  socket.on('message', (data) => { events.frame(data.toString()) })
  socket.on('close', (code, reason) => { events.closed(code, reason.toString()) })
  socket.on('error', () => undefined)
  await once(socket, 'open')
  return {
    send: (data) => { socket.send(data) },
    terminate: () => { socket.terminate() }
  }
}

/** The socket framed as lines; `write` sends bytes as they are, framing left to the caller. */
export async function openLines (url: string, headers: Record<string, string>, events: WireEvents, silent = false): Promise<Wire & { write: (bytes: Uint8Array) => void }> {
  const request = httpRequest(url, { headers: { connection: 'Upgrade', upgrade: 'switch-lines', ...headers } })
  request.end()
  const socket = await new Promise<Socket>((resolve, reject) => {
    request.on('upgrade', (_response: IncomingMessage, socket: Socket, head: Buffer) => {
      if (head.length > 0) socket.unshift(head)
      resolve(socket)
    })
    request.on('response', (response: IncomingMessage) => { reject(new Error(`refused: ${response.statusCode}`)) })
    request.on('error', reject)
  })
  socket.setNoDelay(true)
  let pending = Buffer.alloc(0)
  let close: { close: number, reason: string } | undefined
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    for (let end = pending.indexOf(10); end !== -1; end = pending.indexOf(10)) {
      const line = pending.subarray(0, end).toString()
      pending = pending.subarray(end + 1)
      if (line === '') {
        if (!silent) socket.write('\n')
        events.ping?.()
      }
      else if (line.startsWith('{"close":')) close = JSON.parse(line) as { close: number, reason: string }
      else events.frame(line)
    }
  })
  socket.on('end', () => { socket.end() })
  socket.on('error', () => undefined)
  socket.on('close', () => { events.closed(close?.close ?? 1006, close?.reason ?? '') })
  return {
    send: (data) => { socket.write(typeof data === 'string' ? `${data}\n` : Buffer.concat([data, Buffer.from('\n')])) },
    write: (bytes) => { socket.write(bytes) },
    terminate: () => { socket.destroy() }
  }
}
