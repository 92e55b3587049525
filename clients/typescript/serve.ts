// serve URL QUEUE: answers each request on QUEUE with its body upper-cased, until killed.
import { SwitchClient } from '../../lib/index.js'
import { upper } from './upper.js'

const [url, queue] = process.argv.slice(2)
if (url === undefined || queue === undefined) {
  process.stderr.write('usage: serve URL QUEUE\n')
  process.exit(2)
}
const client = new SwitchClient({ url, client: `serve-typescript:${process.pid}`, retryFor: 10_000 })
try {
  // Created and subscribed before saying so: a request sent from then on waits in the queue for the service.
  await client.createQueue(queue)
  await client.subscribe(queue)
  const service = client.serve(queue, upper)
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => { void service.stop() })
  }
  process.stdout.write(`serving ${queue}\n`)
  await service.done
} catch (error) {
  process.stderr.write(`serve: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
} finally {
  await client.close()
}
