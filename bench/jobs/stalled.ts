import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { Api } from '../api.js'
import { peakRssKiB, rssKiB } from '../rss.js'
import { microsSince, Samples, type LatencySummary } from '../stats.js'

export interface StalledParams {
  url: string
  /** The switch's process, whose RSS is read. */
  switchPid: number
  /** Connections that ask for a big answer and never read it. */
  readers: number
  /** 1 MiB messages queued, which each reader asks for all of. */
  messages: number
  /** Health checks timed while the readers stall, one after another. */
  probes: number
}

export interface StalledResult {
  readers: number
  messages: number
  /** Switch RSS once the messages were queued, before any reader. */
  rssQueuedKiB: number
  /** The switch's peak RSS over its life, read after the probes. */
  rssPeakKiB: number
  /** Health check round trips while the readers stall. */
  health: LatencySummary
}

const QUEUE = 'stalled'
const MiB = 1024 * 1024

/** Clients that ask for everything queued and never read: the switch's memory, and whether it still answers. */
export async function stalledReaders (params: StalledParams): Promise<StalledResult> {
  const api = Api.pool(params.url, 1)
  const readers: Socket[] = []
  try {
    const token = await api.login('stalled')
    await api.createQueue(token, QUEUE)
    await api.subscribe(token, QUEUE)
    const payload = Buffer.alloc(MiB, 'a')
    for (let i = 0; i < params.messages; i++) await api.send(token, QUEUE, payload)
    const rssQueuedKiB = rssKiB(params.switchPid)

    const { hostname, port } = new URL(params.url)
    for (let i = 0; i < params.readers; i++) {
      const socket = connect({ host: hostname, port: Number(port) })
      socket.on('error', () => {})
      readers.push(socket)
      await once(socket, 'connect')
      // Never read: no 'data' listener, so the socket stays paused once its buffer is full.
      socket.write(`GET /v1/transfer?after=0&max=${params.messages} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    }
    const samples = new Samples()
    for (let i = 0; i < params.probes; i++) {
      const start = process.hrtime.bigint()
      const response = await api.dispatcher.request({ method: 'GET', path: '/v1/health' })
      await response.body.text()
      if (response.statusCode !== 200) throw new Error(`health answered ${response.statusCode}`)
      samples.add(microsSince(start))
    }
    return {
      readers: params.readers,
      messages: params.messages,
      rssQueuedKiB,
      rssPeakKiB: peakRssKiB(params.switchPid),
      health: samples.summary()
    }
  } finally {
    for (const socket of readers) socket.destroy()
    await api.close()
  }
}
