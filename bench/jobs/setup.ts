import { Api, inParallel } from '../api.js'

export interface SendersParams {
  url: string
  queue: string
  senders: number
}

/** Logs `senders` sessions in and creates the queue they all send to; returns their tokens. */
export async function prepareSenders (params: SendersParams): Promise<string[]> {
  const api = Api.pool(params.url, 8)
  try {
    const tokens: string[] = new Array<string>(params.senders)
    await inParallel(params.senders, 8, async (i) => { tokens[i] = await api.login(`sender-${i}`) })
    await api.createQueue(tokens[0], params.queue)
    return tokens
  } finally {
    await api.close()
  }
}
