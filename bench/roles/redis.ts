import { startDaemon, type DaemonInfo } from '../daemon.js'
import type { Running } from '../ipc.js'

export interface RedisParams { binary: string }

/**
 * The Redis that `switch serve --redis` switches share, configured as the README says to lose nothing
 * acknowledged (appendonly yes, appendfsync always), on one loopback listener, its files in a fresh directory.
 */
export async function startRedis (params: RedisParams): Promise<Running<DaemonInfo>> {
  return await startDaemon({
    binary: params.binary,
    scheme: 'redis',
    config: (port, dir) => [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly yes', 'appendfsync always', 'loglevel warning'
    ].join('\n') + '\n',
    args: (configFile) => [configFile]
  })
}
