// Helpers shared by the HTTP tests: a live switch on a free port, closed with the test, a small JSON client
// over real sockets, and a bounded wait on a condition the switch reports (instead of a sleep).
import { eventually } from '../../eventually.js'
import type { IncomingHttpHeaders } from 'node:http'
import type { Test } from 'tap'
import { Agent, request, type Dispatcher } from 'undici'
import type { Diagnostics, ErrorBody, LoginResponse } from '../../../protocol/wire.js'
import { startSwitch, type RunningSwitch, type ServerConfig } from '../../../server/index.js'

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  /** The raw body as text. */
  text: string
  /** The parsed body for JSON answers, else undefined. */
  json: unknown
}

export interface CallOptions {
  token?: string
  /** Sent as `application/json`. */
  json?: unknown
  /** Sent as is (a send's payload). */
  body?: string | Buffer
  headers?: Record<string, string>
  signal?: AbortSignal
}

/** Sees every answer (the OpenAPI test validates them against the document). */
export type Observer = (method: string, path: string, reply: Reply) => void

export class Api {
  readonly url: string
  private readonly agent: Agent
  private readonly observer: Observer | undefined

  constructor (url: string, agent: Agent, observer?: Observer) {
    this.url = url
    this.agent = agent
    this.observer = observer
  }

  async call (method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body: string | Buffer | undefined = options.body
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.json)
    }
    const response = await request(this.url + path, {
      method,
      headers,
      body,
      signal: options.signal,
      dispatcher: this.agent
    })
    const text = await response.body.text()
    const type = String(response.headers['content-type'] ?? '')
    const reply: Reply = {
      status: response.statusCode,
      headers: response.headers,
      text,
      json: type.startsWith('application/json') && text.length > 0 ? JSON.parse(text) : undefined
    }
    this.observer?.(method, path, reply)
    return reply
  }

  async login (client: string): Promise<string> {
    const reply = await this.call('POST', '/v1/sessions', { json: { client } })
    if (reply.status !== 201) throw new Error(`login failed: ${reply.status} ${reply.text}`)
    return (reply.json as LoginResponse).token
  }

  async diagnostics (): Promise<Diagnostics> {
    return (await this.call('GET', '/v1/diagnostics')).json as Diagnostics
  }
}

export interface Harness {
  api: Api
  running: RunningSwitch
}

/** A switch on 127.0.0.1, a free port, and a client with its own connection pool; both closed with `t`. */
export async function startHttp (t: Test, config: ServerConfig = {}, observer?: Observer): Promise<Harness> {
  const running = await startSwitch({ port: 0, ...config })
  const agent = new Agent()
  t.teardown(async () => {
    await running.stop()
    await agent.close()
  })
  return { api: new Api(running.url, agent, observer), running }
}

/** The error code of an error answer. */
export function codeOf (reply: Reply): string | undefined {
  return (reply.json as ErrorBody | undefined)?.error?.code
}

export function messageOf (reply: Reply): string {
  return (reply.json as ErrorBody | undefined)?.error?.message ?? ''
}

export { eventually } from '../../eventually.js'

/** Resolves once `count` long-polls wait on `queue`, as diagnostics reports. */
export async function waitingOn (api: Api, queue: string, count: number): Promise<void> {
  await eventually(`${count} long-poll(s) on ${queue}`, async () => {
    const entry = (await api.diagnostics()).queues.find((q) => q.name === queue)
    return entry?.waiting === count ? true : undefined
  })
}
