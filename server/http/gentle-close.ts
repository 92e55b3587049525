import type { Server } from 'node:http'
import type { Socket } from 'node:net'

type HttpSocket = Socket & { _httpMessage?: { finished: boolean } | null }

/**
 * Makes a stop half-close idle keep-alive connections instead of destroying them, as Node's server.close() does.
 * A client whose last answer has just arrived may still be writing (the tail of its request, a next one): once
 * the connection is gone that write fails (EPIPE, or a reset over TCP) and the client drops the answer still
 * unread in its buffer, e.g. the original CLI's reply to `shutdown`. Half-closed, the client reads its answer
 * and the end, then closes; the stop's grace (closeAllConnections) bounds one that never does.
 */
export function closeIdleGently (server: Server): void {
  const open = new Set<HttpSocket>()
  // One listener for every connection ('this' is the socket): no closure per connection.
  function closed (this: HttpSocket): void { open.delete(this) }
  server.on('connection', (socket: HttpSocket) => {
    open.add(socket)
    socket.on('close', closed)
  })
  server.closeIdleConnections = () => {
    for (const socket of open) {
      // A response in flight is ended by its own reply (`connection: close` while shutting down).
      const answering = socket._httpMessage
      if (answering != null && !answering.finished) continue
      socket.end()
    }
  }
}
