import { randomUUID } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { PAYLOAD } from '../api.js'
import { callOf, connectMqtt, requestTopic, responseFilter, responseTopic, REQUEST_TOPIC, type MqttVersion } from '../mqtt.js'
import type { Throughput } from '../stats.js'
import { closedLoop, type LoopOptions } from './loop.js'

export interface RpcParams extends LoopOptions {
  url: string
  /** 4 (MQTT 3.1.1, the call in the topic) unless told; 5 uses response topics and correlation data. */
  protocolVersion?: MqttVersion
  /** Clients the calls are spread over (1 unless told): one per call in flight is one per separate program. */
  clients?: number
}

/** One caller's client: `call` publishes a request, QoS 1, and resolves when its response arrives. */
async function caller (url: string, version: MqttVersion): Promise<{ client: MqttClient, call: () => Promise<void> }> {
  const client = await connectMqtt(url, version)
  const name = randomUUID()
  const pending = new Map<number, () => void>()
  const settle = (call: number): void => {
    pending.get(call)?.()
    pending.delete(call)
  }
  let calls = 0
  let publish: (call: number, done: (error?: Error) => void) => void
  if (version === 5) {
    const replyTo = responseTopic(name)
    client.on('message', (_topic, _payload, packet) => { settle(Number(packet.properties?.correlationData?.toString())) })
    await client.subscribeAsync(replyTo, { qos: 1 })
    publish = (call, done) => {
      client.publish(REQUEST_TOPIC, PAYLOAD, { qos: 1, properties: { responseTopic: replyTo, correlationData: Buffer.from(String(call)) } }, done)
    }
  } else {
    client.on('message', (topic) => { settle(callOf(topic)) })
    await client.subscribeAsync(responseFilter(name), { qos: 1 })
    publish = (call, done) => { client.publish(requestTopic(name, call), PAYLOAD, { qos: 1 }, done) }
  }
  const call = async (): Promise<void> => {
    const id = ++calls
    await new Promise<void>((resolve, reject) => {
      pending.set(id, resolve)
      publish(id, (error) => {
        if (error === undefined || error === null) return
        pending.delete(id)
        reject(error)
      })
    })
  }
  return { client, call }
}

/** The RPC workload through an MQTT broker: `concurrency` calls in flight over `clients` clients, QoS 1 both ways. */
export async function rpcMqtt (params: RpcParams): Promise<Throughput> {
  const version = params.protocolVersion ?? 4
  const callers = await Promise.all(Array.from({ length: params.clients ?? 1 }, async () => await caller(params.url, version)))
  try {
    return await closedLoop(params, async (worker) => { await callers[worker % callers.length].call() })
  } finally {
    await Promise.all(callers.map(async ({ client }) => await client.endAsync()))
  }
}
