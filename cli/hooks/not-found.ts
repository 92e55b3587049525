// `switch lst` -> "did you mean list?": one line and a usage exit, never a prompt (scripts read stderr too).
import type { Hook } from '@oclif/core'
import { UsageError } from '../base.js'

/** Edits (insert, delete, replace) turning `a` into `b`. */
function distance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}

/** The commands close enough to `typed` to be what was meant: within a third of its length, at least 2 edits. */
export function suggestions (typed: string, commands: string[]): string[] {
  const scored = commands.map((command) => ({ command, edits: distance(typed, command) }))
  const best = Math.min(...scored.map(({ edits }) => edits))
  if (best > Math.max(2, Math.floor(typed.length / 3))) return []
  return scored.filter(({ edits }) => edits === best).map(({ command }) => command)
}

const hook: Hook.CommandNotFound = async function ({ id, config }) {
  // With spaces between topic and command, oclif joins the words it was given: `lst foo` arrives as `lst:foo`.
  const typed = id.replaceAll(':', ' ')
  const commands = config.commands.filter((command) => !command.hidden).map((command) => command.id.replaceAll(':', ' '))
  const words = typed.split(' ')
  // The longest run of leading words that looks like a command: `auth ad x` -> `auth add`.
  for (let count = Math.min(2, words.length); count >= 1; count--) {
    const tried = words.slice(0, count).join(' ')
    const meant = suggestions(tried, commands)
    if (meant.length > 0) {
      throw new UsageError(`${tried} is not a ${config.bin} command; did you mean ${meant.join(' or ')}? (see ${config.bin} help)`)
    }
  }
  throw new UsageError(`${words[0]} is not a ${config.bin} command (see ${config.bin} help)`)
}

export default hook
