import { Args, Flags } from '@oclif/core'
import { SwitchCommand, payloadFlags, readPayload } from '../base.js'

export default class Publish extends SwitchCommand {
  static override summary = 'Publish one message to a topic and print how many queues received it'
  static override description = 'Every queue bound to a filter matching the topic receives a copy (0 when nobody ' +
    'listens: that is no error). With --retain the message also stays as the topic\'s retained message, which ' +
    'each new matching binding receives; an empty --retain message clears it.'

  static override examples = [
    '<%= config.bin %> publish site/rack1/temp --body 21.5 --retain',
    'echo restarting | <%= config.bin %> publish notices/web --file -'
  ]

  static override args = {
    topic: Args.string({ description: 'the topic, levels separated by / (no + or #)', required: true })
  }

  static override flags = {
    ...payloadFlags,
    retain: Flags.boolean({ description: 'keep it as the topic\'s retained message (empty: clear that)' }),
    json: Flags.boolean({ description: 'print the answer (ids, count) as JSON' })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Publish)
    const payload = await readPayload(flags)
    const client = this.connect(flags)
    const published = await client.publish(args.topic, payload, { retain: flags.retain })
    this.log(flags.json ? JSON.stringify(published) : String(published.count))
  }
}
