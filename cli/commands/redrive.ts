import { Args, Flags } from '@oclif/core'
import { SwitchCommand } from '../base.js'

export default class Redrive extends SwitchCommand {
  static override summary = 'Move every message of a dead-letter queue to another queue and print how many moved'
  static override description = 'In one step: each message goes as a new one (a new id) with its payload and ' +
    'headers, its delivery count started afresh. Look at them first with `switch receive DLQ`, which shows why ' +
    'each one is there.'

  static override examples = ['<%= config.bin %> redrive jobs-dead --to jobs']

  static override args = {
    queue: Args.string({ description: 'the dead-letter queue', required: true })
  }

  static override flags = {
    to: Flags.string({ description: 'the queue to move them to', required: true, helpValue: 'QUEUE' })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Redrive)
    const { moved } = await this.connect(flags).redrive(args.queue, flags.to)
    this.log(String(moved))
  }
}
