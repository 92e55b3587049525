import { isUtf8 } from 'node:buffer'
import type { Message } from '../../protocol/wire.js'
import type { StoredMessage } from '../core/queue.js'
import { base64Size, jsonSize, jsonStringSize } from './json-size.js'

const NO_PAYLOAD = Buffer.alloc(0)
/** `,"encoding":"base64"` */
const ENCODING_FIELD = 20

/** A stored message as the JSON API shows it: text payloads as they are, anything else in base64. */
export function toWireMessage (stored: StoredMessage): Message {
  return wireMessage(stored, stored.deliveries ?? 0)
}

/** As toWireMessage, once the delivery under way has counted itself (a cursor queue's count, a work queue's lease). */
export function toDeliveredWireMessage (stored: StoredMessage): Message {
  return wireMessage(stored, (stored.deliveries ?? 0) + 1)
}

function wireMessage (stored: StoredMessage, deliveries: number): Message {
  const text = isUtf8(stored.payload)
  const message: Message = {
    id: stored.id,
    queue: stored.queue,
    payload: stored.payload.toString(text ? 'utf8' : 'base64'),
    origin: stored.origin,
    time: stored.time,
    deliveries
  }
  if (!text) message.encoding = 'base64'
  if (stored.correlationId !== undefined) message.correlationId = stored.correlationId
  if (stored.replyTo !== undefined) message.replyTo = stored.replyTo
  if (stored.error === true) message.error = true
  if (stored.topic !== undefined) message.topic = stored.topic
  if (stored.retained === true) message.retained = true
  if (stored.deadLetter !== undefined) message.deadLetter = stored.deadLetter
  return message
}

/** Bytes of `JSON.stringify(toWireMessage(stored))`, measured without encoding the payload. */
export function wireSize (stored: StoredMessage): number {
  // The frame holds an empty payload, `""`.
  const frame = jsonSize(toWireMessage({ ...stored, payload: NO_PAYLOAD }))
  return isUtf8(stored.payload)
    ? frame - 2 + jsonStringSize(stored.payload, true)
    : frame + ENCODING_FIELD + base64Size(stored.payload.length)
}
