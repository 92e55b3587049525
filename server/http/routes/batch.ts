import type { FastifyInstance } from 'fastify'
import { SOCKET_MAX_FRAME_BYTES } from '../../../protocol/socket.js'
import type { BatchAckRequest, BatchAckResponse, BatchSendRequest, BatchSendResponse } from '../../../protocol/wire.js'
import type { Switch } from '../../core/switch.js'
import { ShuttingDownError } from '../../core/errors.js'
import type { AccessPolicy } from '../../auth/access.js'
import { applyAcks, applySends } from '../batch-items.js'
import { batchAckSchema, batchSendSchema } from '../schemas.js'
import { sessionOf } from '../session-auth.js'

/**
 * A batch body may be this large even when single payloads are limited to less: it carries many of them. The
 * socket's send frame, which carries the same batch, has the same limit.
 */
const BATCH_BODY_LIMIT = SOCKET_MAX_FRAME_BYTES

/**
 * Many sends, or many acks, in one request: what a client with many calls in flight would otherwise pay an
 * HTTP exchange for, each (see batch-items).
 */
export function batchRoutes (app: FastifyInstance, core: Switch, policy: AccessPolicy): void {
  const bodyLimit = Math.max(app.initialConfig.bodyLimit ?? 0, BATCH_BODY_LIMIT)

  app.post<{ Body: BatchSendRequest }>('/messages', { schema: batchSendSchema, config: { session: true, access: 'session' }, bodyLimit }, async (request): Promise<BatchSendResponse> => {
    // Refused as a whole, so the client waits for the switch and retries it as the single send would be.
    if (core.shuttingDown) throw new ShuttingDownError()
    return { results: await applySends(policy, core, sessionOf(request), request.body.messages) }
  })

  app.post<{ Body: BatchAckRequest }>('/acks', { schema: batchAckSchema, config: { session: true, access: 'session' } }, async (request): Promise<BatchAckResponse> => {
    return await applyAcks(policy, core, sessionOf(request), request.body.ids)
  })
}
