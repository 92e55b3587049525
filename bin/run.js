#!/usr/bin/env node
import { Errors, flush, run, settings } from '@oclif/core'

// Always run the compiled commands: with NODE_ENV=test or development oclif would otherwise look for the
// TypeScript sources next to tsconfig.json and try to load them.
settings.enableAutoTranspile = false

try {
  await run(process.argv.slice(2), import.meta.url)
  await flush()
} catch (error) {
  // A command reports its own failure (cli/base.ts) and ends with an ExitError carrying the exit code. What
  // fails before any command runs (an unknown command) gets the same one-line treatment here.
  if (!(error instanceof Errors.ExitError)) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`switch: ${message.split('\n')[0]}\n`)
  }
  process.exit(error?.oclif?.exit ?? 1)
}
