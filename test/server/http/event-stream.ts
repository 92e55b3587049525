// Reads GET /v1/stream over a raw undici request, block by block (a block is what lies between blank lines), so
// that the tests see exactly what a browser or `curl -N` would.
import { EventEmitter, once } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { request } from 'undici'
import type { Message } from '../../../protocol/wire.js'

export interface StreamEvent {
  id: number
  event: string
  message: Message
}

export interface OpenOptions {
  token?: string
  /** Sent as the Last-Event-ID header. */
  lastEventId?: string
  /** The query string, e.g. `?after=3`. */
  query?: string
}

export class EventStream {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** Every block received so far, comments included. */
  readonly blocks: string[] = []
  private cursor = 0
  private ended = false
  private readonly changes = new EventEmitter()
  private readonly controller: AbortController
  /** Resolves once the body has ended (the switch closed the stream) or was cut. */
  readonly done: Promise<void>

  private constructor (status: number, headers: IncomingHttpHeaders, body: AsyncIterable<Buffer>, controller: AbortController) {
    this.status = status
    this.headers = headers
    this.controller = controller
    this.done = this.read(body)
  }

  static async open (url: string, options: OpenOptions = {}): Promise<EventStream> {
    const headers: Record<string, string> = {}
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId
    const controller = new AbortController()
    const response = await request(`${url}/v1/stream${options.query ?? ''}`, { headers, signal: controller.signal })
    return new EventStream(response.statusCode, response.headers, response.body, controller)
  }

  private async read (body: AsyncIterable<Buffer>): Promise<void> {
    let text = ''
    try {
      for await (const chunk of body) {
        text += chunk.toString('utf8')
        let end: number
        while ((end = text.indexOf('\n\n')) !== -1) {
          this.blocks.push(text.slice(0, end))
          text = text.slice(end + 2)
          this.changes.emit('change')
        }
      }
    } catch {
      // Cut by close(): the test asked for it.
    } finally {
      this.ended = true
      this.changes.emit('change')
    }
  }

  /** The next block (after those already taken) that `matches`; rejects if the stream ends first. */
  async next (matches: (block: string) => boolean = () => true): Promise<string> {
    for (;;) {
      while (this.cursor >= this.blocks.length) {
        if (this.ended) throw new Error(`the stream ended; it sent: ${JSON.stringify(this.blocks)}`)
        await once(this.changes, 'change')
      }
      const block = this.blocks[this.cursor++]
      if (matches(block)) return block
    }
  }

  /** The next `count` message events, parsed. */
  async messages (count: number): Promise<StreamEvent[]> {
    const out: StreamEvent[] = []
    while (out.length < count) out.push(parse(await this.next((block) => !block.startsWith(':'))))
    return out
  }

  /** Every message event received so far, taken or not. */
  received (): StreamEvent[] {
    return this.blocks.filter((block) => !block.startsWith(':')).map(parse)
  }

  /** Hangs up, as a client that goes away. */
  close (): void {
    this.controller.abort()
  }
}

function parse (block: string): StreamEvent {
  const fields = new Map(block.split('\n').map((line) => {
    const colon = line.indexOf(': ')
    return [line.slice(0, colon), line.slice(colon + 2)] as const
  }))
  const id = fields.get('id')
  const event = fields.get('event')
  const data = fields.get('data')
  if (id === undefined || event === undefined || data === undefined) throw new Error(`not a message event: ${block}`)
  return { id: Number(id), event, message: JSON.parse(data) as Message }
}
