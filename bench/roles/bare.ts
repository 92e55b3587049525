import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import type { Running } from '../ipc.js'

export interface ServerInfo { url: string }

/**
 * The ceiling: Fastify answering a POST with the same raw-body parsing and the same 201 JSON answer as the
 * switch's send, and nothing else. No switch figure can beat it; each is printed as a ratio to it. `/echo` answers
 * a POST with its own body.
 */
export async function startBare (): Promise<Running<ServerInfo>> {
  const app = Fastify({ logger: false })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
  let id = 0
  app.post('/', async (_request, reply) => await reply.code(201).send({ id: ++id, duplicate: false }))
  // One bare exchange that carries a payload both ways, the floor under an RPC's hops (the peers figures).
  app.post('/echo', async (request, reply) => await reply.type('application/octet-stream').send(request.body))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { info: { url: `http://127.0.0.1:${port}` }, stop: async () => { await app.close() } }
}
