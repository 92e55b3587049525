import { MqttClient } from 'mqtt'
import { createConnection } from 'node:net'

// Request/response over MQTT 3.1.1 (all Aedes speaks): the caller names itself and the call in the request's
// topic, and the responder answers on the mirrored response topic, to which only that caller subscribes.
// Over MQTT 5 (Mosquitto), as MQTT 5 means it done: one request topic, and each request carries its response
// topic (the caller's own) and correlation data (the call), which the responder hands back.

export type MqttVersion = 4 | 5

export const REQUEST_FILTER = 'bench/req/#'
/** The MQTT 5 request topic. */
export const REQUEST_TOPIC = 'bench/req'
const REQUEST_PREFIX = 'bench/req/'
const RESPONSE_PREFIX = 'bench/res/'

/** The MQTT 5 response topic of one caller. */
export function responseTopic (caller: string): string {
  return `${RESPONSE_PREFIX}${caller}`
}

export function requestTopic (caller: string, call: number): string {
  return `${REQUEST_PREFIX}${caller}/${call}`
}

export function responseFilter (caller: string): string {
  return `${RESPONSE_PREFIX}${caller}/+`
}

export function responseTopicFor (requestTopic: string): string {
  return RESPONSE_PREFIX + requestTopic.slice(REQUEST_PREFIX.length)
}

/** The call number in a response topic. */
export function callOf (responseTopic: string): number {
  return Number(responseTopic.slice(responseTopic.lastIndexOf('/') + 1))
}

/**
 * An MQTT client (3.1.1 unless told) on a TCP socket with Nagle's algorithm off, as the switch's HTTP sockets have it (and
 * Mosquitto's): left on, every QoS 1 exchange would wait out delayed ACKs and the peer would look 100× slower.
 */
export async function connectMqtt (url: string, protocolVersion: MqttVersion = 4): Promise<MqttClient> {
  const { hostname, port } = new URL(url)
  const client = new MqttClient(
    () => createConnection({ host: hostname, port: Number(port), noDelay: true }),
    { protocolVersion, clean: true, reconnectPeriod: 0 }
  )
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => { client.off('error', reject); resolve() })
    client.once('error', reject)
  })
  return client
}
