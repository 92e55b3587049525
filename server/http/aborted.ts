/** A signal that fires if the client goes away before its response was written: a long-poll then ends. */
export function abortedWith (response: NodeJS.EventEmitter & { writableFinished: boolean, closed: boolean }): AbortSignal {
  const controller = new AbortController()
  const abortUnlessFinished = (): void => { if (!response.writableFinished) controller.abort() }
  // A client that went before its handler ran has closed the response already: its 'close' will not come again.
  if (response.closed) abortUnlessFinished()
  else response.once('close', abortUnlessFinished)
  return controller.signal
}
