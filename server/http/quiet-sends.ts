/**
 * A socket's quiet sends (see SocketSendRequest), in the order they came: `done` is the highest id up to which
 * every one is finished (applied, or answered with its failure), so one number confirms them all.
 */
export class QuietSends {
  private open: number[] = []
  private head = 0
  private readonly finished = new Set<number>()
  private done = 0
  private told = 0

  taken (id: number): void {
    this.open.push(id)
  }

  finish (id: number): void {
    this.finished.add(id)
    while (this.head < this.open.length && this.finished.has(this.open[this.head])) {
      const next = this.open[this.head++]
      this.finished.delete(next)
      this.done = next
    }
    // Drop the finished head now and then, not on every finish.
    if (this.head > 1024 && this.head * 2 > this.open.length) {
      this.open = this.open.slice(this.head)
      this.head = 0
    }
  }

  /** Whether a `done` is waiting to be told. */
  get untold (): boolean {
    return this.done > this.told
  }

  /** The `done` to tell, if there is news since the last one told. */
  take (): number | undefined {
    if (this.done <= this.told) return undefined
    this.told = this.done
    return this.done
  }
}
