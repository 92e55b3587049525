import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { InvalidRequestError } from '../core/errors.js'

const PARTS = ['params', 'query', 'headers'] as const
const SHOWN = { params: 'params', query: 'querystring', headers: 'headers' } as const

/**
 * Ajv coerces a parameter or header (`Last-Event-ID`) like `1e400` to Infinity and then skips its range checks, so a number that passed
 * validation may still be infinite: it is refused here as validation would have, naming the field.
 */
export function refuseInfiniteNumbers (app: FastifyInstance): void {
  app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    for (const part of PARTS) {
      const values = request[part]
      if (typeof values !== 'object' || values === null) continue
      for (const [name, value] of Object.entries(values)) {
        if (typeof value === 'number' && !Number.isFinite(value)) {
          done(new InvalidRequestError(`${SHOWN[part]}/${name} must be a finite number`, name))
          return
        }
      }
    }
    done()
  })
}
