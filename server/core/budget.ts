/**
 * The bytes one answer may encode (maxAnswerBytes), spent on its items in order. The first item is always taken,
 * so a single item larger than the budget still goes; once one does not fit, nothing more is, so what an answer
 * holds is a prefix and its cursor continues exactly after it.
 */
export class AnswerBudget {
  private left: number
  private taken = 0
  private closed = false

  constructor (bytes: number) {
    this.left = bytes
  }

  /** Spends `size` bytes on one more item, if they fit (or it is the first); false once one did not fit, ever after. */
  take (size: number): boolean {
    if (this.closed) return false
    if (this.taken > 0 && size > this.left) {
      this.closed = true
      return false
    }
    this.taken++
    this.left -= size
    return true
  }

  /** True once an item was refused. */
  get full (): boolean {
    return this.closed
  }
}

/** The longest prefix of `items` whose sizes fit in `bytes` (at least one item); sizes are computed only that far. */
export function withinBudget<T> (items: T[], bytes: number, size: (item: T) => number): T[] {
  const budget = new AnswerBudget(bytes)
  const kept = items.findIndex((item) => !budget.take(size(item)))
  return kept < 0 ? items : items.slice(0, kept)
}
