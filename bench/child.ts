// Entry point of every process the harness starts: `node child.js <role> <params as JSON>`.
// It reports `ready` over IPC, runs jobs it is sent, and stops cleanly on SIGTERM (so --cpu-prof profiles
// are written) or when the harness goes away.
import { describe, type ChildMessage, type JobMessage, type Running } from './ipc.js'
import type { JobName } from './jobs/index.js'
import { roles, type RoleName } from './roles/index.js'

// A stop that has not finished by then is not going to: leave anyway rather than linger.
const STOP_GRACE_MS = 10_000

function tell (message: ChildMessage): void {
  process.send?.(message)
}

async function runJob (message: JobMessage): Promise<unknown> {
  // Only load processes run jobs: their code (autocannon, mqtt.js, undici pools) stays out of the servers.
  const { jobs } = await import('./jobs/index.js')
  if (!(message.job in jobs)) throw new Error(`unknown job ${message.job}`)
  const job = jobs[message.job as JobName] as (params: unknown) => Promise<unknown>
  return await job(message.params)
}

async function main (): Promise<void> {
  const [role, params = '{}'] = process.argv.slice(2)
  if (!(role in roles)) throw new Error(`unknown role ${role}`)
  const start = roles[role as RoleName] as (params: unknown) => Promise<Running<unknown>>
  const running = await start(JSON.parse(params))
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    setTimeout(() => { process.exit(1) }, STOP_GRACE_MS).unref()
    running.stop().then(() => { process.exit(0) }, (error: unknown) => {
      process.stderr.write(`${describe(error)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('disconnect', stop)
  process.on('message', (message: JobMessage) => {
    runJob(message).then(
      (result) => { tell({ kind: 'done', id: message.id, result }) },
      (error: unknown) => { tell({ kind: 'failed', id: message.id, error: describe(error) }) }
    )
  })
  tell({ kind: 'ready', info: running.info })
}

main().catch((error: unknown) => {
  tell({ kind: 'failed', error: describe(error) })
  process.stderr.write(`${describe(error)}\n`)
  process.exit(1)
})
