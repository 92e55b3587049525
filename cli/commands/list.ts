import { Flags } from '@oclif/core'
import type { QueueInfo } from '../../lib/index.js'
import { SwitchCommand } from '../base.js'

/** A queue's options as flags of `switch create`, in brackets: `[work, visibility-timeout 30 s, …]`. */
function describeOptions (queue: QueueInfo): string {
  const o = queue.options
  if (o === undefined) return ''
  const parts: string[] = []
  if (o.mode === 'work') parts.push('work', `visibility-timeout ${o.visibilityTimeout ?? 30} s`)
  if (o.maxDeliveries !== undefined) parts.push(`max-deliveries ${o.maxDeliveries}`)
  if (o.deadLetter !== undefined) parts.push(`dead-letter ${o.deadLetter}`)
  if (o.messageTtl !== undefined) parts.push(`message-ttl ${o.messageTtl} s`)
  return `  [${parts.join(', ')}]`
}

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
      this.log(`${queue.name}${queue.bindings === undefined ? '' : `  <- ${queue.bindings.join(', ')}`}${describeOptions(queue)}`)
    }
  }
}
