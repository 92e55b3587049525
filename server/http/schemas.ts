// JSON Schemas for the routes: Fastify validates requests and serializes responses with them.
// openapi.yaml documents the same shapes; test/openapi.test.ts holds the two together.
import { BATCH_MAX_ITEMS, MAX_DELAY, MAX_MESSAGE_TTL, MAX_VISIBILITY_TIMEOUT, QUEUE_NAME_MAX_LENGTH } from '../../protocol/wire.js'

const queueName = { type: 'string', minLength: 1, maxLength: QUEUE_NAME_MAX_LENGTH } as const
const messageId = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const
const cursor = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const
const seconds = { type: 'number', minimum: 0, maximum: 86_400 } as const
const max = { type: 'integer', minimum: 1, maximum: 1_000_000 } as const

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } }
    }
  }
} as const

const queueOptions = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['cursor', 'work'] },
    visibilityTimeout: { type: 'number', exclusiveMinimum: 0, maximum: MAX_VISIBILITY_TIMEOUT },
    maxDeliveries: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    deadLetter: queueName,
    messageTtl: { type: 'number', exclusiveMinimum: 0, maximum: MAX_MESSAGE_TTL }
  }
} as const

const deadLetterInfo = {
  type: 'object',
  required: ['reason', 'from', 'deliveries', 'time'],
  properties: {
    reason: { type: 'string', enum: ['max_deliveries', 'expired'] },
    from: { type: 'string' },
    deliveries: { type: 'integer' },
    time: { type: 'integer' }
  }
} as const

const queueInfo = {
  type: 'object',
  required: ['name', 'kind', 'length', 'alive'],
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['persistent', 'temporary'] },
    owner: { type: 'string' },
    length: { type: 'integer' },
    alive: { type: 'boolean' },
    bindings: { type: 'array', items: { type: 'string' } },
    options: queueOptions,
    leased: { type: 'integer' },
    deadLetterWaiting: { type: 'integer' }
  }
} as const

const message = {
  type: 'object',
  required: ['id', 'queue', 'payload', 'origin', 'time', 'deliveries'],
  properties: {
    id: { type: 'integer' },
    queue: { type: 'string' },
    payload: { type: 'string' },
    encoding: { type: 'string', enum: ['base64'] },
    correlationId: { type: 'string' },
    replyTo: { type: 'string' },
    error: { type: 'boolean' },
    origin: { type: 'string' },
    time: { type: 'integer' },
    topic: { type: 'string' },
    retained: { type: 'boolean' },
    deliveries: { type: 'integer' },
    deadLetter: deadLetterInfo
  }
} as const

const traceEvent = {
  type: 'object',
  required: ['id', 'time', 'type'],
  properties: {
    id: { type: 'integer' },
    time: { type: 'integer' },
    type: { type: 'string', enum: ['send', 'deliver', 'ack', 'create', 'destroy', 'login', 'session_end', 'drop', 'dead_letter'] },
    client: { type: 'string' },
    queue: { type: 'string' },
    messageId: { type: 'integer' },
    correlationId: { type: 'string' },
    processingTime: { type: 'integer' }
  }
} as const

const stringList = { type: 'array', items: { type: 'string' } } as const

export const queueParams = {
  type: 'object',
  required: ['name'],
  properties: { name: queueName }
} as const

export const loginSchema = {
  body: {
    type: 'object',
    required: ['client'],
    additionalProperties: false,
    properties: {
      client: { type: 'string', minLength: 1, maxLength: 200 },
      principal: { type: 'string', minLength: 1, maxLength: 100 },
      secret: { type: 'string', minLength: 1, maxLength: 1024 },
      apiKey: { type: 'string', minLength: 1, maxLength: 1024 },
      ttl: { type: 'number', exclusiveMinimum: 0 }
    }
  },
  response: {
    201: {
      type: 'object',
      required: ['token', 'client', 'ttl'],
      properties: { token: { type: 'string' }, client: { type: 'string' }, ttl: { type: 'number' } }
    }
  }
} as const

export const sessionInfoSchema = {
  response: {
    200: {
      type: 'object',
      required: ['token', 'client', 'subscriptions', 'queues', 'lastActivity', 'inFlight'],
      properties: {
        token: { type: 'string' },
        client: { type: 'string' },
        subscriptions: stringList,
        queues: stringList,
        lastActivity: { type: 'integer' },
        inFlight: { type: 'integer' }
      }
    }
  }
} as const

const createQueueResponse = {
  type: 'object',
  required: ['name', 'kind', 'created'],
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['persistent', 'temporary'] },
    created: { type: 'boolean' }
  }
} as const

export const createTemporarySchema = { response: { 201: createQueueResponse } } as const

// The body is optional (see queueRoutes): a PUT without one, or with `{}`, finds the queue as it is.
export const createQueueSchema = {
  params: queueParams,
  body: queueOptions,
  response: { 200: createQueueResponse, 201: createQueueResponse }
} as const

export const redriveSchema = {
  params: queueParams,
  querystring: { type: 'object', additionalProperties: false, properties: { to: queueName } },
  response: { 200: { type: 'object', required: ['moved'], properties: { moved: { type: 'integer' } } } }
} as const

export const leaseSchema = {
  params: { type: 'object', required: ['id'], properties: { id: messageId } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { seconds: { type: 'number', minimum: 0, maximum: MAX_VISIBILITY_TIMEOUT } }
  },
  response: { 200: { type: 'object', required: ['id', 'expires'], properties: { id: { type: 'integer' }, expires: { type: 'integer' } } } }
} as const

export const queueSchema = { params: queueParams, response: { 200: queueInfo } } as const

export const destroySchema = { params: queueParams } as const

export const listSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { prefix: { type: 'string', maxLength: QUEUE_NAME_MAX_LENGTH }, alive: { type: 'boolean' } }
  },
  response: {
    200: { type: 'object', required: ['queues'], properties: { queues: { type: 'array', items: queueInfo } } }
  }
} as const

export const sendSchema = {
  params: queueParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      correlationId: { type: 'string', maxLength: 200 },
      replyTo: queueName,
      ack: messageId,
      error: { type: 'boolean' },
      ttl: { type: 'number', exclusiveMinimum: 0, maximum: MAX_MESSAGE_TTL },
      delay: { type: 'number', minimum: 0, maximum: MAX_DELAY }
    }
  },
  headers: {
    type: 'object',
    properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } }
  },
  response: {
    201: {
      type: 'object',
      required: ['id', 'duplicate'],
      properties: { id: { type: 'integer' }, duplicate: { type: 'boolean' } }
    },
    // A reply (`ack`) whose queue is gone: the request was acked, the reply dropped.
    200: {
      type: 'object',
      required: ['dropped', 'acked'],
      properties: { dropped: { type: 'boolean', enum: [true] }, acked: { type: 'integer' } }
    }
  }
} as const

export const ackSchema = {
  params: { type: 'object', required: ['id'], properties: { id: messageId } }
} as const

const batchSendItem = {
  type: 'object',
  required: ['queue', 'payload'],
  additionalProperties: false,
  properties: {
    queue: queueName,
    payload: { type: 'string' },
    encoding: { type: 'string', enum: ['base64'] },
    correlationId: sendSchema.querystring.properties.correlationId,
    replyTo: queueName,
    ack: messageId,
    error: { type: 'boolean' },
    idempotencyKey: sendSchema.headers.properties['idempotency-key'],
    ttl: sendSchema.querystring.properties.ttl,
    delay: sendSchema.querystring.properties.delay
  }
} as const

export const batchSendSchema = {
  body: {
    type: 'object',
    required: ['messages'],
    additionalProperties: false,
    properties: { messages: { type: 'array', minItems: 1, maxItems: BATCH_MAX_ITEMS, items: batchSendItem } }
  },
  response: {
    200: {
      type: 'object',
      required: ['results'],
      properties: { results: { type: 'array', items: { anyOf: [sendSchema.response[201], sendSchema.response[200], errorSchema] } } }
    }
  }
} as const

const idList = { type: 'array', items: { type: 'integer' } } as const

export const batchAckSchema = {
  body: {
    type: 'object',
    required: ['ids'],
    additionalProperties: false,
    properties: { ids: { type: 'array', minItems: 1, maxItems: BATCH_MAX_ITEMS, items: messageId } }
  },
  response: {
    200: { type: 'object', required: ['acked', 'missing'], properties: { acked: idList, missing: idList } }
  }
} as const

export const subscriptionSchema = { params: queueParams } as const

export const transferSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { after: cursor, timeout: seconds, max }
  },
  response: {
    200: {
      type: 'object',
      required: ['messages', 'next'],
      properties: { messages: { type: 'array', items: message }, next: { type: 'integer' } }
    }
  }
} as const

export const deliveriesSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { after: cursor, credit: { type: 'integer', minimum: 1, maximum: 10_000 }, queue: queueName }
  }
} as const

export const traceSchema = {
  querystring: transferSchema.querystring,
  response: {
    200: {
      type: 'object',
      required: ['events', 'next'],
      properties: { events: { type: 'array', items: traceEvent }, next: { type: 'integer' } }
    }
  }
} as const

const diagnosticsMessage = {
  type: 'object',
  required: ['id', 'origin', 'time', 'age', 'size', 'preview'],
  properties: {
    id: { type: 'integer' },
    origin: { type: 'string' },
    time: { type: 'integer' },
    age: { type: 'integer' },
    correlationId: { type: 'string' },
    replyTo: { type: 'string' },
    size: { type: 'integer' },
    preview: { type: 'string' },
    deliveries: { type: 'integer' },
    leaseExpires: { type: 'integer' },
    deadLetter: deadLetterInfo
  }
} as const

const limit = {
  type: 'object',
  required: ['limit'],
  properties: { limit: { type: 'number' }, used: { type: 'number' } }
} as const

const limits = {
  type: 'object',
  required: ['payload', 'queues', 'sessionQueues', 'queueLength', 'queuedBytes', 'sessionPolls', 'transfer', 'timeout'],
  properties: {
    payload: limit,
    queues: limit,
    sessionQueues: limit,
    queueLength: limit,
    queuedBytes: limit,
    sessionPolls: limit,
    transfer: limit,
    answerBytes: limit,
    timeout: limit,
    connections: limit,
    connectionsPerAddress: limit,
    unreadBytes: limit
  }
} as const

const connections = {
  type: 'object',
  required: ['refusedPerAddress', 'closedIdle', 'closedSlowReaders'],
  properties: {
    refusedPerAddress: { type: 'integer' },
    closedIdle: { type: 'integer' },
    closedSlowReaders: { type: 'integer' }
  }
} as const

export const diagnosticsSchema = {
  response: {
    200: {
      type: 'object',
      required: ['startTime', 'now', 'store', 'limits', 'queues', 'sessions', 'retained'],
      properties: {
        startTime: { type: 'integer' },
        now: { type: 'integer' },
        dropped: { type: 'integer' },
        store: {
          type: 'object',
          required: ['kind'],
          properties: { kind: { type: 'string' }, location: { type: 'string' } }
        },
        limits,
        connections,
        queues: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'kind', 'messages', 'waiting'],
            properties: {
              name: { type: 'string' },
              kind: { type: 'string', enum: ['persistent', 'temporary'] },
              owner: { type: 'string' },
              messages: { type: 'array', items: diagnosticsMessage },
              lastTransfer: { type: 'integer' },
              nextTransferExpected: { type: 'integer' },
              left: { type: 'integer' },
              waiting: { type: 'integer' },
              bindings: stringList,
              options: queueOptions,
              leased: { type: 'integer' },
              deadLetterWaiting: { type: 'integer' },
              omitted: { type: 'integer' }
            }
          }
        },
        sessions: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'client', 'principal', 'subscriptions', 'queues', 'lastActivity', 'inFlight'],
            properties: {
              id: { type: 'string' },
              client: { type: 'string' },
              principal: { type: 'string' },
              subscriptions: stringList,
              queues: stringList,
              lastActivity: { type: 'integer' },
              inFlight: { type: 'integer' }
            }
          }
        },
        retained: {
          type: 'object',
          required: ['count', 'topics'],
          properties: { count: { type: 'integer' }, topics: stringList }
        },
        omitted: {
          type: 'object',
          required: ['queues', 'sessions', 'messages'],
          properties: { queues: { type: 'integer' }, sessions: { type: 'integer' }, messages: { type: 'integer' } }
        }
      }
    }
  }
} as const

export const healthSchema = {
  response: {
    200: {
      type: 'object',
      required: ['status', 'uptime'],
      properties: { status: { type: 'string', enum: ['ok', 'shutting_down'] }, uptime: { type: 'integer' } }
    }
  }
} as const

export const shutdownSchema = {
  response: {
    202: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['shutting_down'] } } }
  }
} as const
