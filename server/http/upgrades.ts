import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket, WebSocketServer } from 'ws'

interface Upgrade {
  socket: Duplex
  head: Buffer
  accepted: boolean
}

const upgrades = new WeakMap<IncomingMessage, Upgrade>()

function destroy (this: Duplex): void {
  this.destroy()
}

/**
 * Sends every upgrade request (WebSocket) through Fastify's router like any request, so that it passes the same
 * hooks (browser guard, session, access) and gets the usual error answers; a route accepts it with
 * `acceptUpgrade`. One no route accepted is answered over HTTP, then its connection ends.
 */
export function routeUpgrades (app: FastifyInstance): void {
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node takes its error listener off a socket it hands over.
    socket.on('error', destroy)
    const upgrade: Upgrade = { socket, head, accepted: false }
    upgrades.set(request, upgrade)
    const response = new ServerResponse(request)
    // An HTTP server's upgrade stream is its connection's socket.
    response.assignSocket(socket as Socket)
    // A refused upgrade is answered, then its connection ends: the client is told not to reuse it.
    response.setHeader('connection', 'close')
    response.on('finish', () => { if (!upgrade.accepted) socket.end() })
    app.routing(request, response)
  })
}

/** Whether this request asks to upgrade (and came through routeUpgrades). */
export function isUpgrade (request: FastifyRequest): boolean {
  return upgrades.has(request.raw)
}

/** Completes the WebSocket handshake of an upgrade request; `accepted` gets the WebSocket and its connection. */
export function acceptUpgrade (
  server: WebSocketServer, request: FastifyRequest, reply: FastifyReply, accepted: (socket: WebSocket, connection: Duplex) => void
): void {
  const upgrade = upgrades.get(request.raw)
  if (upgrade === undefined) throw new Error('acceptUpgrade needs an upgrade request')
  upgrade.accepted = true
  reply.hijack()
  // ws installs its own error listener.
  upgrade.socket.removeListener('error', destroy)
  server.handleUpgrade(request.raw, upgrade.socket, upgrade.head, (socket) => { accepted(socket, upgrade.socket) })
}
