// The `switch serve` flags for the switch's limits: what it may hold, and how long and how many clients may take.
import { Flags } from '@oclif/core'
import { DEFAULT_LIMITS } from '../server/core/limits.js'
import { DEFAULT_SWITCH_OPTIONS } from '../server/core/switch.js'
import { DEFAULT_HTTP_LIMITS } from '../server/http/hardening.js'
import type { ServerConfig } from '../server/index.js'
import { seconds } from './base.js'

const GROUP = 'LIMITS'

const count = (description: string, value: number, helpValue = 'N') =>
  Flags.integer({ description, min: 1, default: value, helpGroup: GROUP, helpValue })

const duration = (description: string, ms: number) =>
  seconds({ description: `${description} (0: no limit)`, default: ms / 1000, helpGroup: GROUP })

export const limitFlags = {
  'max-queues': count('queues in all', DEFAULT_LIMITS.maxQueues),
  'max-session-queues': count('temporary queues one session may own', DEFAULT_LIMITS.maxSessionQueues),
  'max-queue-length': count('unacked messages one queue may hold; a send beyond it is refused with 507', DEFAULT_LIMITS.maxQueueLength),
  'max-queued-bytes': count('payload bytes all queues together may hold; a send beyond it is refused with 507', DEFAULT_LIMITS.maxQueuedBytes, 'BYTES'),
  'max-session-polls': count('long-polls one session may have waiting', DEFAULT_LIMITS.maxSessionPolls),
  'max-transfer': count('most messages one transfer returns', DEFAULT_SWITCH_OPTIONS.maxTransfer),
  'max-answer-bytes': count('most bytes one answer (transfer, stream batch, diagnostics, trace) encodes; at least one message always goes', DEFAULT_SWITCH_OPTIONS.maxAnswerBytes, 'BYTES'),
  'max-connections': count('HTTP connections open at once', DEFAULT_HTTP_LIMITS.maxConnections),
  'max-connections-per-address': Flags.integer({
    description: 'TCP connections one client address may hold open; one beyond it is answered 429 and closed (default: 3/4 of --max-connections)',
    min: 1,
    helpGroup: GROUP,
    helpValue: 'N'
  }),
  'idle-connection-timeout': duration('time a new connection may stay open without sending a request', DEFAULT_HTTP_LIMITS.idleConnectionTimeout),
  'max-unread-bytes': count('bytes all connections may hold written but unread by their clients; past it the connections holding the most are closed', DEFAULT_HTTP_LIMITS.maxUnreadBytes, 'BYTES'),
  'headers-timeout': duration('time a client has to send its request headers', DEFAULT_HTTP_LIMITS.headersTimeout),
  'request-timeout': duration('time a client has to send its whole request (a long-poll\'s wait is not counted)', DEFAULT_HTTP_LIMITS.requestTimeout),
  'keep-alive-timeout': duration('time an idle connection is kept open', DEFAULT_HTTP_LIMITS.keepAliveTimeout)
}

export interface LimitFlagValues {
  'max-queues': number
  'max-session-queues': number
  'max-queue-length': number
  'max-queued-bytes': number
  'max-session-polls': number
  'max-transfer': number
  'max-answer-bytes': number
  'max-connections': number
  'max-connections-per-address'?: number
  'idle-connection-timeout': number
  'max-unread-bytes': number
  'headers-timeout': number
  'request-timeout': number
  'keep-alive-timeout': number
}

/** The flags as startSwitch options. */
export function limitOptions (flags: LimitFlagValues): Required<Pick<ServerConfig,
'maxQueues' | 'maxSessionQueues' | 'maxQueueLength' | 'maxQueuedBytes' | 'maxSessionPolls' | 'maxTransfer' |
'maxAnswerBytes' | 'maxConnections' | 'idleConnectionTimeout' | 'maxUnreadBytes' | 'headersTimeout' | 'requestTimeout' |
'keepAliveTimeout'>> & Pick<ServerConfig, 'maxConnectionsPerAddress'> {
  return {
    maxQueues: flags['max-queues'],
    maxSessionQueues: flags['max-session-queues'],
    maxQueueLength: flags['max-queue-length'],
    maxQueuedBytes: flags['max-queued-bytes'],
    maxSessionPolls: flags['max-session-polls'],
    maxTransfer: flags['max-transfer'],
    maxAnswerBytes: flags['max-answer-bytes'],
    maxConnections: flags['max-connections'],
    maxConnectionsPerAddress: flags['max-connections-per-address'],
    idleConnectionTimeout: Math.round(flags['idle-connection-timeout'] * 1000),
    maxUnreadBytes: flags['max-unread-bytes'],
    headersTimeout: Math.round(flags['headers-timeout'] * 1000),
    requestTimeout: Math.round(flags['request-timeout'] * 1000),
    keepAliveTimeout: Math.round(flags['keep-alive-timeout'] * 1000)
  }
}
