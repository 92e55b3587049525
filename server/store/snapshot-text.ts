import type { StoredMessage } from '../core/queue.js'
import type { RetainedMessage } from '../core/retained.js'
import type { Snapshot } from './store.js'

type AsText<T extends { payload: Buffer }> = Omit<T, 'payload'> & { payload: string }

interface SnapshotText extends Omit<Snapshot, 'messages' | 'retained' | 'operations'> {
  messages: Array<AsText<StoredMessage>>
  retained: Array<AsText<RetainedMessage>>
}

/** A snapshot as one string (JSON, payloads in base64), as a shared log's compaction saves it. */
export function snapshotToText (snapshot: Snapshot): string {
  const { operations, ...state } = snapshot
  const text: SnapshotText = {
    ...state,
    messages: state.messages.map((message) => ({ ...message, payload: message.payload.toString('base64') })),
    retained: state.retained.map((message) => ({ ...message, payload: message.payload.toString('base64') }))
  }
  return JSON.stringify(text)
}

export function snapshotFromText (text: string): Snapshot {
  const parsed = JSON.parse(text) as SnapshotText
  return {
    ...parsed,
    messages: parsed.messages.map((message) => ({ ...message, payload: Buffer.from(message.payload, 'base64') })),
    retained: parsed.retained.map((message) => ({ ...message, payload: Buffer.from(message.payload, 'base64') }))
  }
}
