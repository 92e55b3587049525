import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'

/** Listening beyond this machine without an auth file, and without being told it is meant: anyone could use the switch. */
export class RemoteListenError extends Error {
  constructor (host: string) {
    super(`refusing to listen on ${host} without an auth file: anyone who can reach it could use the switch; ` +
      'give --auth-file FILE, or --insecure-allow-remote if that is really meant')
    this.name = 'RemoteListenError'
  }
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: addresses only this machine can reach. */
function isLoopback (address: string): boolean {
  const bare = address.replace(/^\[(.*)\]$/, '$1').toLowerCase().replace(/^::ffff:(?=\d+\.)/, '')
  if (isIP(bare) === 4) return bare.startsWith('127.')
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1'
}

/**
 * Whether listening on `host` (a name or an address) reaches beyond this machine. A name is resolved as the
 * listen itself resolves it; one that does not resolve is left to the listen to refuse.
 */
export async function listensRemotely (host: string): Promise<boolean> {
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) return !isLoopback(host)
  try {
    return !isLoopback((await lookup(host)).address)
  } catch {
    return false
  }
}
