import { SwitchCommand } from '../base.js'

export default class Shutdown extends SwitchCommand {
  static override summary = 'Stop the switch gracefully'

  async run (): Promise<void> {
    const { flags } = await this.parse(Shutdown)
    await this.connect(flags).shutdown()
  }
}
