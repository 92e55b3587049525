/** A signal that fires if the client goes away before its response was written: a long-poll then ends. */
export function abortedWith (response: NodeJS.EventEmitter & { writableFinished: boolean }): AbortSignal {
  const controller = new AbortController()
  response.once('close', () => { if (!response.writableFinished) controller.abort() })
  return controller.signal
}
