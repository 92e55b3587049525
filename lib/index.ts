// The package entry: the typed client, its errors, the rpc/serve types, and the wire protocol.
export * from '../protocol/wire.js'
export * from '../protocol/topics.js'
export {
  SwitchClient,
  DEFAULT_URL,
  DEFAULT_RETRY_FOR,
  DEFAULT_CONNECTIONS,
  type SwitchClientOptions,
  type ListOptions,
  type TraceOptions,
  type PublishOptions
} from './client.js'
export type { StreamOptions } from './stream.js'
export type { Reachability } from './transport.js'
export type { CreateQueueOptions, RequestOptions, SendOptions, TransferOptions } from './operations.js'
export { DEFAULT_RPC_TIMEOUT, type RpcOptions } from './rpc.js'
export { BACKOFF_MAX_MS } from './backoff.js'
export type { Handler, ServeHandle, ServeOptions, WorkHandler } from './serve.js'
export { messageBody } from './payload.js'
export {
  SwitchClientError,
  SwitchRequestError,
  SwitchUnavailableError,
  SwitchTlsError,
  RpcTimeoutError,
  RemoteError,
  AbortError,
  ClientClosedError,
  type ClientErrorCode
} from './errors.js'
