import { Args } from '@oclif/core'
import { SwitchCommand } from '../base.js'

export default class Destroy extends SwitchCommand {
  static override summary = 'Destroy a queue and the messages it holds'

  static override args = {
    queue: Args.string({ description: 'the queue', required: true })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Destroy)
    await this.connect(flags).destroy(args.queue)
  }
}
