// call URL QUEUE BODY: one RPC over the library; prints the reply's payload and a newline.
import { SwitchClient } from '../../lib/index.js'

const [url, queue, body] = process.argv.slice(2)
if (url === undefined || queue === undefined || body === undefined) {
  process.stderr.write('usage: call URL QUEUE BODY\n')
  process.exit(2)
}
const client = new SwitchClient({ url, client: `call-typescript:${process.pid}`, retryFor: 10_000 })
try {
  const reply = await client.rpc(queue, body)
  process.stdout.write(Buffer.concat([reply, Buffer.from('\n')]))
} catch (error) {
  process.stderr.write(`call: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
} finally {
  await client.close()
}
