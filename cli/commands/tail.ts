import { Flags } from '@oclif/core'
import { SwitchCommand, stopSignal } from '../base.js'
import { formatTraceEvent } from '../report.js'

/** How long each long-poll of `tail --follow` waits before asking again. */
const FOLLOW_POLL_SECONDS = 30

export default class Tail extends SwitchCommand {
  static override summary = 'Print the recent trace events, one per line'
  static override description = 'Each line: time, event type, client, queue, message id and, for replies, ' +
    'the processing time. With --follow, keep printing new events until interrupted.'

  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'keep printing new events until SIGINT' })
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Tail)
    const client = this.connect(flags)
    const signal = flags.follow ? stopSignal() : undefined
    let after = 0
    for (;;) {
      let page
      try {
        page = await client.trace({ after, timeout: flags.follow ? FOLLOW_POLL_SECONDS : 0, ...(signal === undefined ? {} : { signal }) })
      } catch (error) {
        if (signal?.aborted === true) return
        throw error
      }
      for (const event of page.events) this.log(formatTraceEvent(event))
      after = page.next
      // Without --follow, stop once the backlog is drained.
      if (signal === undefined ? page.events.length === 0 : signal.aborted) return
    }
  }
}
