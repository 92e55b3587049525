// The clients in other languages (clients/<lang>/), held to one behaviour: each builds, runs the shared scenario
// (clients/scenario.md) against a live switch, and calls and serves every other one.
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { restartSwitch, run, start, startSwitch, type Cli } from '../cli/spawn.js'

/** Every client; each must exist and build (`.ci/run` installs the toolchains). */
const LANGUAGES = ['typescript', 'python', 'java', 'cpp'] as const
type Language = typeof LANGUAGES[number]

/** The scenario's steps, in order (clients/scenario.md). */
const STEPS = ['login', 'queues', 'send-transfer-ack', 'binary', 'missing-queue', 'publish-bind', 'rpc', 'session-expiry', 'restart']
const SWITCH_FLAGS = ['--session-ttl', '2']
/** Client processes at once in the RPC matrix: a JVM or a Node process starting takes a core for a while. */
const CALLS_AT_ONCE = 4

const CLIENTS = fileURLToPath(new URL('../../../clients/', import.meta.url))
const program = (language: Language, name: string): string => `${CLIENTS}${language}/${name}`

/** What every `serve` answers: ASCII a-z upper-cased, every other byte unchanged. */
const upper = (text: string): string => text.replace(/[a-z]+/g, (letters) => letters.toUpperCase())

/** Runs `work` on every item, at most `limit` at a time. */
async function bounded<T> (items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

async function build (t: Test, language: Language): Promise<boolean> {
  const script = program(language, 'build')
  if (!existsSync(script)) {
    t.fail(`clients/${language}/build exists`)
    return false
  }
  const { code, stderr } = await run(t, [], { command: script })
  t.equal(code, 0, `the ${language} client builds`, { stderr })
  return code === 0
}

t.test('every client builds, runs the scenario, and calls and serves every other one', async (t) => {
  let { url, server } = await startSwitch(t, SWITCH_FLAGS)
  // The switch (and the one it restarts as) belongs to the whole test, not to the subtest that restarts it.
  const owner = t
  let built: Language[] = []

  await t.test('each client builds and runs the scenario, all at once', async (t) => {
    // Each scenario starts as soon as its client is built, and waits at the restart step for the others.
    const scenarios = (await Promise.all(LANGUAGES.map(async (language) => {
      if (!await build(t, language)) return undefined
      const cli = start(t, [url], { command: program(language, 'bin/scenario'), openStdin: true })
      const waiting = await cli.line(/^ready-for-restart$/).then(() => true, () => false)
      return { language, cli, waiting }
    }))).filter((scenario) => scenario !== undefined)
    built = scenarios.map(({ language }) => language)
    // Every scenario still running waits for the restart: the switch restarts, then each goes on.
    ;({ url, server } = await restartSwitch(owner, server, url, SWITCH_FLAGS))
    for (const { cli, waiting } of scenarios) if (waiting) cli.child.stdin.end('go\n')

    for (const { language, cli } of scenarios) {
      const { code, stdout, stderr } = await cli.result
      const lines = stdout.split('\n')
      for (const name of STEPS) {
        const line = lines.find((line) => line === `ok ${name}` || line.startsWith(`not ok ${name}:`) || line === `not ok ${name}`)
        t.equal(line, `ok ${name}`, `${language}: ${name}`, { stderr })
      }
      t.equal(code, 0, `the ${language} scenario exits 0`)
    }
  })

  await t.test('RPC between every pair of clients', async (t) => {
    const services = new Map<Language, Cli>(built.map((language) => [language, start(t, [url, `rpc-${language}`], { command: program(language, 'bin/serve') })]))
    await Promise.all([...services].map(async ([language, cli]) => await cli.line(new RegExp(`^serving rpc-${language}$`))))

    const calls = built.flatMap((caller) => built.map((service) => ({ caller, service, body: `hello from ${caller} to ${service}` })))
    // Per service one body beyond ASCII, from the next client in the list: only its ASCII letters change.
    calls.push(...built.map((service, i) => ({ caller: built[(i + 1) % built.length], service, body: `grüße, ĉu ŝi? ✓ from ${built[(i + 1) % built.length]}` })))
    await bounded(calls, CALLS_AT_ONCE, async ({ caller, service, body }) => {
      const { code, stdout, stderr } = await run(t, [url, `rpc-${service}`, body], { command: program(caller, 'bin/call') })
      t.equal(stdout, `${upper(body)}\n`, `${caller} calls ${service}: ${body}`, { stderr })
      t.equal(code, 0, `${caller}'s call to ${service} exits 0`)
    })

    for (const [language, cli] of services) {
      cli.child.kill('SIGTERM')
      const { code, signal, stderr } = await cli.result
      t.same({ code, signal }, { code: 0, signal: null }, `the ${language} service exits 0 on SIGTERM`, { stderr })
    }
  })
})
