import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, FastifySchema } from 'fastify'
import { InvalidRequestError } from '../core/errors.js'

type Part = 'params' | 'query' | 'headers'
const PARTS: Part[] = ['params', 'query', 'headers']
const SHOWN = { params: 'params', query: 'querystring', headers: 'headers' } as const

/** The parts of a route's input whose schema has a number anywhere: only there can Ajv have made one. */
const numericParts = new WeakMap<FastifySchema, Part[]>()

function partsToCheck (schema: FastifySchema): Part[] {
  let parts = numericParts.get(schema)
  if (parts === undefined) {
    const schemaOf = { params: schema.params, query: schema.querystring ?? (schema as { query?: unknown }).query, headers: schema.headers }
    parts = PARTS.filter((part) => /"(number|integer)"/.test(JSON.stringify(schemaOf[part] ?? null)))
    numericParts.set(schema, parts)
  }
  return parts
}

/**
 * Ajv coerces a parameter or header (`Last-Event-ID`) like `1e400` to Infinity and then skips its range checks, so a number that passed
 * validation may still be infinite: it is refused here as validation would have, naming the field. Without a
 * schema nothing is coerced, and a part without a number in its schema holds none: those are not looked at.
 */
export function refuseInfiniteNumbers (app: FastifyInstance): void {
  app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const schema = request.routeOptions.schema
    if (schema === undefined) { done(); return }
    for (const part of partsToCheck(schema)) {
      const values = request[part]
      if (typeof values !== 'object' || values === null) continue
      for (const name in values) {
        const value = (values as Record<string, unknown>)[name]
        if (typeof value === 'number' && !Number.isFinite(value)) {
          done(new InvalidRequestError(`${SHOWN[part]}/${name} must be a finite number`, name))
          return
        }
      }
    }
    done()
  })
}
