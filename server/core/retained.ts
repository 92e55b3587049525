import { TopicTrie } from './topics.js'

/** The last message published with the retain flag to a topic. */
export interface RetainedMessage {
  topic: string
  payload: Buffer
  /** Client name of its publisher. */
  origin: string
  /** When it was published. */
  time: number
}

/**
 * The retained message of each topic that has one. A new binding looks up those its filter matches by walking
 * the topics' trie, so its cost grows with the matches, not with the number of retained topics.
 */
export class RetainedMessages {
  private readonly byTopic = new TopicTrie<RetainedMessage>()

  get size (): number {
    return this.byTopic.size
  }

  set (message: RetainedMessage): void {
    this.byTopic.set(message.topic, message)
  }

  delete (topic: string): void {
    this.byTopic.delete(topic)
  }

  /** The retained messages of the topics `filter` matches, by topic. */
  matching (filter: string): RetainedMessage[] {
    return this.byTopic.matchedBy(filter).map(([, message]) => message).sort(byTopic)
  }

  all (): RetainedMessage[] {
    return this.byTopic.entries().map(([, message]) => message).sort(byTopic)
  }

  clear (): void {
    this.byTopic.clear()
  }
}

function byTopic (a: RetainedMessage, b: RetainedMessage): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0
}
