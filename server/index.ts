import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { AddressInfo } from 'node:net'
import { Switch, type SwitchOptions } from './core/switch.js'
import { buildApp } from './http/app.js'

export { Switch, DEFAULT_SWITCH_OPTIONS } from './core/switch.js'
export type { SwitchOptions } from './core/switch.js'
export { MemoryStore } from './store/memory.js'
export type { Store, StoreRecord, Snapshot } from './store/store.js'
export { buildApp } from './http/app.js'

export interface ServerConfig extends Partial<SwitchOptions> {
  host?: string
  /** 0 picks a free port. */
  port?: number
  logger?: FastifyServerOptions['logger']
}

export interface RunningSwitch {
  core: Switch
  app: FastifyInstance
  url: string
  /** Graceful stop: refuse new work, answer waiting long-polls empty, finish in-flight responses, close. */
  stop: () => Promise<void>
  /** Resolves once the switch has stopped, however the stop was asked for (API, signal, `stop`). */
  stopped: Promise<void>
}

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080

export async function startSwitch (config: ServerConfig = {}): Promise<RunningSwitch> {
  const { host = DEFAULT_HOST, port = DEFAULT_PORT, logger, ...switchOptions } = config
  const core = new Switch(switchOptions)
  let resolveStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve })
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      core.shutdown()
      await app.close()
      await core.close()
      resolveStopped()
    })()
    return await stopping
  }
  const app = buildApp(core, { shutdown: () => { void stop() } }, { logger })
  try {
    await app.listen({ host, port })
  } catch (error) {
    await core.close()
    throw error
  }
  const address = app.server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return { core, app, url: `http://${shownHost}:${address.port}`, stop, stopped }
}
