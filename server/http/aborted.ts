import type { WaitSignal } from '../core/waiter.js'

type Response = NodeJS.EventEmitter & { writableFinished: boolean, closed: boolean }

/**
 * Aborted if the client goes away before its response was written: a long-poll then ends. Read from the response
 * itself, where an AbortController with its listener and closures would add some 500 bytes to each held poll.
 * A wait listens only while nothing is written, so any 'close' it hears is the client going away.
 */
class ClientGone implements WaitSignal {
  constructor (private readonly response: Response) {}

  // A client that went before its handler ran has closed the response already: its 'close' will not come again.
  get aborted (): boolean {
    return this.response.closed && !this.response.writableFinished
  }

  addEventListener (_type: 'abort', listener: () => void): void {
    this.response.on('close', listener)
  }

  removeEventListener (_type: 'abort', listener: () => void): void {
    this.response.removeListener('close', listener)
  }
}

export function abortedWith (response: Response): WaitSignal {
  return new ClientGone(response)
}
