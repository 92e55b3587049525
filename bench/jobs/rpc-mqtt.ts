import { randomUUID } from 'node:crypto'
import { PAYLOAD } from '../api.js'
import { callOf, connectMqtt, requestTopic, responseFilter } from '../mqtt.js'
import type { Throughput } from '../stats.js'
import { closedLoop, type LoopOptions } from './loop.js'

export interface RpcParams extends LoopOptions {
  url: string
}

/** The RPC workload through the MQTT broker: one client, `concurrency` calls in flight, QoS 1 both ways. */
export async function rpcMqtt (params: RpcParams): Promise<Throughput> {
  const client = await connectMqtt(params.url)
  try {
    const caller = randomUUID()
    const pending = new Map<number, () => void>()
    client.on('message', (topic) => {
      const call = callOf(topic)
      pending.get(call)?.()
      pending.delete(call)
    })
    await client.subscribeAsync(responseFilter(caller), { qos: 1 })
    let calls = 0
    return await closedLoop(params, async () => {
      const call = ++calls
      await new Promise<void>((resolve, reject) => {
        pending.set(call, resolve)
        client.publish(requestTopic(caller, call), PAYLOAD, { qos: 1 }, (error) => {
          if (error === undefined || error === null) return
          pending.delete(call)
          reject(error)
        })
      })
    })
  } finally {
    await client.endAsync()
  }
}
