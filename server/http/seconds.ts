/** A `timeout` query parameter (seconds, fractions allowed) as milliseconds; refuseInfiniteNumbers has made it finite. */
export function secondsToMs (seconds: number | undefined): number {
  return seconds === undefined ? 0 : Math.round(seconds * 1000)
}
