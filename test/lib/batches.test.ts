import t from 'tap'
import { Batches } from '../../lib/batches.js'
import { Connection } from '../../lib/connection.js'
import { SwitchRequestError } from '../../lib/errors.js'
import { ack, createQueue, send, subscribe, transfer } from '../../lib/operations.js'
import { Transport, type HttpRequest } from '../../lib/transport.js'
import { runSwitch } from './fixtures.js'

/** Batches over a real switch, with every HTTP request it makes recorded as "METHOD /path (items)". */
async function setup (t: Parameters<typeof runSwitch>[0]): Promise<{ connection: Connection, batches: Batches, requests: string[], epoch: number }> {
  const { url } = await runSwitch(t)
  const transport = new Transport({ urls: [url], connections: 8, retryFor: 5000 })
  t.teardown(async () => { await transport.close() })
  const requests: string[] = []
  const request = transport.request.bind(transport)
  transport.request = async <T>(http: HttpRequest): Promise<T> => {
    const body = http.json as { messages?: unknown[], ids?: unknown[] } | undefined
    const items = body?.messages?.length ?? body?.ids?.length
    requests.push(`${http.method} ${http.path}${items === undefined ? '' : ` (${items})`}`)
    return await request<T>(http)
  }
  const connection = new Connection(transport, 'batcher')
  const { epoch } = await connection.ensureSession()
  for (const queue of ['q', 'r']) {
    await createQueue(connection, queue)
    await subscribe(connection, queue)
  }
  requests.length = 0
  return { connection, batches: new Batches(connection), requests, epoch }
}

const refusal = async (promise: Promise<unknown>): Promise<SwitchRequestError> => {
  const error = await promise.then(() => undefined, (failure: unknown) => failure)
  if (!(error instanceof SwitchRequestError)) throw new Error(`expected a SwitchRequestError, got ${String(error)}`)
  return error
}

t.test('sends made together go in one request; each caller gets its own result or error', async (t) => {
  const { connection, batches, requests, epoch } = await setup(t)
  const sends = [
    batches.send({ queue: 'q', body: 'one', pin: epoch, idempotencyKey: 'k1', correlationId: 'c1', replyTo: 'r' }),
    batches.send({ queue: 'nowhere', body: 'lost', pin: epoch, idempotencyKey: 'k2' }),
    batches.send({ queue: 'r', body: Uint8Array.from([0xff, 0x00]), pin: epoch, idempotencyKey: 'k3', error: true }),
    batches.send({ queue: 'q', body: 'one again', pin: epoch, idempotencyKey: 'k1' })
  ]
  const settled = await Promise.allSettled(sends)
  t.same(requests, ['POST /messages (4)'])
  t.match(settled, [{ status: 'fulfilled' }, { status: 'rejected' }, { status: 'fulfilled' }, { status: 'fulfilled' }])

  // The same error as the single send gives.
  const batched = await refusal(sends[1])
  const single = await refusal(send(connection, 'nowhere', 'lost'))
  t.match(batched, { code: 'queue_not_found', status: 404, message: single.message })
  t.equal(batched.status, single.status)

  const { messages } = await transfer(connection)
  t.match(messages, [
    { queue: 'q', payload: 'one', correlationId: 'c1', replyTo: 'r' },
    { queue: 'r', payload: '/wA=', encoding: 'base64', error: true }
  ])
})

t.test('a lone send or ack goes as the single request; acks together share one', async (t) => {
  const { connection, batches, requests, epoch } = await setup(t)
  await batches.send({ queue: 'q', body: 'alone', pin: epoch, idempotencyKey: 'k' })
  t.same(requests, ['POST /queues/q/messages'])
  const [{ id }] = (await transfer(connection)).messages
  const second = await send(connection, 'q', 'b')
  const third = await send(connection, 'q', 'c')
  requests.length = 0

  await batches.ack(id, epoch)
  t.same(requests, [`DELETE /messages/${id}`])
  requests.length = 0
  const acks = await Promise.allSettled([batches.ack(second.id, epoch), batches.ack(id, epoch), batches.ack(third.id, epoch)])
  t.same(requests, ['POST /acks (3)'])
  t.match(acks, [{ status: 'fulfilled' }, { status: 'rejected' }, { status: 'fulfilled' }])
  const missing = await refusal(batches.ack(id, epoch))
  t.match(missing, { code: 'message_not_found', status: 404 }, 'alone: the single ack\'s 404')
  const inBatch = (acks[1] as PromiseRejectedResult).reason as SwitchRequestError
  t.match(inBatch, { code: 'message_not_found', status: 404 }, 'in a batch: the same code and status')
  t.same((await transfer(connection)).messages, [])
})

t.test('a send pinned to a session that is gone fails as its own request would', async (t) => {
  const { connection, batches, epoch } = await setup(t)
  const { id } = await send(connection, 'q', 'x')
  await connection.logout()
  const sends = [
    batches.send({ queue: 'q', body: 'a', pin: epoch, idempotencyKey: 'a' }),
    batches.send({ queue: 'q', body: 'b', pin: epoch, idempotencyKey: 'b' })
  ]
  for (const result of await Promise.allSettled(sends)) t.match(result, { status: 'rejected', reason: { code: 'session_not_found' } })
  await t.rejects(batches.ack(id, epoch), { code: 'session_not_found' })
  await t.rejects(ack(connection, id, { pin: epoch }), { code: 'session_not_found' }, 'as the unbatched ack')
})
