import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildMessage, JobMessage } from './ipc.js'
import type { JobName, JobParams, JobResult } from './jobs/index.js'
import type { RoleInfo, RoleName, RoleParams } from './roles/index.js'

const CHILD_SCRIPT = fileURLToPath(new URL('./child.js', import.meta.url))
const READY_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 15_000

/** Every process started and not yet gone: killed if the harness exits any other way than by stopping them. */
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export class ChildFailedError extends Error {
  readonly code = 'bench_child_failed'
  constructor (message: string) {
    super(message)
    this.name = 'ChildFailedError'
  }
}

interface Pending {
  resolve: (result: unknown) => void
  reject: (error: Error) => void
}

/** One process of the benchmark (a server, responder or load generator), driven over IPC. */
export class BenchProcess<R extends RoleName> {
  readonly role: R
  readonly info: RoleInfo<R>
  private readonly child: ChildProcess
  private readonly pending = new Map<number, Pending>()
  private lastId = 0
  private readonly exited: Promise<void>

  private constructor (role: R, child: ChildProcess, info: RoleInfo<R>, exited: Promise<void>) {
    this.role = role
    this.child = child
    this.info = info
    this.exited = exited
    child.on('message', (message: ChildMessage) => {
      if (message.kind === 'ready' || message.id === undefined) return
      const pending = this.pending.get(message.id)
      if (pending === undefined) return
      this.pending.delete(message.id)
      if (message.kind === 'done') pending.resolve(message.result)
      else pending.reject(new ChildFailedError(`${role}: ${message.error}`))
    })
    void exited.then(() => {
      for (const pending of this.pending.values()) pending.reject(new ChildFailedError(`${role} process exited`))
      this.pending.clear()
    })
  }

  /** Starts `role` in a new Node process and waits for it to be ready. */
  static async start<R extends RoleName> (role: R, params: RoleParams<R>, execArgv: string[] = []): Promise<BenchProcess<R>> {
    const child = fork(CHILD_SCRIPT, [role, JSON.stringify(params ?? {})], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    live.add(child)
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        live.delete(child)
        resolve()
      })
    })
    try {
      const info = await new Promise<RoleInfo<R>>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new ChildFailedError(`${role} not ready within ${READY_TIMEOUT_MS} ms`)) }, READY_TIMEOUT_MS)
        child.on('message', (message: ChildMessage) => {
          clearTimeout(timer)
          if (message.kind === 'ready') resolve(message.info as RoleInfo<R>)
          else if (message.kind === 'failed') reject(new ChildFailedError(`${role}: ${message.error}`))
        })
        void exited.then(() => {
          clearTimeout(timer)
          reject(new ChildFailedError(`${role} exited before it was ready`))
        })
      })
      return new BenchProcess(role, child, info, exited)
    } catch (error) {
      child.kill('SIGKILL')
      throw error
    }
  }

  get pid (): number {
    return this.child.pid ?? -1
  }

  /** Runs a job in this (load) process; fails if it takes longer than `timeoutSeconds`. */
  async run<K extends JobName> (job: K, params: JobParams<K>, timeoutSeconds: number): Promise<JobResult<K>> {
    const id = ++this.lastId
    const message: JobMessage = { kind: 'job', id, job, params }
    let timer: NodeJS.Timeout | undefined
    try {
      return await new Promise<JobResult<K>>((resolve, reject) => {
        this.pending.set(id, { resolve: (result) => { resolve(result as JobResult<K>) }, reject })
        timer = setTimeout(() => {
          this.pending.delete(id)
          reject(new ChildFailedError(`${job} did not finish within ${timeoutSeconds} s`))
        }, timeoutSeconds * 1000)
        this.child.send(message)
      })
    } finally {
      clearTimeout(timer)
    }
  }

  /** Asks the process to stop (SIGTERM), and kills it if it has not within a bound. */
  async stop (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }
}

/** Starts processes for the duration of `body`, and stops every one of them afterwards, however it ends. */
export class Processes {
  /** In order of asking, whether or not they have started yet: starts may run in parallel. */
  private readonly started: Array<Promise<BenchProcess<RoleName> | undefined>> = []
  readonly execArgvFor: (role: RoleName) => string[]

  constructor (execArgvFor: (role: RoleName) => string[] = () => []) {
    this.execArgvFor = execArgvFor
  }

  async start<R extends RoleName> (role: R, params: RoleParams<R>): Promise<BenchProcess<R>> {
    const starting = BenchProcess.start(role, params, this.execArgvFor(role))
    this.started.push(starting.catch(() => undefined))
    return await starting
  }

  /** Stops in reverse order of asking: clients before the servers they talk to. */
  async stopAll (): Promise<void> {
    while (this.started.length > 0) await (await this.started.pop())?.stop()
  }
}

export async function withProcesses<T> (execArgvFor: (role: RoleName) => string[], body: (processes: Processes) => Promise<T>): Promise<T> {
  const processes = new Processes(execArgvFor)
  try {
    return await body(processes)
  } finally {
    await processes.stopAll()
  }
}
