import type { FastifyBaseLogger } from 'fastify'
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import { refuseConnection, type HttpLimits } from './hardening.js'

/**
 * Refused connections waiting for their client to read the answer. Each still holds one of `maxConnections`:
 * past this many, a refusal is a bare close (as Node's own connection cap does), so refusals cannot fill it.
 */
const MAX_LINGERING = 100

/** What the connection rules have done, and the fullest address, for diagnostics. */
export interface FairConnections {
  /** The most connections one client address holds now. */
  busiestAddress: () => number
  /** Connections refused since start because their address held its share. */
  refused: () => number
  /** Connections closed since start because they sent no request in time. */
  closedIdle: () => number
  /** Closes every connection that has not carried a request: Node's close of idle connections passes them over. */
  closeUnused: () => void
}

/**
 * Keeps one client from taking every connection: an address may hold `maxConnectionsPerAddress` (a connection
 * beyond it is answered 429 before the HTTP server ever sees it), and a connection that sends no request within
 * `idleConnectionTimeout` is closed. Unix-socket connections have no address and are not counted: whoever may
 * open the socket file is the switch's own user (its permissions decide), not a stranger on the network.
 */
export function shareConnections (
  server: Server,
  limits: Pick<HttpLimits, 'maxConnectionsPerAddress' | 'idleConnectionTimeout'>,
  log: FastifyBaseLogger
): FairConnections {
  const perAddress = new Map<string, number>()
  // Addresses already logged as at their cap: one warning until the address has let go of all, not one per refusal.
  const warned = new Set<string>()
  // What each admitted TCP connection counts against. Kept here, not in a closure per connection: with thousands
  // of held long-polls, every object per connection counts.
  const addressOf = new Map<Socket, string>()
  const unused = new Map<Socket, NodeJS.Timeout | undefined>()
  let refused = 0
  let closedIdle = 0
  let lingering = 0

  const use = (socket: Socket): void => {
    clearTimeout(unused.get(socket))
    unused.delete(socket)
  }

  // One listener shared by every connection ('this' is the socket), where a closure each would cost memory.
  function closed (this: Socket): void {
    use(this)
    const address = addressOf.get(this)
    if (address === undefined) return
    addressOf.delete(this)
    const left = (perAddress.get(address) ?? 1) - 1
    if (left > 0) {
      perAddress.set(address, left)
    } else {
      perAddress.delete(address)
      warned.delete(address)
    }
  }

  const idleTooLong = (socket: Socket): void => {
    closedIdle++
    socket.destroy()
  }

  const refuse = (socket: Socket, address: string, held: number): void => {
    refused++
    if (!warned.has(address)) {
      warned.add(address)
      log.warn({ address, connections: held }, 'a client address holds as many connections as it may (maxConnectionsPerAddress): refusing more')
    }
    if (lingering >= MAX_LINGERING) {
      socket.destroy()
      return
    }
    lingering++
    refuseConnection(socket, 'limit_exceeded', `${address} holds ${held} connections, as many as one address may (maxConnectionsPerAddress): close some first`,
      () => { lingering-- })
  }

  const admit = (socket: Socket): boolean => {
    const address = socket.remoteAddress
    if (address !== undefined) {
      const held = perAddress.get(address) ?? 0
      if (held >= limits.maxConnectionsPerAddress) {
        refuse(socket, address, held)
        return false
      }
      perAddress.set(address, held + 1)
      addressOf.set(socket, address)
    }
    const idle = limits.idleConnectionTimeout > 0
      ? setTimeout(idleTooLong, limits.idleConnectionTimeout, socket).unref()
      : undefined
    unused.set(socket, idle)
    socket.on('close', closed)
    return true
  }

  // Node offers no hook between accepting a connection and handing it to the HTTP parser (which then reads the
  // socket's handle directly), so the refusal sits in front of the 'connection' event itself. The Unix
  // socket's listener hands its connections over through the same event.
  const emit = server.emit
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'connection' && !admit(args[0] as Socket)) return false
    return Reflect.apply(emit, this, [event, ...args]) as boolean
  } as Server['emit']
  server.on('request', (request: IncomingMessage) => { use(request.socket) })
  // A socket's handshake (WebSocket, or lines) is its request.
  server.on('upgrade', (request: IncomingMessage) => { use(request.socket) })

  return {
    busiestAddress: () => {
      let most = 0
      for (const held of perAddress.values()) most = Math.max(most, held)
      return most
    },
    refused: () => refused,
    closedIdle: () => closedIdle,
    closeUnused: () => { for (const socket of unused.keys()) socket.destroy() }
  }
}
