import { Aedes } from 'aedes'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Running } from '../ipc.js'
import type { ServerInfo } from './bare.js'

/** The peer: Aedes, the Node MQTT broker, in memory, on its own TCP port. */
export async function startAedes (): Promise<Running<ServerInfo>> {
  const broker = await Aedes.createBroker()
  // Nagle off, as on every other socket of the comparison (see connectMqtt).
  const server = createServer({ noDelay: true }, broker.handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  const stop = async (): Promise<void> => {
    await new Promise<void>((resolve) => { broker.close(() => { resolve() }) })
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }
  return { info: { url: `mqtt://127.0.0.1:${port}` }, stop }
}
