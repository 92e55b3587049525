import { connect } from 'nats'
import type { Running } from '../ipc.js'

export interface NatsResponderParams { url: string, subject: string }

/** The NATS responder: echoes each request to its reply subject. */
export async function startNatsResponder (params: NatsResponderParams): Promise<Running<Record<string, never>>> {
  const connection = await connect({ servers: new URL(params.url).host })
  connection.subscribe(params.subject, { callback: (error, message) => { if (error === null) message.respond(message.data) } })
  // The subscription is registered once the server has seen it: a flush waits for that.
  await connection.flush()
  return { info: {}, stop: async () => { await connection.close() } }
}
