import type { Running } from '../ipc.js'
import { connectMqtt, REQUEST_FILTER, REQUEST_TOPIC, responseTopicFor, type MqttVersion } from '../mqtt.js'

export interface MqttResponderParams {
  url: string
  /** 4 (MQTT 3.1.1) unless told; 5 answers on each request's response topic with its correlation data. */
  protocolVersion?: MqttVersion
}

/** The peer's responder: echoes each request to its response topic, QoS 1 both ways. */
export async function startMqttResponder (params: MqttResponderParams): Promise<Running<Record<string, never>>> {
  const version = params.protocolVersion ?? 4
  const client = await connectMqtt(params.url, version)
  if (version === 5) {
    client.on('message', (_topic, payload, packet) => {
      const replyTo = packet.properties?.responseTopic
      if (replyTo === undefined) return
      client.publish(replyTo, payload, { qos: 1, properties: { correlationData: packet.properties?.correlationData } })
    })
    await client.subscribeAsync(REQUEST_TOPIC, { qos: 1 })
  } else {
    client.on('message', (topic, payload) => {
      client.publish(responseTopicFor(topic), payload, { qos: 1 })
    })
    await client.subscribeAsync(REQUEST_FILTER, { qos: 1 })
  }
  return { info: {}, stop: async () => { await client.endAsync() } }
}
