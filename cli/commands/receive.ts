import { Args, Flags } from '@oclif/core'
import { messageBody, type Message } from '../../lib/index.js'
import { escapePayload } from '../escape.js'
import { SwitchCommand, seconds, stopSignal } from '../base.js'

/** The longest one long-poll of `--follow` waits before asking again. */
const POLL_SECONDS = 30

export default class Receive extends SwitchCommand {
  static override summary = 'Print the messages of a queue with their ids, one per line (ID<TAB>PAYLOAD)'
  static override description = 'Each line is the message id, a tab and the payload, escaped (\\\\, \\n, \\r, \\t, ' +
    '\\xHH) so that a message stays on one line; with --json, the whole message as one line of JSON. The ' +
    'messages stay in the queue unless --ack removes each once printed (or `switch ack ID` later). Without ' +
    '--timeout or --follow it prints what the queue holds now and ends. A dead letter has a third column, why it ' +
    'is there: `dead letter: REASON from QUEUE after N deliveries`. On a work queue each message printed is leased ' +
    'to this command (until --ack, or until its lease runs out).'

  static override examples = [
    '<%= config.bin %> receive jobs',
    '<%= config.bin %> receive jobs --count 1 --timeout 10 --ack',
    '<%= config.bin %> receive jobs --follow --json'
  ]

  static override args = {
    queue: Args.string({ description: 'the queue', required: true })
  }

  static override flags = {
    ack: Flags.boolean({ description: 'ack (remove) each message once printed' }),
    count: Flags.integer({ char: 'n', description: 'stop after this many messages; fewer by the end is a failure (exit 1)', min: 1, helpValue: 'N' }),
    timeout: seconds({ description: 'wait this long for a message when none is there (default 0: do not wait)', exclusive: ['follow'] }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing messages as they arrive until SIGINT or SIGTERM' }),
    json: Flags.boolean({ description: 'print each message as one line of JSON (id, queue, payload, origin, …)' })
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Receive)
    const client = this.connect(flags)
    const signal = stopSignal()
    await client.subscribe(args.queue, { signal })
    const wait = flags.timeout ?? 0
    let printed = 0
    let after = 0
    try {
      while (flags.count === undefined || printed < flags.count) {
        const max = flags.count === undefined ? undefined : flags.count - printed
        const timeout = flags.follow ? POLL_SECONDS : wait
        const page = await client.transfer({ after, timeout, signal, ...(max === undefined ? {} : { max }) })
        for (const message of page.messages) {
          this.print(message, flags.json)
          printed++
          if (flags.ack) await client.ack(message.id, { signal })
        }
        after = page.next
        if (page.messages.length === 0 && !flags.follow) break
      }
    } catch (error) {
      if (!signal.aborted) throw error
      return
    }
    if (flags.count !== undefined && printed < flags.count) {
      throw new Error(`received ${printed} of ${flags.count} messages from ${args.queue}${wait > 0 ? ` within ${wait} s` : ''}`)
    }
  }

  private print (message: Message, json: boolean): void {
    if (json) return this.log(JSON.stringify(message))
    const dead = message.deadLetter
    const why = dead === undefined ? '' : `\tdead letter: ${dead.reason} from ${dead.from} after ${dead.deliveries} deliveries`
    this.log(`${message.id}\t${escapePayload(messageBody(message))}${why}`)
  }
}
