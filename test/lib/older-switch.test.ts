// The library against a switch from before GET /v1/socket and GET /v1/deliveries (it answers 404 for the stream,
// and the proxy in front passes no upgrade on): rpc and serve fall back to long-polling transfer and still work.
import { once } from 'node:events'
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { clientOf, runSwitch } from './fixtures.js'

/** An HTTP proxy to `target` that answers /v1/deliveries as a switch without it would: 404 not_found. */
async function olderSwitch (target: string): Promise<{ url: string, refused: () => number }> {
  let refused = 0
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith('/v1/deliveries') === true) {
      refused++
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
      response.end(JSON.stringify({ error: { code: 'not_found', message: `Route GET:${request.url} not found` } }))
      return
    }
    const upstream = forward(new URL(request.url ?? '/', target), { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => { response.destroy() })
    request.pipe(upstream)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, refused: () => refused }
}

t.test('rpc and serve long-poll transfer against a switch without /v1/deliveries', async (t) => {
  const { url: switchUrl } = await runSwitch(t)
  const { url, refused } = await olderSwitch(switchUrl)
  const server = clientOf(t, url, { client: 'server' })
  const caller = clientOf(t, url, { client: 'caller' })
  const service = server.serve('echo', async (request) => `echo ${request.toString()}`, { concurrency: 4 })
  const replies = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await caller.rpc('echo', `call ${i}`)).toString()))
  t.same(replies, Array.from({ length: 20 }, (_, i) => `echo call ${i}`), 'every call answered')
  // Once each (the service's client and the caller's), then they long-poll: a fallback that asked again would show.
  t.equal(refused(), 2, 'each client asked for the stream once')
  await service.stop()
  await service.done
})
