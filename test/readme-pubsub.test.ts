// Runs the README's publish/subscribe curl example, as written, with the real curl against a live switch, and
// checks that it prints what the README says, up to the first heartbeat of the stream it ends with.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { startSwitch } from '../server/index.js'

const FIRST_LINE = 'SWITCH=http://127.0.0.1:8080'

function example (): { script: string, output: string } {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('<!-- curl-pubsub:start -->')
  const end = readme.indexOf('<!-- curl-pubsub:end -->')
  if (start < 0 || end < start) throw new Error('README.md has no curl-pubsub markers')
  const blocks = new Map([...readme.slice(start, end).matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(([, language, body]) => [language, body]))
  const script = blocks.get('bash')
  const output = blocks.get('text')
  if (script === undefined || output === undefined) throw new Error('the example needs a bash block and a text block')
  return { script, output }
}

/** Ids and times vary from run to run; the rest of a line must be exactly as shown. */
const shape = (text: string): string => text.replace(/\d+/g, 'N')

t.test('the README publish/subscribe example runs as written and prints what the README shows', async (t) => {
  const { script, output } = example()
  const lines = script.split('\n')
  t.equal(lines[0], FIRST_LINE, 'the example starts by naming the switch')
  const running = await startSwitch({ port: 0, streamHeartbeat: 100 })
  t.teardown(() => running.stop())
  lines[0] = `SWITCH=${running.url}`

  // Its own process group: the stream it ends with runs until stopped, as it would for a person.
  const env = { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' }
  const child = spawn('bash', ['-euo', 'pipefail', '-c', lines.join('\n')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const stop = (): void => { if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL') }
  t.teardown(stop)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const expected = output.trimEnd()
  while (stdout.length < expected.length && child.exitCode === null) await once(child.stdout, 'data')
  stop()
  t.equal(stderr, '', 'nothing on stderr')
  t.equal(shape(stdout.slice(0, expected.length)), shape(expected), 'the output is as shown')
})
