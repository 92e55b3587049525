import type { FastifyInstance } from 'fastify'
import { WebSocketServer } from 'ws'
import { DONE_DELAY_MS, SOCKET_PATH } from '../../../protocol/socket.js'
import type { AccessPolicy } from '../../auth/access.js'
import { InvalidRequestError } from '../../core/errors.js'
import type { Switch } from '../../core/switch.js'
import { SocketChannel } from '../socket-channel.js'
import { releaseSession, sessionOf } from '../session-auth.js'
import { socketSchema } from '../topic-schemas.js'
import { acceptUpgrade, isUpgrade } from '../upgrades.js'
import { BATCH_BODY_LIMIT } from './batch.js'

/**
 * `GET /v1/socket`: a WebSocket for the session whose token (or stream ticket) opens it, carrying sends, acks
 * and deliveries as frames (see protocol/socket.ts and SocketChannel). The upgrade passes the same hooks as any
 * request (see upgrades.ts). A stop reads no new frames, answers those taken, then closes each socket (1001);
 * when the grace is over, whatever is left is cut.
 */
export function socketRoutes (app: FastifyInstance, core: Switch, policy: AccessPolicy, options: { heartbeat: number }): void {
  const { heartbeat } = options
  // A send frame carries a batch: as large as a batch request may be.
  const server = new WebSocketServer({ noServer: true, maxPayload: BATCH_BODY_LIMIT, clientTracking: false })
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
    if (!isUpgrade(request)) throw new InvalidRequestError(`GET /v1${SOCKET_PATH} is a WebSocket: open it with "Upgrade: websocket"`, 'upgrade')
    const session = sessionOf(request)
    acceptUpgrade(server, request, reply, (socket, connection) => {
      channels.add(new SocketChannel(socket, connection, core, policy, session, { heartbeat, log: request.log, onClose, untold: (channel) => { untold.add(channel) } }))
    })
    // The channel holds the session's lease while it has requests or deliveries in hand, not while it idles.
    releaseSession(core, request)
  })
}
