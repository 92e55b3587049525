// Runs the README's curl session, exactly as written, with the real curl against a live switch, and checks
// that it prints what the README says it prints.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { startSwitch } from '../server/index.js'

const FIRST_LINE = 'SWITCH=http://127.0.0.1:8080'

interface Run { code: number | null, stdout: string, stderr: string }

async function bash (script: string): Promise<Run> {
  return await new Promise((resolve, reject) => {
    // A proxy from the environment must not come between curl and a switch on the loopback.
    const env = { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' }
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.once('error', reject)
    child.once('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

/** The README's fenced blocks between the curl-session markers, by language. */
function curlSession (): { script: string, output: string } {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('<!-- curl-session:start -->')
  const end = readme.indexOf('<!-- curl-session:end -->')
  if (start < 0 || end < start) throw new Error('README.md has no curl-session markers')
  const blocks = new Map<string, string>()
  for (const [, language, body] of readme.slice(start, end).matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
    if (blocks.has(language)) throw new Error(`more than one ${language} block in the curl session`)
    blocks.set(language, body)
  }
  const script = blocks.get('bash')
  const output = blocks.get('text')
  if (script === undefined || output === undefined) throw new Error('the curl session needs a bash block and a text block')
  return { script, output }
}

/** Ids and times vary from run to run; the rest of a line must be exactly as shown. */
function shape (line: string): string {
  return line.replace(/\d+/g, 'N')
}

/**
 * The diagnostics line as a pattern: every field shown must be there with that value (numbers, and the session
 * id, of their type only); fields added to diagnostics later do not make the README wrong.
 */
function pattern (value: unknown, key = ''): unknown {
  if (typeof value === 'number') return Number
  if (key === 'id' && typeof value === 'string') return String
  if (Array.isArray(value)) return value.map((item) => pattern(item))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, pattern(item, name)]))
  }
  return value
}

t.test('the README curl session runs as written and prints what the README shows', async (t) => {
  const curl = await bash('curl --version')
  t.equal(curl.code, 0, 'the real curl is installed')
  if (curl.code !== 0) return

  const { script, output } = curlSession()
  const lines = script.split('\n')
  t.equal(lines[0], FIRST_LINE, 'the session starts by naming the switch')
  const running = await startSwitch({ port: 0 })
  t.teardown(() => running.stop())
  lines[0] = `SWITCH=${running.url}`

  const run = await bash(lines.join('\n'))
  t.equal(run.stderr, '', 'nothing on stderr')
  t.equal(run.code, 0, 'every command succeeded')

  const printed = run.stdout.trimEnd().split('\n')
  const transferred = printed.findIndex((line) => line.startsWith('{"messages":'))
  t.match(printed[transferred], /"payload":"hello, switch"/, 'the transfer shows the payload')
  t.match(printed[transferred], /"correlationId":"req-1"/, 'with its correlation id')
  t.equal(printed[transferred + 1], '204', 'the ack succeeds')
  t.match(printed[transferred + 2], /"queues":\[\{"name":"demo","kind":"persistent","messages":\[\]/, 'diagnostics shows the queue, empty')
  t.equal(printed[printed.length - 1], '204', 'the logout succeeds')

  const shown = output.trimEnd().split('\n')
  t.equal(printed.length, shown.length, 'as many lines as the README shows')
  for (const [index, line] of shown.entries()) {
    if (line.startsWith('{"startTime":')) t.match(JSON.parse(printed[index]), pattern(JSON.parse(line)), 'diagnostics as shown')
    else t.equal(shape(printed[index]), shape(line), `line ${index + 1} as shown`)
  }

  t.same(running.core.list('demo', false).map((queue) => [queue.name, queue.length]), [['demo', 0]])
})
