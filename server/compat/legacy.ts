// The 2013 protocol (djs55/message-switch, the one its README describes) over our core: subscriptions and
// transfer by cursor, messages with an integer correlation id, acks by global id.
import type { FastifyInstance } from 'fastify'
import { MessageNotFoundError } from '../core/errors.js'
import { abortedWith } from '../http/aborted.js'
import { legacyReplyCorrelation, legacyTransfer, legacyTransferSize } from './encode.js'
import { integer, loggedIn, seconds, type CompatContext } from './shared.js'

interface SendParams {
  name: string
  correlationId: string
  replyTo?: string
}

export function legacyRoutes (app: FastifyInstance, { core, sessions, access }: CompatContext): void {
  app.get('/create', loggedIn(sessions, async (_request, session) => {
    return (await core.createTemporaryQueue(session)).name
  }))

  app.get<{ Params: { name: string } }>('/create/:name', loggedIn(sessions, async (request, session) => {
    access.check(request, 'manage', request.params.name)
    return (await core.createQueue(session, request.params.name)).name
  }))

  app.get<{ Params: { name: string } }>('/subscribe/:name', loggedIn(sessions, async (request, session) => {
    access.check(request, 'receive', request.params.name)
    await core.subscribe(session, request.params.name)
    return ''
  }))

  const send = loggedIn<{ Params: SendParams }>(sessions, async (request, session) => {
    const { name, correlationId, replyTo } = request.params
    access.check(request, 'send', name)
    const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const options = replyTo === undefined
      ? { correlationId: legacyReplyCorrelation(name, correlationId, core.message(Number(correlationId))) }
      : { correlationId, replyTo }
    // A message to a queue that does not exist is dropped, as the original did (and traced, as it did not).
    await core.sendOrDrop(session, name, payload, options)
    return ''
  })
  app.post('/send/:name/:correlationId', send)
  app.post('/send/:name/:correlationId/:replyTo', send)

  app.get<{ Params: { from: string, timeout: string } }>('/transfer/:from/:timeout', loggedIn(sessions, async (request, session, reply) => {
    const { from, timeout } = request.params
    // Each subscription must still be allowed (a reload may have taken one away), as for /v1.
    access.check(request, 'receive', session.subscriptions)
    const { messages } = await core.transfer(session, {
      after: integer(from, 'from'), timeout: seconds(timeout, 'timeout'), signal: abortedWith(reply.raw), size: legacyTransferSize
    })
    return legacyTransfer(messages)
  }))

  app.get<{ Params: { id: string } }>('/ack/:id', loggedIn(sessions, async (request, session) => {
    const id = integer(request.params.id, 'the message id')
    access.check(request, 'receive', core.queueOfMessage(id) ?? [])
    try {
      await core.ack(session, id)
    } catch (error) {
      if (!(error instanceof MessageNotFoundError)) throw error
    }
    return ''
  }))
}
