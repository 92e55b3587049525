// The switch's socket (`GET /v1/socket`): the hot path of rpc and serve (sends, acks, pushed deliveries) as one
// frame per step on one long-lived connection, instead of one HTTP exchange each. Everything else stays on HTTP.
// Each frame is one JSON text (a request, or an array of them: see SOCKET_MAX_BATCH). The socket acts for the
// session whose token opened it. It is framed as a WebSocket (for browsers) or as lines (SOCKET_LINES_UPGRADE).

import type { BatchAckResponse, BatchSendItem, BatchSendResponse, ErrorBody, Message } from './wire.js'

export const SOCKET_PATH = '/socket'

/**
 * The `Upgrade` token of the socket framed as lines: after the 101, each frame is one line of JSON text ending
 * in a newline, both ways. It is the library's framing: the same frames as the WebSocket without a WebSocket's
 * masking, headers and events, which cost a fifth of an RPC's CPU. An empty line is a ping, answered by an empty
 * line; the switch says why it closes in a SocketClose line before it ends the connection.
 */
export const SOCKET_LINES_UPGRADE = 'switch-lines'

/** Bytes a request frame may hold (a send carries a batch: as much as POST /v1/messages may). */
export const SOCKET_MAX_FRAME_BYTES = 4 * 1024 * 1024

/**
 * A frame holds one request, or an array of up to this many, each taken as if it had come alone: a client sends
 * what it made in one turn as one frame (one system call on each side, instead of one per request).
 */
export const SOCKET_MAX_BATCH = 256

/** Requests a client may have unanswered on one socket; the switch stops reading it beyond that. */
export const SOCKET_MAX_PENDING = 256

/** Deliveries one socket may run at once (a client needs one per queue it serves, and one for its replies). */
export const SOCKET_MAX_DELIVERIES = 64

/**
 * Close codes the switch uses beyond the standard ones: the session ended (log in again), or the client broke
 * the protocol (a frame that is not a request). A switch shutting down closes with 1001 (going away).
 */
export const SOCKET_CLOSE_SESSION_ENDED = 4001
export const SOCKET_CLOSE_PROTOCOL = 4002

/**
 * `POST /v1/messages` as a frame: answered by SocketSendAnswer with the same `id`. A `quiet` send is answered
 * only if an item (or the whole) fails; its success is told by a later `done` (see SocketDone), which rides on
 * the pushes the client gets anyway (an RPC's reply, a service's next request), so an RPC costs four frames.
 */
export interface SocketSendRequest {
  op: 'send'
  id: number
  messages: BatchSendItem[]
  quiet?: boolean
}

/** `POST /v1/acks` as a frame: answered by SocketAckAnswer with the same `id`. */
export interface SocketAckRequest {
  op: 'ack'
  id: number
  ids: number[]
}

/**
 * `GET /v1/deliveries` as a frame: the queue's messages pushed as SocketDelivery frames carrying this `id`,
 * with the same credit rule, until the socket closes or a `cancel` with this `id` (answered SocketEnded).
 */
export interface SocketDeliverRequest {
  op: 'deliver'
  id: number
  queue: string
  after?: number
  credit?: number
}

export interface SocketCancelRequest {
  op: 'cancel'
  /** The `id` of the `deliver` to stop. */
  id: number
}

export type SocketRequest = SocketSendRequest | SocketAckRequest | SocketDeliverRequest | SocketCancelRequest

export type SocketSendAnswer = { id: number } & BatchSendResponse
export type SocketAckAnswer = { id: number } & BatchAckResponse
/** A request refused as a whole (or a delivery that could not start, or stopped on an error): the HTTP error body. */
export type SocketErrorAnswer = { id: number } & ErrorBody
/**
 * Every quiet send with an id up to `done` has been applied (and is durable, on a durable switch) or answered.
 * Carried by deliveries, or alone (with no `id`) when no push carried it within DONE_DELAY_MS.
 */
export interface SocketDone {
  done?: number
}

/** Messages pushed for the `deliver` of this `id`. */
export interface SocketDelivery extends SocketDone {
  id: number
  messages: Message[]
}

/** How long the switch waits for a push to carry a `done` before it sends one alone. */
export const DONE_DELAY_MS = 20
/** The `deliver` of this `id` stopped (cancelled, or the switch stopped it): no more of its frames follow. */
export interface SocketEnded {
  id: number
  ended: true
}

/** The switch's last line on a socket framed as lines: a WebSocket's close code and reason. */
export interface SocketClose {
  close: number
  reason: string
}

export type SocketAnswer = SocketSendAnswer | SocketAckAnswer | SocketErrorAnswer | SocketDelivery | SocketEnded

/** Whatever the switch writes on the socket: an answer or push, a `done` alone, or (as lines) why it closes. */
export type SocketFrame = SocketAnswer | Required<SocketDone> | SocketClose
