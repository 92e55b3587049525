import { SwitchClient } from '../../lib/client.js'
import { RETRY_FOR_MS } from '../api.js'
import type { Running } from '../ipc.js'
import type { BenchCredentials } from './switch.js'

export interface SwitchResponderParams {
  url: string
  queue: string
  /** Handlers at once: at least the callers' concurrency, so the responder is not what is measured. */
  concurrency: number
  /** A principal and its secret, for a switch with an auth file. */
  credentials?: BenchCredentials
}

/** The switch's responder: `serve` echoing each request, through the client library. */
export async function startSwitchResponder (params: SwitchResponderParams): Promise<Running<Record<string, never>>> {
  const client = new SwitchClient({ url: params.url, client: 'bench-responder', retryFor: RETRY_FOR_MS, ...params.credentials })
  // Created before `ready`, so that no call finds the queue missing; serve creating it again is a no-op.
  await client.createQueue(params.queue)
  const service = client.serve(params.queue, (request) => request, { concurrency: params.concurrency })
  return { info: {}, stop: async () => { await service.stop(); await client.close() } }
}
