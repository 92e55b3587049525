import t from 'tap'
import { RedisStore } from '../../../server/store/redis.js'
import { conformance } from './conformance.js'
import { startRedis, type RedisServer } from './redis-server.js'

let redis: RedisServer
let prefix = 0
t.before(async () => { redis = await startRedis(t) })
// One redis-server for the file; each test its own keys.
conformance(t, () => {
  const keys = `conformance${++prefix}:`
  return { name: 'redis', open: () => new RedisStore(redis.url, { prefix: keys }), durable: true }
})
