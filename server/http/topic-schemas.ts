// JSON Schemas of the publish/subscribe routes (topics, bindings, the event stream); see schemas.ts.
import { TOPIC_MAX_LENGTH } from '../../protocol/topics.js'
import { queueParams, sendSchema, transferSchema } from './schemas.js'

const topicText = { type: 'string', minLength: 1, maxLength: TOPIC_MAX_LENGTH } as const

export const publishSchema = {
  params: { type: 'object', required: ['topic'], properties: { topic: topicText } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { retain: { type: 'boolean' } }
  },
  headers: sendSchema.headers,
  response: {
    201: {
      type: 'object',
      required: ['ids', 'count', 'duplicate'],
      properties: {
        ids: { type: 'array', items: { type: 'integer' } },
        count: { type: 'integer' },
        duplicate: { type: 'boolean' }
      }
    }
  }
} as const

const bindingParams = {
  type: 'object',
  required: ['name', 'filter'],
  properties: { name: queueParams.properties.name, filter: topicText }
} as const

const bindResponse = {
  type: 'object',
  required: ['queue', 'filter', 'created', 'retained'],
  properties: {
    queue: { type: 'string' },
    filter: { type: 'string' },
    created: { type: 'boolean' },
    retained: { type: 'integer' }
  }
} as const

export const bindSchema = {
  params: bindingParams,
  response: { 200: bindResponse, 201: bindResponse }
} as const

export const unbindSchema = { params: bindingParams } as const

export const bindingsSchema = {
  params: queueParams,
  response: {
    200: {
      type: 'object',
      required: ['queue', 'filters'],
      properties: { queue: { type: 'string' }, filters: { type: 'array', items: { type: 'string' } } }
    }
  }
} as const

const cursor = transferSchema.querystring.properties.after

/** The 200 answer is `text/event-stream`, written by the route itself: no response schema. */
/** A stream ticket, in place of the bearer header where a browser cannot send one (event stream, WebSocket). */
const ticket = { type: 'string', minLength: 1, maxLength: 64 } as const

export const streamSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { after: cursor, ticket }
  },
  headers: { type: 'object', properties: { 'last-event-id': cursor } }
} as const

export const socketSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: { ticket } }
} as const

export const streamTicketSchema = {
  response: {
    201: {
      type: 'object',
      required: ['ticket', 'expires'],
      properties: { ticket: { type: 'string' }, expires: { type: 'integer' } }
    }
  }
} as const
