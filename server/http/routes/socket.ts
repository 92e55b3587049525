import type { FastifyInstance } from 'fastify'
import { WebSocketServer } from 'ws'
import { DONE_DELAY_MS, SOCKET_LINES_UPGRADE, SOCKET_MAX_FRAME_BYTES, SOCKET_PATH } from '../../../protocol/socket.js'
import type { AccessPolicy } from '../../auth/access.js'
import { InvalidRequestError } from '../../core/errors.js'
import type { Switch } from '../../core/switch.js'
import type { FrameHandlers, FrameLink } from '../frame-link.js'
import { LineLink } from '../line-link.js'
import { SocketChannel } from '../socket-channel.js'
import { releaseSession, sessionOf } from '../session-auth.js'
import { socketSchema } from '../topic-schemas.js'
import { isUpgrade, takeUpgrade } from '../upgrades.js'
import { WebSocketLink } from '../websocket-link.js'

const LINES_ACCEPTED = `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${SOCKET_LINES_UPGRADE}\r\n\r\n`

/**
 * `GET /v1/socket`: a WebSocket, or the same frames as lines (SOCKET_LINES_UPGRADE), for the session whose token
 * (or stream ticket) opens it, carrying sends, acks and deliveries as frames (see protocol/socket.ts and
 * SocketChannel). The upgrade passes the same hooks as any request (see upgrades.ts). A stop reads no new frames,
 * answers those taken, then closes each socket (1001); when the grace is over, whatever is left is cut.
 */
export function socketRoutes (app: FastifyInstance, core: Switch, policy: AccessPolicy, options: { heartbeat: number }): void {
  const { heartbeat } = options
  const server = new WebSocketServer({ noServer: true, maxPayload: SOCKET_MAX_FRAME_BYTES, clientTracking: false })
  const channels = new Set<SocketChannel>()
  const untold = new Set<SocketChannel>()
  const onClose = (channel: SocketChannel): void => {
    channels.delete(channel)
    untold.delete(channel)
  }
  // One timer for every socket's heartbeat, and one for the quiet sends' `done` that no push carried.
  const beating = setInterval(() => { for (const channel of channels) channel.beat() }, heartbeat)
  beating.unref()
  const telling = setInterval(() => {
    for (const channel of untold) channel.tellDone()
    untold.clear()
  }, DONE_DELAY_MS)
  telling.unref()
  const http = app.server
  const closeAll = http.closeAllConnections.bind(http)
  http.closeAllConnections = () => {
    for (const channel of channels) channel.terminate()
    closeAll()
  }
  app.addHook('preClose', (done) => {
    clearInterval(beating)
    clearInterval(telling)
    for (const channel of channels) channel.shutdown()
    done()
  })
  app.get(SOCKET_PATH, { schema: socketSchema, config: { session: true, ticket: true, access: 'session', stream: 'socket' }, exposeHeadRoute: false }, async (request, reply) => {
    const framing = isUpgrade(request) ? request.headers.upgrade?.trim().toLowerCase() : undefined
    if (framing !== 'websocket' && framing !== SOCKET_LINES_UPGRADE) {
      throw new InvalidRequestError(`GET /v1${SOCKET_PATH} is a socket: open it with "Upgrade: websocket", or "Upgrade: ${SOCKET_LINES_UPGRADE}" for lines`, 'upgrade')
    }
    const session = sessionOf(request)
    const open = (linked: (handlers: FrameHandlers) => FrameLink): void => {
      channels.add(new SocketChannel(linked, core, policy, session, { heartbeat, log: request.log, onClose, untold: (channel) => { untold.add(channel) } }))
    }
    const { connection, head } = takeUpgrade(request, reply)
    if (framing === 'websocket') {
      server.handleUpgrade(request.raw, connection, head, (socket) => {
        open((handlers) => new WebSocketLink(socket, connection, handlers, request.log))
      })
    } else {
      connection.write(LINES_ACCEPTED)
      open((handlers) => new LineLink(connection, head, handlers, request.log))
    }
    // The channel holds the session's lease while it has requests or deliveries in hand, not while it idles.
    releaseSession(core, request)
  })
}
