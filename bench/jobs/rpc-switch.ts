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
}

/** The RPC workload through the switch: one client, `concurrency` calls in flight, as a user would write it. */
export async function rpcSwitch (params: SwitchRpcParams): Promise<Throughput> {
  const client = new SwitchClient({ url: params.url, client: 'bench-caller', retryFor: RETRY_FOR_MS, ...params.credentials })
  try {
    return await closedLoop(params, async () => { await client.rpc(params.queue, PAYLOAD, { timeout: 30 }) })
  } finally {
    await client.close()
  }
}
