import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

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
 * Sends every upgrade request (a WebSocket, or the socket framed as lines) through Fastify's router like any
 * request, so that it passes the same hooks (browser guard, session, access) and gets the usual error answers; a
 * route accepts it with `takeUpgrade`. One no route accepted is answered over HTTP, then its connection ends.
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

/** The request's upgrade, taken out of Fastify's hands: its connection and the bytes read past its head. */
export interface TakenUpgrade {
  connection: Duplex
  head: Buffer
}

/** Takes an upgrade request's connection from Fastify, for the route to complete the handshake on. */
export function takeUpgrade (request: FastifyRequest, reply: FastifyReply): TakenUpgrade {
  const upgrade = upgrades.get(request.raw)
  if (upgrade === undefined) throw new Error('takeUpgrade needs an upgrade request')
  upgrade.accepted = true
  reply.hijack()
  // The protocol's own error listener takes over.
  upgrade.socket.removeListener('error', destroy)
  return { connection: upgrade.socket, head: upgrade.head }
}
