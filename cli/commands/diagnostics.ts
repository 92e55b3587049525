import { Flags } from '@oclif/core'
import { SwitchCommand } from '../base.js'
import { diagnosticsReport } from '../report.js'

export default class Diagnostics extends SwitchCommand {
  static override summary = 'Show what the switch holds: running, never started and stuck services, waiting requests'

  static override flags = {
    json: Flags.boolean({ description: 'print the raw diagnostics JSON' })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Diagnostics)
    const diagnostics = await this.connect(flags).diagnostics()
    process.stdout.write(flags.json ? JSON.stringify(diagnostics, null, 2) + '\n' : diagnosticsReport(diagnostics))
  }
}
