import { ShuttingDownError, SwitchError } from '../core/errors.js'
import type { Follower } from '../core/follower.js'
import type { StoredMessage } from '../core/queue.js'
import type { Session } from '../core/session.js'
import type { Switch } from '../core/switch.js'
import type { WaitSignal } from '../core/waiter.js'
import { toDeliveredWireMessage, toWireMessage } from './wire.js'

export interface DeliveryOptions {
  /** Push messages with ids above this cursor. */
  after: number
  /** Messages at or below the cursor that may be unacked at once. */
  credit: number
  /** The queue to push; the session's subscriptions (read live) without one. */
  queue?: string
  /** Milliseconds between heartbeats of an idle delivery. */
  heartbeat: number
  /** Ends the delivery (the client went). */
  signal: WaitSignal
}

/** Where a delivery's messages go: each write may return a promise to hold the next one back (backpressure). */
export interface DeliveryOutlet {
  /** One batch, each message as its JSON text, encoded once. */
  push: (messages: string[]) => Promise<void> | undefined
  /** Nothing to push for a heartbeat interval. */
  idle: () => Promise<void> | undefined
}

/** Why a delivery stopped: its signal, the switch shutting down, the session ending, or an error of the switch's. */
export type DeliveryEnd = 'aborted' | 'shutting_down' | 'session_ended' | SwitchError

/**
 * Pushes a session's messages as they arrive (`GET /v1/deliveries` and the socket's `deliver`). Flow control is
 * by credit: never more than `credit` of its queues' messages at or below its cursor unacked, so it pushes only
 * as the client acks (by any ack). Counting by cursor rather than by what this delivery pushed makes a resumed
 * one (`after` = the last id seen) honour the credit its predecessor used.
 */
export class Delivery {
  private readonly queues: string[] | undefined
  private readonly held: Set<number>
  /** Woken since the last batch was taken: look again before waiting. */
  private awake = false
  /** Settles the wait for the next wake, while one is waited for. */
  private resume: ((idle: boolean) => void) | undefined
  /** A message's JSON, made when the answer budget sizes it and written as made: one encoding per push. */
  private readonly encoded = new Map<StoredMessage, { text: string, deliveries: number }>()

  /**
   * Throws, before anything is pushed, what makes the delivery pointless or not allowed: the switch is shutting
   * down (a client opens it again once the switch is back), the queue named is not there (it would wait for ever
   * on nothing), or the session may not read it (another session's temporary queue).
   */
  constructor (private readonly core: Switch, private readonly session: Session, private readonly options: DeliveryOptions) {
    if (core.shuttingDown) throw new ShuttingDownError()
    if (options.queue !== undefined) core.queueInfo(options.queue)
    this.queues = options.queue === undefined ? undefined : [options.queue]
    this.held = new Set(core.heldUpTo(session, this.watched(), options.after, options.credit))
  }

  /** Pushes until the signal aborts, the switch shuts down or the session ends (a switch error ends it too). */
  async run (outlet: DeliveryOutlet): Promise<DeliveryEnd> {
    const { core, session, held, queues } = this
    const { credit, heartbeat, signal } = this.options
    let follower: Follower | undefined
    signal.addEventListener('abort', this.aborted)
    try {
      // The follower keeps the cursor: the core reads it too, for a subscription added while it runs.
      follower = core.follow(session, queues, this.options.after, heartbeat, this.woken)
      for (;;) {
        const ended = this.end()
        if (ended !== undefined) return ended
        // Acked ones are let go only once half the credit is held: a stale id only makes the next batch smaller,
        // and a reply queue's large credit is not looked through on every push.
        if (held.size * 2 >= credit) for (const id of held) if (!core.holds(id, session)) held.delete(id)
        if (held.size >= credit) {
          follower.pause()
          await core.untilRemoved(session, [...held], heartbeat, signal)
          follower.resume(this.watched())
          if (this.end() === undefined && [...held].every((id) => core.holds(id, session))) await this.idle(outlet, follower)
          continue
        }
        // A wake from here on is news to look at: the batch taken now may not hold what it announced.
        this.awake = false
        // One batch within the credit left and maxAnswerBytes, written whole before the next is read.
        const taken = core.take(session, { after: follower.after, size: this.sized, max: credit - held.size, queues, expectedWithin: heartbeat })
        const { messages, next } = taken instanceof Promise ? await taken : taken
        if (messages.length > 0) {
          follower.after = next
          for (const message of messages) held.add(message.id)
          const texts = messages.map(this.textOf)
          this.encoded.clear()
          follower.active()
          // Awaited only when the client is behind: a push that went out costs no turn of the microtask queue.
          const written = outlet.push(texts)
          if (written !== undefined) await written
        } else if (!this.awake && await this.nextWake() && this.end() === undefined) {
          await this.idle(outlet, follower)
        }
      }
    } catch (error) {
      // The session ended (a logout elsewhere), or a limit refused the wait. Anything else is a bug, the caller's to log.
      if (error instanceof SwitchError) return this.end() ?? error
      throw error
    } finally {
      signal.removeEventListener('abort', this.aborted)
      follower?.close()
    }
  }

  /** Resolves at the next wake: true if it is the heartbeat's (nothing was written for a heartbeat). */
  private nextWake (): Promise<boolean> {
    return new Promise((resolve) => { this.resume = resolve })
  }

  private readonly woken = (idle: boolean): void => {
    if (!idle) this.awake = true
    const { resume } = this
    if (resume === undefined) return
    this.resume = undefined
    resume(idle)
  }

  private readonly aborted = (): void => { this.woken(false) }

  private async idle (outlet: DeliveryOutlet, follower: Follower): Promise<void> {
    follower.active()
    await outlet.idle()
  }

  /** Read live, like transfer: a subscription added while it runs counts. */
  private watched (): Iterable<string> {
    return this.queues ?? this.session.subscriptions
  }

  private end (): DeliveryEnd | undefined {
    if (this.options.signal.aborted) return 'aborted'
    if (this.core.shuttingDown) return 'shutting_down'
    if (!this.core.isCurrent(this.session)) return 'session_ended'
    return undefined
  }

  /** Encoded as it will go out: the delivery counts itself only after it has been sized. */
  private readonly sized = (message: StoredMessage): number => {
    const text = JSON.stringify(toDeliveredWireMessage(message))
    this.encoded.set(message, { text, deliveries: (message.deliveries ?? 0) + 1 })
    return Buffer.byteLength(text) + 1
  }

  /** Made again if its count is not the one foreseen (something else delivered it meanwhile). */
  private readonly textOf = (message: StoredMessage): string => {
    const made = this.encoded.get(message)
    return made !== undefined && made.deliveries === message.deliveries ? made.text : JSON.stringify(toWireMessage(message))
  }
}
