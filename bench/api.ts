import { Pool, type Dispatcher } from 'undici'
import type { LoginResponse, ListResponse, SendResponse, TransferResponse } from '../protocol/wire.js'
import type { PublishResponse } from '../protocol/topics.js'

/** A 64-byte payload: the message size every figure uses. */
export const PAYLOAD = Buffer.alloc(64, 'x')

/** How long the client library keeps retrying an unreachable switch: in a benchmark, that is a failure. */
export const RETRY_FOR_MS = 5000

export class ApiError extends Error {
  readonly code = 'bench_api_error'
  constructor (method: string, path: string, status: number, body: string) {
    super(`${method} ${path} answered ${status}: ${body.slice(0, 200)}`)
    this.name = 'ApiError'
  }
}

/**
 * The switch's HTTP API at its rawest, for setting figures up and for probes that time one exchange. The
 * figures measure the API, so they go around the client library (whose own cost the RPC figures show).
 */
export class Api {
  readonly dispatcher: Dispatcher

  constructor (dispatcher: Dispatcher) {
    this.dispatcher = dispatcher
  }

  /** An Api over a keep-alive pool of `connections` to `url`. */
  static pool (url: string, connections: number): Api {
    return new Api(new Pool(url, { connections, headersTimeout: 0, bodyTimeout: 0 }))
  }

  async close (): Promise<void> {
    await this.dispatcher.close()
  }

  private async call (method: Dispatcher.HttpMethod, path: string, token?: string, body?: Buffer | string): Promise<string> {
    const headers: Record<string, string> = {}
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (typeof body === 'string') headers['content-type'] = 'application/json'
    else if (body !== undefined) headers['content-type'] = 'application/octet-stream'
    const response = await this.dispatcher.request({ method, path, headers, body })
    const text = await response.body.text()
    if (response.statusCode >= 300) throw new ApiError(method, path, response.statusCode, text)
    return text
  }

  async login (client: string): Promise<string> {
    const text = await this.call('POST', '/v1/sessions', undefined, JSON.stringify({ client }))
    return (JSON.parse(text) as LoginResponse).token
  }

  async createQueue (token: string, name: string): Promise<void> {
    await this.call('PUT', `/v1/queues/${encodeURIComponent(name)}`, token)
  }

  async subscribe (token: string, queue: string): Promise<void> {
    await this.call('PUT', `/v1/session/subscriptions/${encodeURIComponent(queue)}`, token)
  }

  async send (token: string, queue: string, payload: Buffer = PAYLOAD): Promise<number> {
    const text = await this.call('POST', `/v1/queues/${encodeURIComponent(queue)}/messages`, token, payload)
    return (JSON.parse(text) as SendResponse).id
  }

  async bind (token: string, queue: string, filter: string): Promise<void> {
    await this.call('PUT', `/v1/queues/${encodeURIComponent(queue)}/bindings/${encodeURIComponent(filter)}`, token)
  }

  /** Publishes a 64-byte payload; resolves with how many queues received it. */
  async publish (token: string, topic: string, payload: Buffer = PAYLOAD): Promise<number> {
    const text = await this.call('POST', `/v1/topics/${encodeURIComponent(topic)}/messages`, token, payload)
    return (JSON.parse(text) as PublishResponse).count
  }

  async ack (token: string, id: number): Promise<void> {
    await this.call('DELETE', `/v1/messages/${id}`, token)
  }

  async transfer (token: string, after: number, timeoutSeconds: number, max?: number): Promise<TransferResponse> {
    const query = `after=${after}&timeout=${timeoutSeconds}${max === undefined ? '' : `&max=${max}`}`
    return JSON.parse(await this.call('GET', `/v1/transfer?${query}`, token)) as TransferResponse
  }

  /** How many queues named `prefix…` have a transfer waiting on them (or had one lately). */
  async aliveCount (prefix: string): Promise<number> {
    const text = await this.call('GET', `/v1/queues?prefix=${encodeURIComponent(prefix)}&alive=true`)
    return (JSON.parse(text) as ListResponse).queues.length
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function inParallel (count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
