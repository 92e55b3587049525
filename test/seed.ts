import type { Test } from 'tap'

/**
 * The seed of a randomized test: fixed, so that every run tries the same cases and a failure repeats; printed;
 * TEST_SEED=N replays or explores another.
 */
export function seedFor (t: Test, fixed: number): number {
  const seed = process.env.TEST_SEED === undefined ? fixed : Number(process.env.TEST_SEED)
  if (!Number.isSafeInteger(seed)) throw new Error(`TEST_SEED must be an integer, not ${process.env.TEST_SEED}`)
  t.comment(`seed ${seed} (TEST_SEED=${seed} replays it)`)
  return seed
}
