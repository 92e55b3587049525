import { isUtf8 } from 'node:buffer'
import { Batcher } from './batcher.js'
import type { Connection } from './connection.js'
import { SwitchRequestError } from './errors.js'
import { ack, send } from './operations.js'
import { ERROR_STATUS, type BatchAckResponse, type BatchSendItem, type BatchSendResponse } from '../protocol/wire.js'
import { fromErrorBody } from './transport.js'
import { SocketClosedError } from './socket.js'
import type { SocketAnswer } from '../protocol/socket.js'

/**
 * A send made for one session (its epoch, see Connection.request): rpc's requests and serve's replies. Such
 * sends are never repeated in another session, so sends of one session can share a request and its fate.
 */
export interface PinnedSend {
  queue: string
  body: string | Uint8Array
  pin: number
  /** Kept over retries: a batch retried after a lost answer enqueues each of its messages once. */
  idempotencyKey: string
  correlationId?: string
  replyTo?: string
  ack?: number
  error?: boolean
}

interface PinnedAck {
  id: number
  pin: number
}

/** Two requests of each kind in flight: one being answered while the next one fills. */
const IN_FLIGHT = 2
/** Well under the switch's own limit per batch (BATCH_MAX_ITEMS): 256 calls in flight are a lot already. */
const MAX_ITEMS = 256
/**
 * Payload bytes per batch. JSON may inflate text up to 6 times (escapes), which keeps a batch within the
 * switch's 4 MiB batch body limit; a larger payload goes alone as a raw body, like any send.
 */
const MAX_BATCH_BYTES = 512 * 1024

const unreadable = (what: string): SwitchRequestError => new SwitchRequestError('internal', ERROR_STATUS.internal, `the switch answered a batch with ${what}`)
const fulfilled = <T>(value: T): PromiseSettledResult<T> => ({ status: 'fulfilled', value })
const rejected = <T>(reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason })

/** A send as a batch item: the payload as text when it is UTF-8, else in base64 (as transfer shows it). */
function toWire (item: PinnedSend): BatchSendItem {
  const { queue, body } = item
  let wire: BatchSendItem
  if (typeof body === 'string') {
    wire = { queue, payload: body }
  } else {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    wire = isUtf8(bytes) ? { queue, payload: bytes.toString('utf8') } : { queue, payload: bytes.toString('base64'), encoding: 'base64' }
  }
  wire.idempotencyKey = item.idempotencyKey
  if (item.correlationId !== undefined) wire.correlationId = item.correlationId
  if (item.replyTo !== undefined) wire.replyTo = item.replyTo
  if (item.ack !== undefined) wire.ack = item.ack
  if (item.error === true) wire.error = true
  return wire
}

/** A send that is out: `confirmed` settles once the switch has taken it, or with its failure. */
interface Sent {
  confirmed: Promise<void>
}

const SENT: Sent = { confirmed: Promise.resolve() }

function settledAsSent (result: PromiseSettledResult<void>): PromiseSettledResult<Sent> {
  return result.status === 'fulfilled' ? fulfilled(SENT) : result
}

/** Each item's outcome in a batch send's answer. */
function resultsOf (items: PinnedSend[], { results }: BatchSendResponse): Array<PromiseSettledResult<void>> {
  if (results.length !== items.length) throw unreadable(`${results.length} results for ${items.length} messages`)
  return results.map((result) => 'error' in result
    ? rejected(fromErrorBody(result) ?? unreadable(JSON.stringify(result)))
    : fulfilled(undefined))
}

function sizeOf (item: PinnedSend): number {
  return typeof item.body === 'string' ? item.body.length : item.body.byteLength
}

/**
 * The sends and acks of rpc and serve, batched (see Batcher): with one call at a time each goes out as its own
 * request as before; with many in flight they share `POST /v1/messages` and `POST /v1/acks` requests (or their
 * frames, when the session's socket is open), and each caller still gets its own item's answer, or the very
 * error its own request would have had.
 */
export class Batches {
  private readonly sends: Batcher<PinnedSend, Sent>
  private readonly acks: Batcher<PinnedAck, void>

  constructor (private readonly connection: Connection) {
    this.sends = new Batcher<PinnedSend, Sent>({
      one: async (item) => {
        if (connection.socket.current(item.pin) !== undefined) {
          const [result] = await this.sendMany([item])
          if (result.status === 'rejected') throw result.reason
          return result.value
        }
        await send(connection, item.queue, item.body, {
          correlationId: item.correlationId,
          replyTo: item.replyTo,
          ack: item.ack,
          error: item.error,
          idempotencyKey: item.idempotencyKey,
          pin: item.pin
        })
        return SENT
      },
      many: async (items) => await this.sendMany(items),
      inFlight: IN_FLIGHT,
      maxItems: MAX_ITEMS,
      maxSize: MAX_BATCH_BYTES,
      sizeOf,
      groupOf: (item) => item.pin
    })
    this.acks = new Batcher<PinnedAck, void>({
      one: async (item) => {
        if (connection.socket.current(item.pin) !== undefined) {
          const [result] = await this.ackMany([item])
          if (result.status === 'rejected') throw result.reason
          return
        }
        await ack(connection, item.id, { pin: item.pin })
      },
      many: async (items) => await this.ackMany(items),
      inFlight: IN_FLIGHT,
      maxItems: MAX_ITEMS,
      maxSize: Infinity,
      sizeOf: () => 0,
      groupOf: (item) => item.pin,
      background: true
    })
  }

  /**
   * Over the session's socket, a quiet send: the switch answers only failures and confirms the rest with a `done`
   * on a push the client gets anyway (a reply, the next request), so a send costs no answer frame of its own.
   * The batch is out once written: its items' confirmations come later, and do not hold the next batch back
   * (the push that confirms them may well wait for that batch, a service's next reply).
   */
  private async sendMany (items: PinnedSend[]): Promise<Array<PromiseSettledResult<Sent>>> {
    const messages = items.map(toWire)
    const http = async (): Promise<BatchSendResponse> =>
      await this.connection.request<BatchSendResponse>({ method: 'POST', path: '/messages', json: { messages }, pin: items[0].pin })
    const socket = this.connection.socket.current(items[0].pin)
    if (socket === undefined) return resultsOf(items, await http()).map((result) => settledAsSent(result))
    const settled = socket.sendQuietly(messages).then(
      (answer) => answer === undefined ? items.map(() => fulfilled(undefined)) : resultsOf(items, answer),
      async (error: unknown) => {
        // Unconfirmed when the socket closed: sent again over HTTP, where each idempotency key finds its first send.
        if (!(error instanceof SocketClosedError)) throw error
        return resultsOf(items, await http())
      })
    return items.map((_, i) => fulfilled({
      confirmed: settled.then((results) => {
        const result = results[i]
        if (result.status === 'rejected') throw result.reason
      })
    }))
  }

  private async ackMany (items: PinnedAck[]): Promise<Array<PromiseSettledResult<void>>> {
    const ids = items.map((item) => item.id)
    const { acked } = await this.viaSocket(items[0].pin, { op: 'ack', ids }, async () =>
      await this.connection.request<BatchAckResponse>({ method: 'POST', path: '/acks', json: { ids }, pin: items[0].pin }))
    // Counted, not a set: an id twice in one batch is acked once, and the second is missing, as two DELETEs.
    const took = new Map<number, number>()
    for (const id of acked) took.set(id, (took.get(id) ?? 0) + 1)
    return ids.map((id) => {
      const left = took.get(id) ?? 0
      if (left === 0) return rejected(new SwitchRequestError('message_not_found', ERROR_STATUS.message_not_found, `message ${id} was not acked: the switch does not hold it (never sent, or acked already)`))
      took.set(id, left - 1)
      return fulfilled(undefined)
    })
  }

  /**
   * Acks over the session's socket when it is open, else (or when it closes before answering) over HTTP.
   * Repeating them is safe: an ack made twice is only `missing` the second time.
   */
  private async viaSocket<A> (pin: number, frame: { op: 'ack', ids: number[] }, http: () => Promise<A>): Promise<A> {
    const socket = this.connection.socket.current(pin)
    if (socket === undefined) return await http()
    try {
      return await socket.request<SocketAnswer & A>(frame)
    } catch (error) {
      if (error instanceof SocketClosedError) return await http()
      throw error
    }
  }

  /**
   * As operations.send, without the new message's id: settles once the switch has taken the message (with `ack`,
   * a reply whose caller is gone counts as taken: the switch acked the request), or fails as the send would.
   */
  async send (item: PinnedSend): Promise<void> {
    const { confirmed } = await this.sends.submit(item)
    await confirmed
  }

  /** Acks message `id`, which the session of epoch `pin` received. */
  async ack (id: number, pin: number): Promise<void> {
    await this.acks.submit({ id, pin })
  }
}
