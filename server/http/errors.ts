import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_STATUS, QUEUE_NAME_MAX_LENGTH, type ErrorBody, type ErrorCode } from '../../protocol/wire.js'
import { SwitchError, TooManyLoginsError } from '../core/errors.js'

export function statusOf (code: ErrorCode): number {
  return ERROR_STATUS[code]
}

export function errorBody (code: ErrorCode, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } }
}

/** Fastify's own error codes, for failures that happen before a route runs, and the field at fault. */
const FASTIFY_CODES: Record<string, { code: ErrorCode, field?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', field: 'body' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', field: 'content-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', field: 'content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', field: 'body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_request', field: 'body' }
}

/**
 * The field a schema validation failure is about: the property at fault, the missing or unknown one, else the
 * part of the request (`body` when it is not an object at all).
 */
function fieldOf (error: FastifyError): string | undefined {
  const [first] = error.validation ?? []
  if (first === undefined) return undefined
  const { missingProperty, additionalProperty } = first.params as { missingProperty?: unknown, additionalProperty?: unknown }
  if (typeof missingProperty === 'string') return missingProperty
  if (typeof additionalProperty === 'string') return additionalProperty
  if (first.instancePath !== '') return first.instancePath.slice(1).replaceAll('/', '.')
  return error.validationContext
}

function classify (error: FastifyError): { code: ErrorCode, message: string, field?: string } {
  if (error instanceof SwitchError) return { code: error.code, message: error.message, field: error.field }
  if (error.validation !== undefined) return { code: 'invalid_request', message: error.message, field: fieldOf(error) }
  const known = error.code === undefined ? undefined : FASTIFY_CODES[error.code]
  if (known !== undefined) return { ...known, message: error.message }
  if (error instanceof SyntaxError) return { code: 'invalid_request', message: `body is not valid JSON: ${error.message}`, field: 'body' }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { code: 'invalid_request', message: error.message }
  }
  return { code: 'internal', message: 'internal error' }
}

/** Requests the router refuses before any route runs (a bad percent-encoding, an overlong path segment). */
export function answerFrameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply, counted: ErrorCounter = () => {}): void {
  counted(request, 'invalid_request')
  const problem = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? `a path segment is longer than ${QUEUE_NAME_MAX_LENGTH} characters`
    : 'the URL is not validly percent-encoded'
  void reply.code(400).send(errorBody('invalid_request', problem))
}

/** Told of each error answer, with its code (for metrics). */
export type ErrorCounter = (request: FastifyRequest, code: ErrorCode) => void

/** One error shape everywhere: `{"error": {"code", "message", "field"?}}` with the status its code implies. */
export function installErrorHandling (app: FastifyInstance, counted: ErrorCounter = () => {}): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { code, message, field } = classify(error)
    counted(request, code)
    const status = statusOf(code)
    if (status >= 500 && code !== 'shutting_down' && code !== 'insufficient_storage') request.log.error({ err: error }, 'request failed')
    if (error instanceof TooManyLoginsError) void reply.header('retry-after', String(error.retryAfter))
    return reply.code(status).send(errorBody(code, message, field))
  })

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]
    const allowed = ['GET', 'POST', 'PUT', 'DELETE'].filter((method) => app.findRoute({ url: path, method }) !== null)
    counted(request, allowed.length > 0 ? 'method_not_allowed' : 'not_found')
    if (allowed.length > 0) {
      return reply.code(405).header('allow', allowed.join(', '))
        .send(errorBody('method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}`))
    }
    return reply.code(404).send(errorBody('not_found', `no route ${request.method} ${path}`))
  })
}
