import type { BatchAckResponse, BatchSendItem, BatchSendResult } from '../../protocol/wire.js'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'
import { InvalidRequestError, MessageNotFoundError, SwitchError } from '../core/errors.js'
import type { AccessPolicy, Action } from '../auth/access.js'
import { errorBody } from './errors.js'
import { secondsToMs } from './seconds.js'
import { answeredAfterWoken } from './woken-first.js'

// Many sends, or many acks, applied each as its single request would be: for `POST /v1/messages`,
// `POST /v1/acks` and their frames on the socket.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function payloadOf (item: BatchSendItem, index: number): Buffer {
  if (item.encoding !== 'base64') return Buffer.from(item.payload, 'utf8')
  // Node decodes whatever it is given, skipping what is not base64: a typo would alter the payload silently.
  if (!BASE64.test(item.payload)) throw new InvalidRequestError(`messages/${index}/payload is not valid base64`, 'payload')
  return Buffer.from(item.payload, 'base64')
}

/** Each item is checked as its single request would be, by the same policy (the route's own hook sees no queue). */
function checkItem (policy: AccessPolicy, session: Session, action: Action, queue: string | undefined): void {
  if (queue !== undefined) policy.check(session.principal, action, { queue })
}

/** One item of a batch send, exactly as the single send would apply it; its failure is its own result. */
function sendItem (policy: AccessPolicy, core: Switch, session: Session, item: BatchSendItem, index: number): Promise<BatchSendResult> {
  // Not an async function: a send the switch took at once is answered without further turns of the microtask queue.
  let sent: Promise<BatchSendResult>
  try {
    if (policy.enabled) {
      checkItem(policy, session, 'send', core.sendTarget(item.queue, item.ack))
      checkItem(policy, session, 'receive', core.queueOfMessage(item.ack))
    }
    sent = core.send(session, item.queue, payloadOf(item, index), {
      correlationId: item.correlationId,
      replyTo: item.replyTo,
      ack: item.ack,
      error: item.error,
      idempotencyKey: item.idempotencyKey,
      ttl: item.ttl === undefined ? undefined : secondsToMs(item.ttl),
      delay: item.delay === undefined ? undefined : secondsToMs(item.delay)
    })
  } catch (error) {
    sent = Promise.reject(error)
  }
  return sent.then(undefined, itemFailure)
}

function itemFailure (error: unknown): BatchSendResult {
  if (!(error instanceof SwitchError)) throw error
  // The single send's path parameter `name` is the item's `queue`.
  return errorBody(error.code, error.message, error.field === 'name' ? 'queue' : error.field)
}

/**
 * Applies the sends in order, each as its single request would be: started without waiting, each send takes
 * its id and place in memory before the next one starts, and the writes share the store's group commit. The
 * answer waits for the long-polls the sends woke (see answeredAfterWoken), unless nothing will be answered on
 * success (the socket's quiet sends).
 */
export function applySends (policy: AccessPolicy, core: Switch, session: Session, items: BatchSendItem[], answered = true): Promise<BatchSendResult[]> {
  // Each sendItem is a promise (its failures are its results) and none throws here, so neither this function
  // nor the calls need a wrapper of their own.
  const sends = (): Promise<BatchSendResult[]> => Promise.all(items.map((item, index) => sendItem(policy, core, session, item, index)))
  return answered ? answeredAfterWoken(core, items.map((item) => item.queue), sends) : sends()
}

/** Whether the ack took: a missing id (never sent, or acked already) is the caller's answer, not a failure. */
async function ackItem (core: Switch, session: Session, id: number): Promise<boolean> {
  try {
    await core.ack(session, id)
    return true
  } catch (error) {
    if (error instanceof MessageNotFoundError) return false
    throw error
  }
}

/** All or nothing: an id the session may not ack refuses the batch (throws) before any ack is made. */
export async function applyAcks (policy: AccessPolicy, core: Switch, session: Session, ids: number[]): Promise<BatchAckResponse> {
  for (const id of ids) {
    if (policy.enabled) checkItem(policy, session, 'receive', core.queueOfMessage(id))
    core.checkAck(session, id)
  }
  const took = await Promise.all(ids.map((id) => ackItem(core, session, id)))
  const acked: number[] = []
  const missing: number[] = []
  ids.forEach((id, i) => { (took[i] ? acked : missing).push(id) })
  return { acked, missing }
}
