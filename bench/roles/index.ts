import type { DaemonInfo } from '../daemon.js'
import type { Running } from '../ipc.js'
import type { ServerInfo } from './bare.js'
import type { MosquittoParams } from './mosquitto.js'
import type { MqttResponderParams } from './mqtt-responder.js'
import type { NatsResponderParams } from './nats-responder.js'
import type { NatsParams } from './nats.js'
import type { RedisParams } from './redis.js'
import type { SwitchInfo, SwitchParams } from './switch.js'
import type { SwitchResponderParams } from './switch-responder.js'

type Nothing = Record<string, never>

// Loaded lazily so that a switch process holds only the switch's code (its RSS is measured).
/** Everything a bench process can be: a server under test, a responder, or a load generator. */
export const roles = {
  bare: async (): Promise<Running<ServerInfo>> => await (await import('./bare.js')).startBare(),
  switch: async (params: SwitchParams): Promise<Running<SwitchInfo>> =>
    await (await import('./switch.js')).startBenchSwitch(params),
  aedes: async (): Promise<Running<ServerInfo>> => await (await import('./aedes.js')).startAedes(),
  mosquitto: async (params: MosquittoParams): Promise<Running<DaemonInfo>> => await (await import('./mosquitto.js')).startMosquitto(params),
  nats: async (params: NatsParams): Promise<Running<DaemonInfo>> => await (await import('./nats.js')).startNats(params),
  redis: async (params: RedisParams): Promise<Running<DaemonInfo>> => await (await import('./redis.js')).startRedis(params),
  'switch-responder': async (params: SwitchResponderParams): Promise<Running<Nothing>> =>
    await (await import('./switch-responder.js')).startSwitchResponder(params),
  'mqtt-responder': async (params: MqttResponderParams): Promise<Running<Nothing>> =>
    await (await import('./mqtt-responder.js')).startMqttResponder(params),
  'nats-responder': async (params: NatsResponderParams): Promise<Running<Nothing>> =>
    await (await import('./nats-responder.js')).startNatsResponder(params),
  /** A process that only runs the jobs it is sent. */
  load: async (): Promise<Running<Nothing>> => ({ info: {}, stop: async () => {} })
}

export type Roles = typeof roles
export type RoleName = keyof Roles
export type RoleParams<R extends RoleName> = Parameters<Roles[R]>[0]
export type RoleInfo<R extends RoleName> = Awaited<ReturnType<Roles[R]>>['info']
