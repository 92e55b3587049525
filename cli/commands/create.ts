import { Args } from '@oclif/core'
import { SwitchCommand } from '../base.js'

export default class Create extends SwitchCommand {
  static override summary = 'Create a persistent queue (nothing happens if it exists)'
  static override description = 'The queue stays until `switch destroy`. There is no temporary queue here: ' +
    'a temporary queue lives as long as the session that made it, and this command\'s session ends with it ' +
    '(subscribe and call make their own).'

  static override examples = ['<%= config.bin %> create jobs']

  static override args = {
    queue: Args.string({ description: 'the queue', required: true })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Create)
    await this.connect(flags).createQueue(args.queue)
  }
}
