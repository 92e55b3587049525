import { startDaemon, type DaemonInfo } from '../daemon.js'
import type { Running } from '../ipc.js'

export interface NatsParams { binary: string }

/** The peer users pick for request-reply: nats-server, core NATS (no JetStream), on one loopback listener. */
export async function startNats (params: NatsParams): Promise<Running<DaemonInfo>> {
  return await startDaemon({
    binary: params.binary,
    scheme: 'nats',
    config: (port) => `listen: "127.0.0.1:${port}"\n`,
    args: (configFile) => ['-c', configFile]
  })
}
