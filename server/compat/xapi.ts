// The xapi-project protocol (the current OCaml switch, its m-cli and client libraries) over our core. Each
// request maps onto one core call; ids are our global ids, shown as ["<queue>", n].
import type { FastifyInstance } from 'fastify'
import { InvalidQueueNameError, InvalidRequestError, MessageNotFoundError, QueueNotFoundError } from '../core/errors.js'
import { abortedWith } from '../http/aborted.js'
import { responseCorrelation, sendResult, xapiTransfer, xapiTransferSize, type MessageRef } from './encode.js'
import { integer, loggedIn, seconds, type CompatContext } from './shared.js'

interface TransferRequest {
  /** The cursor: an integer in a string; absent means -1, everything. */
  from: number
  timeout: number
  queues: string[]
}

function parseTransfer (body: unknown): TransferRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : '')
  } catch {
    throw new InvalidRequestError('the transfer body must be JSON: {"from": "<n>", "timeout": <seconds>, "queues": [...]}')
  }
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidRequestError('the transfer body must be a JSON object')
  const { from, timeout, queues } = parsed as Record<string, unknown>
  if (!Array.isArray(queues) || !queues.every((queue): queue is string => typeof queue === 'string')) {
    throw new InvalidRequestError('transfer "queues" must be a list of queue names')
  }
  if (typeof timeout !== 'number' && typeof timeout !== 'string') throw new InvalidRequestError('transfer "timeout" must be a number of seconds')
  return {
    from: from === undefined || from === null ? -1 : integer(String(from), 'transfer "from"'),
    timeout: seconds(timeout, 'transfer "timeout"'),
    queues
  }
}

function payloadOf (body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0)
}

export function xapiRoutes (app: FastifyInstance, { core, sessions, access }: CompatContext): void {
  app.get<{ Params: { name: string } }>('/persistent/:name', loggedIn(sessions, async (request, session) => {
    access.check(request, 'manage', request.params.name)
    await core.createQueue(session, request.params.name)
    return request.params.name
  }))

  app.get<{ Params: { name: string } }>('/transient/:name', loggedIn(sessions, async (request, session) => {
    await core.createTemporaryQueue(session, request.params.name)
    return request.params.name
  }))

  app.get<{ Params: { name: string } }>('/destroy/:name', loggedIn(sessions, async (request, session) => {
    access.check(request, 'manage', request.params.name)
    try {
      await core.destroy(session, request.params.name)
    } catch (error) {
      // The original removes whatever is there: a queue that is already gone (or never could be) is no failure.
      if (!(error instanceof QueueNotFoundError) && !(error instanceof InvalidQueueNameError)) throw error
    }
    return ''
  }))

  app.post<{ Params: { name: string, replyTo: string } }>('/request/:name/:replyTo', loggedIn(sessions, async (request, session) => {
    const { name, replyTo } = request.params
    access.check(request, 'send', name)
    const sent = await core.sendOrDrop(session, name, payloadOf(request.body), { replyTo })
    return sendResult(name, sent?.id)
  }))

  app.post<{ Params: { name: string, fromQueue: string, fromId: string } }>(
    '/response/:name/:fromQueue/:fromId',
    loggedIn(sessions, async (request, session) => {
      const { name, fromQueue, fromId } = request.params
      access.check(request, 'send', name)
      const answered: MessageRef = [fromQueue, integer(fromId, 'the request id')]
      const original = core.message(answered[1])
      const correlationId = responseCorrelation(answered, original?.queue === fromQueue ? original : undefined)
      const sent = await core.sendOrDrop(session, name, payloadOf(request.body), { correlationId })
      return sendResult(name, sent?.id)
    })
  )

  app.post('/transfer', loggedIn(sessions, async (request, session, reply) => {
    const { from, timeout, queues } = parseTransfer(request.body)
    access.check(request, 'receive', queues)
    const { messages } = await core.transfer(session, {
      after: from, timeout, queues, signal: abortedWith(reply.raw), size: xapiTransferSize
    })
    return xapiTransfer(messages, messages.reduce((highest, message) => Math.max(highest, message.id), from))
  }))

  app.get<{ Params: { name: string, id: string } }>('/ack/:name/:id', loggedIn(sessions, async (request, session) => {
    const { name, id } = request.params
    const messageId = integer(id, 'the message id')
    access.check(request, 'receive', core.queueOfMessage(messageId) ?? [])
    try {
      await core.ack(session, messageId, name)
    } catch (error) {
      // As in the original, acking a message that is not there (acked already) does nothing.
      if (!(error instanceof MessageNotFoundError)) throw error
    }
    return ''
  }))
}
