/** One event of a Server-Sent Events stream. */
export interface ServerSentEvent {
  /** `message` unless the stream named it. */
  event: string
  data: string
  id?: string
}

const LINE_END = /\r\n|\r|\n/

/**
 * Parses a `text/event-stream` body into its events, as the HTML standard defines the format: `field: value`
 * lines, events ended by a blank line, several `data` lines joined with newlines, comments (`:` lines, such as
 * heartbeats) skipped.
 */
export async function * serverSentEvents (body: AsyncIterable<Uint8Array | string>): AsyncGenerator<ServerSentEvent, void, undefined> {
  const decoder = new TextDecoder()
  let pending = ''
  let event = ''
  let data: string[] = []
  let id: string | undefined
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    for (;;) {
      const end = LINE_END.exec(pending)
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (end === null || (end[0] === '\r' && end.index === pending.length - 1)) break
      const line = pending.slice(0, end.index)
      pending = pending.slice(end.index + end[0].length)
      if (line === '') {
        if (data.length > 0) yield id === undefined ? { event: event || 'message', data: data.join('\n') } : { event: event || 'message', data: data.join('\n'), id }
        event = ''
        data = []
        id = undefined
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1))
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
  }
}
