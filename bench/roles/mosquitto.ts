import { startDaemon, type DaemonInfo } from '../daemon.js'
import type { Running } from '../ipc.js'

export interface MosquittoParams { binary: string }

/** The peer users pick for MQTT: Mosquitto, in memory, MQTT 5 and 3.1.1, on one loopback listener. */
export async function startMosquitto (params: MosquittoParams): Promise<Running<DaemonInfo>> {
  return await startDaemon({
    binary: params.binary,
    scheme: 'mqtt',
    config: (port) => [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // As on every other socket of the comparison (see connectMqtt).
      'set_tcp_nodelay true',
      // QoS 1 messages in flight per client: the default 20 would hold back a shared client's 16 calls' replies.
      'max_inflight_messages 0',
      'max_queued_messages 10000',
      'log_dest stderr',
      'log_type error',
      ''
    ].join('\n'),
    args: (configFile) => ['-c', configFile]
  })
}
