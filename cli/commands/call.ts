import { Args, Errors, Flags } from '@oclif/core'
import { BACKOFF_MAX_MS, RemoteError, RpcTimeoutError } from '../../lib/index.js'
import { SwitchCommand, payloadFlags, readPayload, seconds, stopSignal } from '../base.js'

export default class Call extends SwitchCommand {
  static override summary = 'Call a service: send a request and print its reply'
  static override description = 'Blocks until the reply arrives (a service may start later) or --timeout passes. ' +
    'Waits as long for a switch that is not up yet. The reply is printed with a newline after it when it has ' +
    'none of its own; --raw prints its bytes exactly.'

  static override examples = [
    '<%= config.bin %> call foo --body hello',
    'echo hello | <%= config.bin %> call foo --file -'
  ]

  static override args = {
    queue: Args.string({ description: 'the service queue', required: true })
  }

  static override flags = {
    ...payloadFlags,
    timeout: seconds({ description: 'give up when no reply came within this long', default: 30 }),
    raw: Flags.boolean({ description: 'print the reply exactly, without adding a final newline' })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Call)
    const payload = await readPayload(flags)
    // The call's own timeout ends a wait for a switch that is away: retrying stops a backoff before its window
    // does, so the window is a backoff longer, or the call would end early and blame the switch, not the timeout.
    const client = this.follow(flags, flags.timeout * 1000 + BACKOFF_MAX_MS)
    const signal = stopSignal()
    let reply: Buffer
    try {
      reply = await client.rpc(args.queue, payload, { timeout: flags.timeout, signal })
    } catch (error) {
      if (error instanceof RpcTimeoutError) {
        // While the switch is away the time runs out waiting for it, not for the service: say which.
        const away = this.unreachable()
        throw new Error(`no reply from ${args.queue} within ${flags.timeout} s${away === undefined ? '' : `: ${away}`}`)
      }
      if (error instanceof RemoteError) throw new Error(`${args.queue} failed: ${error.payload}`)
      if (signal.aborted) throw new Errors.CLIError('interrupted', { exit: 130 })
      throw error
    }
    // A shell prompt after a reply without a newline would follow it on the same line.
    const newline = !flags.raw && reply.at(-1) !== 0x0a
    process.stdout.write(newline ? Buffer.concat([reply, Buffer.from('\n')]) : reply)
  }
}
