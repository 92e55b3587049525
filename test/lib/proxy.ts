// A tiny TCP proxy on 127.0.0.1 between a client and a switch, to make the network misbehave on purpose: reset
// every connection at once, hold the switch's answers back, lose them, or swallow everything (a switch that hangs).
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Test } from 'tap'

export interface ProxyOptions {
  /** Milliseconds each chunk from the switch is held before it goes on to the client. */
  delayMs?: number
  /** Accept connections and never forward a byte: a switch that has hung. */
  blackHole?: boolean
}

export interface Proxy {
  url: string
  /** Connections accepted so far. */
  readonly accepted: number
  /** Resets every open connection (both sides), as a network failure would. */
  resetAll: () => void
  /**
   * While true, requests still reach the switch but its answers do not come back: the connection is reset
   * instead, as if the switch died between doing what it was asked and saying so.
   */
  loseAnswers: boolean
}

export async function startProxy (t: Test, target: string, options: ProxyOptions = {}): Promise<Proxy> {
  const { hostname, port } = new URL(target)
  const pairs = new Set<[Socket, Socket | undefined]>()
  let accepted = 0
  let loseAnswers = false
  const server: Server = createServer((client) => {
    accepted++
    client.on('error', () => {})
    if (options.blackHole === true) {
      const pair: [Socket, undefined] = [client, undefined]
      pairs.add(pair)
      client.on('close', () => { pairs.delete(pair) })
      return
    }
    const upstream = connect({ host: hostname, port: Number(port) })
    upstream.on('error', () => {})
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.pipe(upstream)
    // Held back in order: each chunk leaves `delayMs` after it came, never before the one ahead of it.
    let last = Promise.resolve()
    const delay = options.delayMs ?? 0
    upstream.on('data', (chunk: Buffer) => {
      if (loseAnswers) {
        client.resetAndDestroy()
        upstream.destroy()
        return
      }
      if (delay === 0) {
        client.write(chunk)
        return
      }
      const due = Date.now() + delay
      last = last.then(async () => {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())))
        if (!client.destroyed) client.write(chunk)
      })
    })
    const close = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', close)
    upstream.on('close', () => { void last.then(close) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no proxy address')
  const resetAll = (): void => {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy()
      upstream?.resetAndDestroy()
    }
    pairs.clear()
  }
  t.teardown(async () => {
    resetAll()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return {
    url: `http://127.0.0.1:${address.port}`,
    get accepted () { return accepted },
    resetAll,
    get loseAnswers () { return loseAnswers },
    set loseAnswers (lose: boolean) { loseAnswers = lose }
  }
}
