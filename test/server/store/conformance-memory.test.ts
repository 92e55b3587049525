import t from 'tap'
import { MemoryStore } from '../../../server/store/memory.js'
import { conformance } from './conformance.js'

conformance(t, () => ({ name: 'memory', open: () => new MemoryStore(), durable: false }))
