import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { QUEUE_NAME_MAX_LENGTH, type ErrorBody, type ErrorCode } from '../../lib/protocol.js'
import { SwitchError } from '../core/errors.js'

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_queue_name: 400,
  session_required: 401,
  session_not_found: 401,
  queue_not_found: 404,
  message_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  limit_exceeded: 429,
  shutting_down: 503,
  storage_failed: 503,
  internal: 500
}

export function statusOf (code: ErrorCode): number {
  return STATUS[code]
}

export function errorBody (code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } }
}

/** Fastify's own error codes, for failures that happen before a route runs. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request'
}

function classify (error: FastifyError): { code: ErrorCode, message: string } {
  if (error instanceof SwitchError) return { code: error.code, message: error.message }
  const known = error.code === undefined ? undefined : FASTIFY_CODES[error.code]
  if (known !== undefined) return { code: known, message: error.message }
  if (error instanceof SyntaxError) return { code: 'invalid_request', message: `body is not valid JSON: ${error.message}` }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { code: 'invalid_request', message: error.message }
  }
  return { code: 'internal', message: 'internal error' }
}

/** Requests the router refuses before any route runs (a bad percent-encoding, an overlong path segment). */
export function answerFrameworkError (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const problem = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? `a path segment is longer than ${QUEUE_NAME_MAX_LENGTH} characters`
    : 'the URL is not validly percent-encoded'
  void reply.code(400).send(errorBody('invalid_request', problem))
}

/** One error shape everywhere: `{"error": {"code", "message"}}` with the status its code implies. */
export function installErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { code, message } = classify(error)
    const status = statusOf(code)
    if (status >= 500 && code !== 'shutting_down') request.log.error({ err: error }, 'request failed')
    return reply.code(status).send(errorBody(code, message))
  })

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]
    const allowed = ['GET', 'POST', 'PUT', 'DELETE'].filter((method) => app.findRoute({ url: path, method }) !== null)
    if (allowed.length > 0) {
      return reply.code(405).header('allow', allowed.join(', '))
        .send(errorBody('method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}`))
    }
    return reply.code(404).send(errorBody('not_found', `no route ${request.method} ${path}`))
  })
}
