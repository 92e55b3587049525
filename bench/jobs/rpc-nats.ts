import { connect } from 'nats'
import { PAYLOAD } from '../api.js'
import type { Throughput } from '../stats.js'
import { closedLoop, type LoopOptions } from './loop.js'

export interface NatsRpcParams extends LoopOptions {
  url: string
  subject: string
  /** Connections the calls are spread over (1 unless told): one per call in flight is one per separate program. */
  clients?: number
}

/** The RPC workload through nats-server: core NATS request-reply, as nats.js users write it. */
export async function rpcNats (params: NatsRpcParams): Promise<Throughput> {
  const { host } = new URL(params.url)
  const connections = await Promise.all(Array.from({ length: params.clients ?? 1 }, async () => await connect({ servers: host })))
  try {
    return await closedLoop(params, async (worker) => {
      await connections[worker % connections.length].request(params.subject, PAYLOAD, { timeout: 30_000 })
    })
  } finally {
    await Promise.all(connections.map(async (connection) => { await connection.close() }))
  }
}
