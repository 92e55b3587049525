// Messages between the harness and the processes it starts (Node's IPC channel, advanced serialization).

export interface ReadyMessage { kind: 'ready', info: unknown }
export interface DoneMessage { kind: 'done', id: number, result: unknown }
export interface FailedMessage { kind: 'failed', id?: number, error: string }
export type ChildMessage = ReadyMessage | DoneMessage | FailedMessage

export interface JobMessage { kind: 'job', id: number, job: string, params: unknown }

/** What a started role hands back: what the harness needs to know about it, and how to stop it. */
export interface Running<Info> {
  info: Info
  stop: () => Promise<void>
}

export function describe (error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}
