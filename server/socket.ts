import { chmod, lstat, unlink } from 'node:fs/promises'
import { connect, type Server, type Socket } from 'node:net'

/** Owner only: whoever can connect can act as any client. */
export const DEFAULT_SOCKET_MODE = 0o600

/** Why the switch cannot listen at a socket path. */
export class SocketPathError extends Error {
  readonly code: 'socket_in_use' | 'not_a_socket'
  readonly path: string

  constructor (code: SocketPathError['code'], path: string, message: string) {
    super(message)
    this.name = 'SocketPathError'
    this.code = code
    this.path = path
  }
}

export class SocketInUseError extends SocketPathError {
  constructor (path: string) {
    super('socket_in_use', path, `${path}: another switch is listening on this socket (stop it first, or choose another path)`)
    this.name = 'SocketInUseError'
  }
}

export class NotASocketError extends SocketPathError {
  constructor (path: string) {
    super('not_a_socket', path, `${path}: exists and is not a socket; refusing to replace it`)
    this.name = 'NotASocketError'
  }
}

function errorCode (error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code
}

/** Whether something accepts connections on the socket at `path`. */
async function answers (path: string): Promise<boolean> {
  return await new Promise((resolve, reject) => {
    const probe = connect(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', (error) => {
      const code = errorCode(error)
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false)
      else reject(error)
    })
  })
}

/**
 * Clears the way for a socket at `path`: the file a crashed switch left behind (nobody answers on it) is
 * removed; a live socket, or a file that is not a socket at all, is refused.
 */
export async function claimSocketPath (path: string): Promise<void> {
  let isSocket: boolean
  try {
    isSocket = (await lstat(path)).isSocket()
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return
    throw error
  }
  if (!isSocket) throw new NotASocketError(path)
  if (await answers(path)) throw new SocketInUseError(path)
  await unlink(path).catch((error: unknown) => {
    if (errorCode(error) !== 'ENOENT') throw error
  })
}

const fromSocketFile = new WeakSet<Socket>()

/**
 * True for a connection made through the Unix socket, whose file permissions decide who may connect. Known from
 * the listener it came through, not from its address (a TCP connection that closed has none either).
 */
export function isSocketFileConnection (socket: Socket): boolean {
  return fromSocketFile.has(socket)
}

/** Makes `server` listen on a Unix socket at `path` that has permissions `mode` from the moment it exists. */
export async function listenOnSocket (server: Server, path: string, mode: number): Promise<void> {
  await claimSocketPath(path)
  // First of its listeners: marked before anyone else sees the connection.
  server.prependListener('connection', (socket: Socket) => { fromSocketFile.add(socket) })
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening)
      reject(error)
    }
    const onListening = (): void => {
      server.off('error', onError)
      resolve()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    // The socket file takes the umask's permissions when it is bound, synchronously inside listen: narrowing the
    // umask around that call means it never exists with wider permissions, not even until the chmod below.
    const umask = process.umask(0o777 & ~mode)
    try {
      server.listen(path)
    } finally {
      process.umask(umask)
    }
  })
  // The umask can only take permissions away; chmod gives exactly `mode` (e.g. 0o660 for a group).
  await chmod(path, mode)
}
