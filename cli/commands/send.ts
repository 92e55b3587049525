import { Args, Flags } from '@oclif/core'
import { SwitchCommand, payloadFlags, readPayload, seconds } from '../base.js'

export default class Send extends SwitchCommand {
  static override summary = 'Send one message to a queue and print its id'

  static override args = {
    queue: Args.string({ description: 'the queue', required: true })
  }

  static override flags = {
    ...payloadFlags,
    'correlation-id': Flags.string({ description: 'correlation id, to match a reply to its request', helpValue: 'ID' }),
    'reply-to': Flags.string({ description: 'queue the receiver should reply to', helpValue: 'QUEUE' }),
    ttl: seconds({ description: 'seconds after which it expires unacked (instead of the queue\'s --message-ttl)' }),
    delay: seconds({ description: 'seconds before which it is not delivered (work queues only)' })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Send)
    const payload = await readPayload(flags)
    const client = this.connect(flags)
    const sent = await client.send(args.queue, payload, {
      ...(flags['correlation-id'] === undefined ? {} : { correlationId: flags['correlation-id'] }),
      ...(flags['reply-to'] === undefined ? {} : { replyTo: flags['reply-to'] }),
      ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }),
      ...(flags.delay === undefined ? {} : { delay: flags.delay })
    })
    this.log(String(sent.id))
  }
}
