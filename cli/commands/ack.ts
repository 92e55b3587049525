import { Args } from '@oclif/core'
import { SwitchCommand } from '../base.js'

export default class Ack extends SwitchCommand {
  static override summary = 'Acknowledge (remove) a message by id'

  static override args = {
    id: Args.integer({ description: 'the message id', required: true, min: 1 })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Ack)
    await this.connect(flags).ack(args.id)
  }
}
