import { Client } from 'undici'
import { PAYLOAD } from '../api.js'
import type { Throughput } from '../stats.js'
import { closedLoop, type LoopOptions } from './loop.js'

export interface EchoParams extends LoopOptions {
  url: string
  /** Connections the exchanges are spread over (1 unless told), each an undici Client as the library uses. */
  clients?: number
}

/** One bare HTTP exchange as a round trip: undici POSTs 64 bytes to a bare Fastify echo, which sends them back. */
export async function echoHttp (params: EchoParams): Promise<Throughput> {
  const clients = Array.from({ length: params.clients ?? 1 }, () => new Client(params.url, { pipelining: 1 }))
  try {
    return await closedLoop(params, async (worker) => {
      const response = await clients[worker % clients.length].request({
        method: 'POST', path: '/echo', body: PAYLOAD, headers: { 'content-type': 'application/octet-stream' }
      })
      const body = await response.body.arrayBuffer()
      if (response.statusCode !== 200 || body.byteLength !== PAYLOAD.length) throw new Error(`echo answered ${response.statusCode} with ${body.byteLength} bytes`)
    })
  } finally {
    await Promise.all(clients.map(async (client) => { await client.close() }))
  }
}
