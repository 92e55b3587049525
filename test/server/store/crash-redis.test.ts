import t from 'tap'
import { crashTests } from './crash.js'
import { startRedis } from './redis-server.js'

// Fewer rounds than on a data directory: each costs the same, and the log's replay is the path every round takes.
crashTests(t, { name: 'redis', rounds: 4, flags: async (t) => ['--redis', (await startRedis(t)).url] })
