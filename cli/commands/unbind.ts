import { SwitchCommand } from '../base.js'
import { bindingArgs } from './bind.js'

export default class Unbind extends SwitchCommand {
  static override summary = 'Remove a queue\'s binding to a topic filter (nothing happens if it has none)'

  static override examples = ['<%= config.bin %> unbind alerts "site/+/alarm"']

  static override args = bindingArgs

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Unbind)
    await this.connect(flags).unbind(args.queue, args.filter)
  }
}
