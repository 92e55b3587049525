import { SwitchClient } from '../../lib/index.js'

export interface WorkParams {
  url: string
  /** Jobs queued before the workers start, drained once per figure. */
  messages: number
  /** Competing workers, each with its own session. */
  workers: number
  /** Handlers each worker runs at once. */
  concurrency: number
}

export interface WorkResult {
  /** One consumer with workers × concurrency handlers on a plain (cursor) queue: jobs per second. */
  plain: number
  /** `workers` competing consumers on a work queue, `concurrency` handlers each (the same in all): jobs per second. */
  work: number
}

/**
 * What leasing costs: the same jobs drained by the library's handlers with the same total concurrency, by one
 * `serve` on a plain queue (acks only) and by `workers` competing `work` helpers on a work queue (a lease per
 * delivery, and the competition for each job).
 */
export async function workThroughput (params: WorkParams): Promise<WorkResult> {
  const producer = new SwitchClient({ url: params.url, client: 'bench-producer' })
  const clients: SwitchClient[] = []
  try {
    const drain = async (queue: string, start: (handler: () => void) => Array<{ stop: () => Promise<void> }>): Promise<number> => {
      for (let sent = 0; sent < params.messages; sent += 100) {
        await Promise.all(Array.from({ length: Math.min(100, params.messages - sent) }, async (_, i) => await producer.send(queue, `job ${sent + i}`)))
      }
      let done = 0
      let finished: () => void = () => {}
      const all = new Promise<void>((resolve) => { finished = resolve })
      const began = process.hrtime.bigint()
      const handles = start(() => { if (++done === params.messages) finished() })
      await all
      const seconds = Number(process.hrtime.bigint() - began) / 1e9
      await Promise.all(handles.map(async (handle) => { await handle.stop() }))
      return params.messages / seconds
    }
    const client = (name: string): SwitchClient => {
      const made = new SwitchClient({ url: params.url, client: name })
      clients.push(made)
      return made
    }
    await producer.createQueue('bench-plain')
    await producer.createQueue('bench-work', { mode: 'work', visibilityTimeout: 60 })
    const plain = await drain('bench-plain', (handler) => [client('plain').serve('bench-plain', () => { handler(); return '' }, { concurrency: params.workers * params.concurrency })])
    const work = await drain('bench-work', (handler) => Array.from({ length: params.workers }, (_, i) =>
      client(`worker-${i}`).work('bench-work', handler, { concurrency: params.concurrency })))
    return { plain, work }
  } finally {
    await Promise.all([producer, ...clients].map(async (each) => { await each.close() }))
  }
}
