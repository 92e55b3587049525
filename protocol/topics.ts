// Publish/subscribe on top of queues: the rules for topic names and topic filters (MQTT's), and the wire types
// of the topic routes. Shared by the server, the client library and the CLI, like the queue-name rules.

/**
 * Topics and filters are at most this many characters: they travel as one percent-encoded URL path segment,
 * and the router refuses longer ones (as it does queue names).
 */
export const TOPIC_MAX_LENGTH = 200

/** The level separator, and the wildcards a filter may hold as whole levels. */
export const LEVEL_SEPARATOR = '/'
export const SINGLE_LEVEL = '+'
export const MULTI_LEVEL = '#'

// Control characters would make a topic unsafe in a log line; a lone surrogate is not storable as UTF-8.
const UNPRINTABLE = /[\u0000-\u001f\u007f]|\p{Cs}/u

function textProblem (what: string, text: string): string | undefined {
  if (text.length === 0) return `${what} is empty`
  if (text.length > TOPIC_MAX_LENGTH) return `${what} is longer than ${TOPIC_MAX_LENGTH} characters`
  if (UNPRINTABLE.test(text)) return `${what} may not hold control characters or unpaired surrogates`
  return undefined
}

/**
 * Topic names (`site/rack1/temp`): 1 to 200 characters, levels separated by `/`, any of them may be empty
 * (`/finance` has an empty first level), and no `+` or `#` (those are the filters' wildcards).
 */
export function topicProblem (topic: string): string | undefined {
  const problem = textProblem('topic', topic)
  if (problem !== undefined) return problem
  if (topic.includes(SINGLE_LEVEL) || topic.includes(MULTI_LEVEL)) {
    return `topic ${JSON.stringify(topic)} may not hold + or # (they are wildcards, for filters)`
  }
  return undefined
}

/**
 * Topic filters: like topic names, where a whole level may be `+` (exactly one level, possibly empty) and the
 * last level may be `#` (any number of levels, none included: `a/#` matches `a`).
 */
export function filterProblem (filter: string): string | undefined {
  const problem = textProblem('filter', filter)
  if (problem !== undefined) return problem
  const levels = filter.split(LEVEL_SEPARATOR)
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]
    if (level === MULTI_LEVEL) {
      if (i !== levels.length - 1) return `filter ${JSON.stringify(filter)}: # may only be the last level (as in a/#)`
    } else if (level !== SINGLE_LEVEL && (level.includes(SINGLE_LEVEL) || level.includes(MULTI_LEVEL))) {
      return `filter ${JSON.stringify(filter)}: + and # must be whole levels (as in a/+/b or a/#)`
    }
  }
  return undefined
}

export interface PublishResponse {
  /** The id of the copy each matching queue received, in increasing order; none when nobody listens. */
  ids: number[]
  /** How many queues received it (the length of `ids`). */
  count: number
  /** True when an idempotency key matched an earlier publish: nothing new was delivered. */
  duplicate: boolean
}

export interface BindResponse {
  queue: string
  filter: string
  /** False when the queue had that binding already (then nothing else happened). */
  created: boolean
  /** Retained messages of matching topics the new binding delivered into the queue. */
  retained: number
}

export interface BindingsResponse {
  queue: string
  /** Its topic filters, sorted. */
  filters: string[]
}

/** Diagnostics of the retained messages: how many topics hold one, and which. */
export interface RetainedInfo {
  count: number
  /** Sorted. */
  topics: string[]
}
