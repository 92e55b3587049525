import { Args, Flags } from '@oclif/core'
import { messageBody, type Message, type SwitchClient } from '../../lib/index.js'
import { escapePayload } from '../escape.js'
import { SwitchCommand, UsageError, stopSignal } from '../base.js'

/** Seconds each long-poll waits before asking again. */
const POLL_SECONDS = 30
/** A subscriber follows its topics while the switch restarts, as a service does. */
const FOLLOW_RETRY_MS = 24 * 3600_000

export default class Subscribe extends SwitchCommand {
  static override summary = 'Print the messages published to topics matching the filters, as they arrive'
  static override description = 'Creates a temporary queue bound to each filter (+ matches one level, # any ' +
    'number of levels, as in MQTT) and prints each message as it arrives, one per line: its topic, a space and ' +
    'its payload (as `mosquitto_sub -v`), the payload escaped (\\\\, \\n, \\r, \\t, \\xHH) so that a message ' +
    'stays on one line; with --payload-only the payload alone, with --json the whole message. A message is acked ' +
    'once printed. Runs until SIGINT or SIGTERM; the queue and its bindings go with it.'

  static override examples = [
    '<%= config.bin %> subscribe "site/+/temp"',
    '<%= config.bin %> subscribe "notices/#" "alerts/#" --json'
  ]

  // The filters are a list of any length: FILTER is the first, the others follow it.
  static override strict = false

  static override args = {
    filter: Args.string({ description: 'topic filters, one or more (+ one level, # any number of levels)' })
  }

  static override flags = {
    'payload-only': Flags.boolean({ description: 'print the payload alone, without its topic', exclusive: ['json'] }),
    json: Flags.boolean({ description: 'print each message as one line of JSON (id, topic, payload, origin, …)' })
  }

  static override usage = '<%= command.id %> FILTER... [--payload-only | --json]'

  async run (): Promise<void> {
    const { argv, flags } = await this.parse(Subscribe)
    const filters = argv as string[]
    if (filters.length === 0) throw new UsageError('give at least one topic filter, e.g. switch subscribe "site/#"')
    const client = this.follow(flags, FOLLOW_RETRY_MS)
    const signal = stopSignal()
    let epoch = -1
    let after = 0
    try {
      for (;;) {
        // A new session (the switch restarted in memory, or the lease ran out) has lost the temporary queue.
        if (client.sessionEpoch !== epoch) {
          await bindQueue(client, filters, signal)
          epoch = client.sessionEpoch
          after = 0
        }
        const page = await client.transfer({ after, timeout: POLL_SECONDS, signal })
        for (const message of page.messages) {
          this.print(message, flags)
          await client.ack(message.id, { signal })
        }
        after = page.next
      }
    } catch (error) {
      if (!signal.aborted) throw error
    }
    this.stoppedFollowing(flags)
  }

  private print (message: Message, flags: { json: boolean, 'payload-only': boolean }): void {
    if (flags.json) {
      this.log(JSON.stringify(message))
      return
    }
    const payload = escapePayload(messageBody(message))
    this.log(flags['payload-only'] ? payload : `${message.topic ?? '-'} ${payload}`)
  }
}

/** A temporary queue bound to every filter, which this session follows. */
async function bindQueue (client: SwitchClient, filters: string[], signal: AbortSignal): Promise<void> {
  const { name } = await client.createTemporaryQueue({ signal })
  for (const filter of filters) await client.bind(name, filter, { signal })
  await client.subscribe(name, { signal })
}
