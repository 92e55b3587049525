import { Args, Flags } from '@oclif/core'
import type { QueueOptions } from '../../lib/index.js'
import { SwitchCommand, seconds } from '../base.js'

export default class Create extends SwitchCommand {
  static override summary = 'Create a persistent queue (nothing happens if it exists with these options)'
  static override description = 'The queue stays until `switch destroy`. There is no temporary queue here: ' +
    'a temporary queue lives as long as the session that made it, and this command\'s session ends with it ' +
    '(subscribe and call make their own). Options are set once: creating an existing queue with other ones ' +
    'fails (queue_conflict). --work makes a work queue: each message is leased to one receiver at a time.'

  static override examples = [
    '<%= config.bin %> create jobs',
    '<%= config.bin %> create jobs-dead && <%= config.bin %> create jobs --work --visibility-timeout 60 --max-deliveries 5 --dead-letter jobs-dead'
  ]

  static override args = {
    queue: Args.string({ description: 'the queue', required: true })
  }

  static override flags = {
    work: Flags.boolean({ description: 'a work queue: each message goes to one receiver at a time, leased for --visibility-timeout' }),
    'visibility-timeout': seconds({ description: 'seconds a delivery leases a message on a work queue (default 30)', dependsOn: ['work'] }),
    'max-deliveries': Flags.integer({ description: 'deliveries without an ack after which a message goes to --dead-letter (work queues)', min: 1, helpValue: 'N', dependsOn: ['work'] }),
    'dead-letter': Flags.string({ description: 'the queue (it must exist) that takes messages past --max-deliveries or expired', helpValue: 'QUEUE' }),
    'message-ttl': seconds({ description: 'seconds a message may stay unacked before it expires (to --dead-letter, else dropped)' })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Create)
    const options: QueueOptions = {}
    if (flags.work) options.mode = 'work'
    if (flags['visibility-timeout'] !== undefined) options.visibilityTimeout = flags['visibility-timeout']
    if (flags['max-deliveries'] !== undefined) options.maxDeliveries = flags['max-deliveries']
    if (flags['dead-letter'] !== undefined) options.deadLetter = flags['dead-letter']
    if (flags['message-ttl'] !== undefined) options.messageTtl = flags['message-ttl']
    await this.connect(flags).createQueue(args.queue, options)
  }
}
