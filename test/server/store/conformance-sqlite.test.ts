import t from 'tap'
import { SqliteStore } from '../../../server/store/sqlite.js'
import { conformance } from './conformance.js'
import { tempDir } from './fixtures.js'

conformance(t, () => {
  const dir = tempDir(t)
  return { name: 'sqlite', open: () => new SqliteStore(dir), durable: true }
})
