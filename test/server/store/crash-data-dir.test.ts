import t from 'tap'
import { crashTests } from './crash.js'
import { tempDir } from './fixtures.js'

crashTests(t, { name: 'data directory', rounds: 10, flags: async (t) => ['--data-dir', tempDir(t)] })
