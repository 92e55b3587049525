import { PassThrough } from 'node:stream'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { nanoid } from 'nanoid'
import type { Message } from '../../protocol/wire.js'
import { AccessPolicy } from '../../server/auth/access.js'
import type { Session } from '../../server/core/session.js'
import { Switch } from '../../server/core/switch.js'
import type { FrameHandlers, FrameLink } from '../../server/http/frame-link.js'
import { SocketChannel } from '../../server/http/socket-channel.js'
import { PAYLOAD } from '../api.js'

export interface SwitchWorkParams {
  /** Callers, each with its own session and socket, one call in flight each. */
  callers: number
  seconds: number
  warmupSeconds: number
}

export interface SwitchWorkResult {
  roundTrips: number
  /** CPU microseconds of this process per round trip: the switch's own work (and its clients' JSON), no system calls. */
  cpu: number
}

/** Replies a caller acks in one frame, as the library does. */
const ACKS_PER_FRAME = 32

/** A socket whose frames go to a function in this process: what the switch does per frame, without the kernel's part. */
class InProcessLink implements FrameLink {
  readonly connection = new PassThrough()
  readonly open = true
  readonly bufferedAmount = 0
  constructor (private readonly received: (frame: { messages?: Message[] }) => void) {}
  send (text: string): void { this.received(JSON.parse(text) as { messages?: Message[] }) }
  ping (): void {}
  close (): void {}
  terminate (): void {}
  pause (): void {}
  resume (): void {}
}

/** One client of the switch: its session, and its socket's end in this process. */
interface Peer {
  session: Session
  handlers: FrameHandlers
  /** Messages pushed to it, not handled yet. */
  pushed: Message[]
  nextId: number
}

async function openPeer (core: Switch, client: string, log: FastifyBaseLogger): Promise<Peer> {
  const session = await core.login(client)
  const pushed: Message[] = []
  let handlers: FrameHandlers | undefined
  const linked = (given: FrameHandlers): FrameLink => {
    handlers = given
    return new InProcessLink((frame) => { if (frame.messages !== undefined) pushed.push(...frame.messages) })
  }
  // The channel lives on in the handlers it gave its link.
  void new SocketChannel(linked, core, new AccessPolicy(), session, { heartbeat: 60_000, log, onClose: () => {}, untold: () => {} })
  if (handlers === undefined) throw new Error('the channel did not link')
  return { session, handlers, pushed, nextId: 1 }
}

/**
 * The switch's own work per RPC, measured in one process: callers and a responder on SocketChannels whose frames
 * are handed over in memory, sending what the library sends (quiet sends with idempotency keys, replies that ack
 * their request, reply acks in batches). Every round trip is the core and the socket's frame handling, with no
 * system call and no other process competing for the CPU: a figure that moves only when the switch's code does.
 */
export async function switchWork (params: SwitchWorkParams): Promise<SwitchWorkResult> {
  const core = await Switch.open()
  // A logger that says nothing, as the channels' interface wants one: a failure they log stalls the round trips.
  const log = Fastify().log
  const frame = (to: Peer, request: object): void => { to.handlers.frame(JSON.stringify({ ...request, id: to.nextId++ })) }
  const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }
  try {
    const responder = await openPeer(core, 'responder', log)
    await core.createQueue(responder.session, 'bench')
    frame(responder, { op: 'deliver', queue: 'bench', credit: params.callers })
    const callers = await Promise.all(Array.from({ length: params.callers }, async (_, i) => {
      const caller = await openPeer(core, `caller-${i}`, log)
      const { name } = await core.createTemporaryQueue(caller.session)
      frame(caller, { op: 'deliver', queue: name, credit: 1024 })
      return { ...caller, replyTo: name, held: [] as number[] }
    }))
    const payload = PAYLOAD.toString()
    const call = (caller: typeof callers[number]): void => {
      frame(caller, { op: 'send', messages: [{ queue: 'bench', payload, idempotencyKey: nanoid(), correlationId: nanoid(), replyTo: caller.replyTo }], quiet: true })
    }
    await turn()
    for (const caller of callers) call(caller)
    await turn()
    let roundTrips = 0
    const round = async (): Promise<void> => {
      // The responder answers what one push brought in one frame, as the library joins a turn's requests.
      const requests = responder.pushed.splice(0)
      if (requests.length > 0) {
        const replies = requests.map((request) => ({
          op: 'send', id: responder.nextId++, messages: [{ queue: request.replyTo, payload: request.payload, idempotencyKey: nanoid(), correlationId: request.correlationId, ack: request.id }], quiet: true
        }))
        responder.handlers.frame(JSON.stringify(replies))
      }
      await turn()
      let replied = 0
      for (const caller of callers) {
        for (const reply of caller.pushed.splice(0)) {
          caller.held.push(reply.id)
          replied++
          call(caller)
        }
        if (caller.held.length >= ACKS_PER_FRAME) frame(caller, { op: 'ack', ids: caller.held.splice(0) })
      }
      await turn()
      if (requests.length === 0 && replied === 0) throw new Error('the round trips stalled')
      roundTrips += replied
    }
    const until = async (seconds: number): Promise<void> => {
      const end = performance.now() + seconds * 1000
      while (performance.now() < end) await round()
    }
    await until(params.warmupSeconds)
    const counted = roundTrips
    const start = process.cpuUsage()
    await until(params.seconds)
    const used = process.cpuUsage(start)
    const trips = roundTrips - counted
    return { roundTrips: trips, cpu: (used.user + used.system) / Math.max(1, trips) }
  } finally {
    await core.close()
  }
}
