import type { Message } from '../protocol/wire.js'

/** A message's payload as bytes, whichever way the switch encoded it on the wire. */
export function messageBody (message: Pick<Message, 'payload' | 'encoding'>): Buffer {
  return Buffer.from(message.payload, message.encoding === 'base64' ? 'base64' : 'utf8')
}
