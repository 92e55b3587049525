import type { Running } from '../ipc.js'
import { connectMqtt, REQUEST_FILTER, responseTopicFor } from '../mqtt.js'

export interface MqttResponderParams { url: string }

/** The peer's responder: echoes each request to its response topic, QoS 1 both ways. */
export async function startMqttResponder (params: MqttResponderParams): Promise<Running<Record<string, never>>> {
  const client = await connectMqtt(params.url)
  client.on('message', (topic, payload) => {
    client.publish(responseTopicFor(topic), payload, { qos: 1 })
  })
  await client.subscribeAsync(REQUEST_FILTER, { qos: 1 })
  return { info: {}, stop: async () => { await client.endAsync() } }
}
