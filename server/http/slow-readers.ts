import type { FastifyBaseLogger } from 'fastify'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'

/** The bytes waiting for slow readers, and what the cap has done, for diagnostics. */
export interface SlowReaders {
  /** Bytes written to connections and not yet taken by their clients (those over a socket's high-water mark). */
  unread: () => number
  /** Connections closed since start for holding too much of the cap. */
  closed: () => number
}

/**
 * A global cap on what slow readers make the switch hold. Node already writes no more to a busy connection than
 * the answer at hand (it stops parsing pipelined requests while a response is unflushed, and the event stream
 * waits for 'drain'), but each unread answer stays in memory until its client takes it. A connection whose write
 * leaves more waiting than its high-water mark is counted until its 'drain' or close; past `maxUnreadBytes` in
 * all, the connections holding the most are closed until the rest fit. Only slow connections are ever looked at.
 */
export function limitSlowReaders (server: Server, maxUnreadBytes: number, log: FastifyBaseLogger): SlowReaders {
  // Each slow connection's waiting bytes as of its last write (they only shrink between writes).
  const held = new Map<Socket, number>()
  let total = 0
  let closed = 0
  let checking = false

  const release = (socket: Socket): void => {
    total -= held.get(socket) ?? 0
    held.delete(socket)
  }

  /** Makes `total` exact again: clients may have read some since their last write. */
  const recount = (): number => {
    total = 0
    for (const socket of held.keys()) {
      held.set(socket, socket.writableLength)
      total += socket.writableLength
    }
    return total
  }

  const enforce = (): void => {
    checking = false
    if (total <= maxUnreadBytes || recount() <= maxUnreadBytes) return
    const fullestFirst = [...held].sort((a, b) => b[1] - a[1])
    for (const [socket, bytes] of fullestFirst) {
      if (total <= maxUnreadBytes) break
      closed++
      log.warn({ address: socket.remoteAddress, unreadBytes: bytes, maxUnreadBytes },
        'closed a connection whose client does not read its answers: the unread bytes of all connections passed maxUnreadBytes')
      release(socket)
      // Over TCP a reset, not a close, which would leave the unread bytes in the kernel, still sending to nobody.
      // A Unix socket (no remote address) can only be closed, and its kernel buffer is small; a TLS connection's
      // reset belongs to the TCP connection under it, out of reach, so it is closed too.
      if (socket.remoteAddress === undefined || socket instanceof TLSSocket) socket.destroy()
      else socket.resetAndDestroy()
    }
  }

  const wrote = (socket: Socket): void => {
    total += socket.writableLength - (held.get(socket) ?? 0)
    held.set(socket, socket.writableLength)
    // After the write that went over, not inside it: the HTTP code that wrote goes on with the socket.
    if (total > maxUnreadBytes && !checking) {
      checking = true
      process.nextTick(enforce)
    }
  }

  // Shared by every connection ('this' is the socket), where closures per connection would cost memory with
  // thousands held open: a counting write per distinct original write (in practice one), two listeners. Weak, so
  // that a write some other code made per connection would go with its connection.
  const counting = new WeakMap<Socket['write'], Socket['write']>()
  const countingWrite = (write: Socket['write']): Socket['write'] => {
    let counted = counting.get(write)
    if (counted === undefined) {
      counted = function (this: Socket, ...args: unknown[]): boolean {
        const taken = Reflect.apply(write, this, args) as boolean
        if (!taken) wrote(this)
        return taken
      } as Socket['write']
      counting.set(write, counted)
    }
    return counted
  }
  function released (this: Socket): void { release(this) }

  server.on('connection', (socket: Socket) => {
    // A false from write is Node's one signal that bytes are left waiting; no event says so.
    socket.write = countingWrite(socket.write)
    socket.on('drain', released)
    socket.on('close', released)
  })

  return {
    unread: recount,
    closed: () => closed
  }
}
