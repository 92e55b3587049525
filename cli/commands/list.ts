import { Flags } from '@oclif/core'
import { SwitchCommand } from '../base.js'
import { describeOptions } from '../report.js'

export default class List extends SwitchCommand {
  static override summary = 'List queues, one name per line (with its topic filters, if it has bindings, and its options, if it has any)'

  static override flags = {
    prefix: Flags.string({ description: 'only queues whose name starts with this' }),
    all: Flags.boolean({ description: 'include temporary (reply) queues' }),
    json: Flags.boolean({ description: 'print the queues with their details as JSON' })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(List)
    const client = this.connect(flags)
    const queues = (await client.list(flags.prefix === undefined ? {} : { prefix: flags.prefix }))
      .filter((queue) => flags.all || queue.kind === 'persistent')
    if (flags.json) {
      this.log(JSON.stringify(queues, null, 2))
      return
    }
    for (const queue of queues) {
      this.log(`${queue.name}${queue.bindings === undefined ? '' : `  <- ${queue.bindings.join(', ')}`}${describeOptions(queue.options)}`)
    }
  }
}
