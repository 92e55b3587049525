import { LEVEL_SEPARATOR, MULTI_LEVEL, SINGLE_LEVEL } from '../../protocol/topics.js'

class TrieNode<V> {
  readonly children = new Map<string, TrieNode<V>>()
  /** The whole key ending at this node, with its value, if one does. */
  key: string | undefined
  value: V | undefined
}

/**
 * A map from `/`-separated keys to values, stored level by level so that lookups by pattern walk only the
 * branches that can match. Stored keys are topic filters (bindings: `matching` a topic) or topic names (retained
 * messages: `matchedBy` a filter); either way the cost grows with the depth of the key looked up and the number
 * of matches, not with the number of keys stored.
 */
export class TopicTrie<V> {
  private readonly root = new TrieNode<V>()
  private count = 0

  get size (): number {
    return this.count
  }

  get (key: string): V | undefined {
    let node: TrieNode<V> | undefined = this.root
    for (const level of key.split(LEVEL_SEPARATOR)) {
      node = node.children.get(level)
      if (node === undefined) return undefined
    }
    return node.value
  }

  set (key: string, value: V): void {
    let node = this.root
    for (const level of key.split(LEVEL_SEPARATOR)) {
      let child = node.children.get(level)
      if (child === undefined) {
        child = new TrieNode<V>()
        node.children.set(level, child)
      }
      node = child
    }
    if (node.key === undefined) this.count++
    node.key = key
    node.value = value
  }

  delete (key: string): boolean {
    const path: Array<[TrieNode<V>, string]> = []
    let node = this.root
    for (const level of key.split(LEVEL_SEPARATOR)) {
      const child = node.children.get(level)
      if (child === undefined) return false
      path.push([node, level])
      node = child
    }
    if (node.key === undefined) return false
    node.key = undefined
    node.value = undefined
    this.count--
    // Branches left empty go, so that walks never wander into dead ends.
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i]
      const child = parent.children.get(level)
      if (child === undefined || child.key !== undefined || child.children.size > 0) break
      parent.children.delete(level)
    }
    return true
  }

  clear (): void {
    this.root.children.clear()
    this.root.key = undefined
    this.root.value = undefined
    this.count = 0
  }

  /** With the keys read as topic filters: the values of those that match `topic`. */
  matching (topic: string): V[] {
    const out: V[] = []
    collectFilters(this.root, topic.split(LEVEL_SEPARATOR), 0, out)
    return out
  }

  /** With the keys read as topic names: those `filter` matches, with their values. */
  matchedBy (filter: string): Array<[string, V]> {
    const out: Array<[string, V]> = []
    collectTopics(this.root, filter.split(LEVEL_SEPARATOR), 0, out)
    return out
  }

  entries (): Array<[string, V]> {
    const out: Array<[string, V]> = []
    collectAll(this.root, out)
    return out
  }
}

function collectFilters<V> (node: TrieNode<V>, levels: string[], depth: number, out: V[]): void {
  // `#` matches what is left, nothing included: `a/#` matches `a`, and `#` alone everything.
  const rest = node.children.get(MULTI_LEVEL)
  if (rest?.value !== undefined) out.push(rest.value)
  if (depth === levels.length) {
    if (node.value !== undefined) out.push(node.value)
    return
  }
  const exact = node.children.get(levels[depth])
  if (exact !== undefined) collectFilters(exact, levels, depth + 1, out)
  // `+` matches any one level, an empty one too.
  const one = node.children.get(SINGLE_LEVEL)
  if (one !== undefined) collectFilters(one, levels, depth + 1, out)
}

function collectTopics<V> (node: TrieNode<V>, levels: string[], depth: number, out: Array<[string, V]>): void {
  if (depth === levels.length) {
    if (node.key !== undefined) out.push([node.key, node.value as V])
    return
  }
  const level = levels[depth]
  if (level === MULTI_LEVEL) {
    collectAll(node, out)
  } else if (level === SINGLE_LEVEL) {
    for (const child of node.children.values()) collectTopics(child, levels, depth + 1, out)
  } else {
    const child = node.children.get(level)
    if (child !== undefined) collectTopics(child, levels, depth + 1, out)
  }
}

function collectAll<V> (node: TrieNode<V>, out: Array<[string, V]>): void {
  if (node.key !== undefined) out.push([node.key, node.value as V])
  for (const child of node.children.values()) collectAll(child, out)
}

/**
 * Whether `filter` matches `topic`, level by level: the plain definition, for checking a handful of filters
 * (and for holding the trie to it in tests).
 */
export function filterMatches (filter: string, topic: string): boolean {
  const wanted = filter.split(LEVEL_SEPARATOR)
  const levels = topic.split(LEVEL_SEPARATOR)
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] === MULTI_LEVEL) return true
    if (i >= levels.length) return false
    if (wanted[i] !== SINGLE_LEVEL && wanted[i] !== levels[i]) return false
  }
  return wanted.length === levels.length
}
