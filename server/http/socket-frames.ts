import { Ajv, type ErrorObject } from 'ajv'
import type { SocketRequest } from '../../protocol/socket.js'
import { batchAckSchema, batchSendSchema, deliveriesSchema } from './schemas.js'

// The socket's request frames, checked by the same schemas as the HTTP requests they stand for.

const requestId = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const

const frameSchema = {
  type: 'object',
  discriminator: { propertyName: 'op' },
  required: ['op', 'id'],
  oneOf: [
    {
      additionalProperties: false,
      required: ['messages'],
      properties: { op: { const: 'send' }, id: requestId, quiet: { type: 'boolean' }, ...batchSendSchema.body.properties }
    },
    {
      additionalProperties: false,
      required: ['ids'],
      properties: { op: { const: 'ack' }, id: requestId, ...batchAckSchema.body.properties }
    },
    {
      additionalProperties: false,
      required: ['queue'],
      properties: { op: { const: 'deliver' }, id: requestId, ...deliveriesSchema.querystring.properties }
    },
    {
      additionalProperties: false,
      properties: { op: { const: 'cancel' }, id: requestId }
    }
  ]
} as const

const validate = new Ajv({ discriminator: true, allErrors: false }).compile<SocketRequest>(frameSchema)

/** Why a frame is not a request, in the words of an HTTP validation error: the field at fault and the problem. */
export interface FrameProblem {
  message: string
  field?: string
}

function problemOf (errors: ErrorObject[] | null | undefined): FrameProblem {
  const [first] = errors ?? []
  if (first === undefined) return { message: 'the frame is not a request' }
  const { missingProperty, additionalProperty } = first.params as { missingProperty?: unknown, additionalProperty?: unknown }
  const field = typeof missingProperty === 'string'
    ? missingProperty
    : typeof additionalProperty === 'string' ? additionalProperty : first.instancePath.slice(1).replaceAll('/', '.')
  const where = first.instancePath === '' ? 'frame' : `frame${first.instancePath.replaceAll('/', '.')}`
  return { message: `${where} ${first.message ?? 'is invalid'}`, field: field === '' ? undefined : field }
}

/** The request a frame's JSON holds, or what is wrong with it. */
export function readFrame (value: unknown): SocketRequest | FrameProblem {
  if (validate(value)) return value
  return problemOf(validate.errors)
}

export function isRequest (frame: SocketRequest | FrameProblem): frame is SocketRequest {
  return 'op' in frame
}
