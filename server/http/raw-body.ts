import type { FastifyInstance } from 'fastify'

/**
 * Makes the routes of `app` (an encapsulated plugin) take any request body as raw bytes, whatever its content
 * type: a message's payload is never parsed.
 */
export function acceptRawBodies (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
}
