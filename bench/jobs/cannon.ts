import autocannon from 'autocannon'
import { PAYLOAD } from '../api.js'
import { Samples, type Throughput } from '../stats.js'

export interface CannonParams {
  url: string
  path: string
  connections: number
  seconds: number
  warmupSeconds: number
  /** Session tokens, handed round-robin to the connections (each connection is one sender). */
  tokens?: string[]
}

/** autocannon POSTing the 64-byte payload in a closed loop per connection. */
export async function cannon (params: CannonParams): Promise<Throughput> {
  if (params.warmupSeconds > 0) await fire(params, params.warmupSeconds)
  return await fire(params, params.seconds)
}

async function fire (params: CannonParams, seconds: number): Promise<Throughput> {
  const samples = new Samples()
  const tokens = params.tokens ?? []
  let connection = 0
  const start = process.hrtime.bigint()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: params.url + params.path,
      method: 'POST',
      body: PAYLOAD,
      headers: { 'content-type': 'application/octet-stream' },
      connections: params.connections,
      duration: seconds,
      setupClient: (client) => {
        if (tokens.length === 0) return
        const token = tokens[connection++ % tokens.length]
        client.setHeaders({ 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` })
      }
    }, (error, done) => { if (error !== null && error !== undefined) reject(error as Error); else resolve(done) })
    // autocannon's own histogram keeps whole milliseconds; responseTime is a fractional millisecond.
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) samples.add(responseTime * 1000)
    })
  })
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  return {
    rps: samples.count / elapsed,
    completed: samples.count,
    failed: result.errors + result.non2xx,
    seconds: elapsed,
    latency: samples.summary()
  }
}
