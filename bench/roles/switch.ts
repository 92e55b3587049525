import { startSwitch } from '../../server/index.js'
import type { Running } from '../ipc.js'

export interface SwitchParams {
  /** Keep state durably in this directory. */
  dataDir?: string
  /** Share state with the switches on this Redis (`switch serve --redis`). */
  redis?: string
  /** Principals and permissions (`switch serve --auth-file`): every request is then checked. */
  authFile?: string
}

/** What a bench client logs in with on a switch with an auth file. */
export interface BenchCredentials {
  principal: string
  secret: string
}

export interface SwitchInfo {
  url: string
  /** The store the switch reports using (memory, sqlite, …). */
  store: string
}

/** The switch under test, alone in its process. */
export async function startBenchSwitch (params: SwitchParams): Promise<Running<SwitchInfo>> {
  const running = await startSwitch({
    port: 0,
    // Long enough that no session of a figure's setup expires while the figure runs.
    sessionTtl: 600_000,
    // The figures measure speed, not the limits: no queue or byte limit may refuse their load.
    maxQueues: 1_000_000,
    maxQueueLength: 100_000_000,
    maxQueuedBytes: 16 * 1024 ** 3,
    ...params
  })
  return { info: { url: running.url, store: running.core.storeInfo.kind }, stop: running.stop }
}
