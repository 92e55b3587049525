import { Args } from '@oclif/core'
import { SwitchCommand } from '../base.js'

export const bindingArgs = {
  queue: Args.string({ description: 'the queue', required: true }),
  filter: Args.string({ description: 'the topic filter: + matches one level, # any number of levels (as in MQTT)', required: true })
}

export default class Bind extends SwitchCommand {
  static override summary = 'Bind a queue to a topic filter: it gets a copy of every message published to a matching topic'
  static override description = 'Idempotent. A new binding delivers the retained messages of matching topics at once; ' +
    'prints how many it delivered.'

  static override examples = ['<%= config.bin %> bind alerts "site/+/alarm"']

  static override args = bindingArgs

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Bind)
    const bound = await this.connect(flags).bind(args.queue, args.filter)
    this.log(String(bound.retained))
  }
}
