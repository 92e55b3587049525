import { SwitchClient } from '../../lib/client.js'
import { PAYLOAD, RETRY_FOR_MS } from '../api.js'
import type { BenchCredentials } from '../roles/switch.js'
import type { Throughput } from '../stats.js'
import { closedLoop, type LoopOptions } from './loop.js'

export interface SwitchRpcParams extends LoopOptions {
  url: string
  queue: string
  /** A principal and its secret, for a switch with an auth file. */
  credentials?: BenchCredentials
  /** Clients the calls are spread over (1 unless told): one per call in flight is one per separate program. */
  clients?: number
}

/** The RPC workload through the switch: `concurrency` calls in flight over `clients` clients, as a user would write it. */
export async function rpcSwitch (params: SwitchRpcParams): Promise<Throughput> {
  const clients = Array.from({ length: params.clients ?? 1 }, (_, i) =>
    new SwitchClient({ url: params.url, client: `bench-caller-${i}`, retryFor: RETRY_FOR_MS, ...params.credentials }))
  try {
    // Each client logs in (an auth file's scrypt check), makes its reply queue and opens its delivery stream before
    // the clock starts: a short run would otherwise measure that setup, not round trips.
    await Promise.all(clients.map(async (client) => await client.rpc(params.queue, PAYLOAD, { timeout: 30 })))
    return await closedLoop(params, async (worker) => { await clients[worker % clients.length].rpc(params.queue, PAYLOAD, { timeout: 30 }) })
  } finally {
    await Promise.all(clients.map(async (client) => { await client.close() }))
  }
}
