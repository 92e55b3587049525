import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The dashboard's files, by the name it loads them under. They are not compiled: from dist/server/ui/ (a
 * checkout's build, or an installed package, which ships server/ui/static) the folder is three levels up. The
 * service classification is `switch diagnostics`'s own module, built, which imports nothing.
 */
const STATIC = new URL('../../../server/ui/static/', import.meta.url)
const JS = 'text/javascript; charset=utf-8'
const FILES: Record<string, { url: URL, type: string }> = {
  'index.html': { url: new URL('index.html', STATIC), type: 'text/html; charset=utf-8' },
  'dashboard.js': { url: new URL('dashboard.js', STATIC), type: JS },
  'dashboard.css': { url: new URL('dashboard.css', STATIC), type: 'text/css; charset=utf-8' },
  'favicon.svg': { url: new URL('favicon.svg', STATIC), type: 'image/svg+xml' },
  'services.js': { url: new URL('../../protocol/services.js', import.meta.url), type: JS }
}

/** The page may load only the switch's own files and call only the switch; no page may frame it. */
const HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Revalidated each time (a switch upgraded serves new files), answered 304 while unchanged.
  'cache-control': 'no-cache'
}

interface File { body: Buffer, etag: string }

/**
 * `GET /ui`: a live dashboard of the switch, plain files with no build step and nothing from elsewhere. The page
 * itself is open; the data it shows comes from /v1/diagnostics and /v1/trace, which need `observe`.
 */
export function uiRoutes (app: FastifyInstance): void {
  const cache = new Map<string, Promise<File>>()
  const load = async (name: string): Promise<File> => {
    const body = await readFile(FILES[name].url)
    return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
  }
  const serve = (name: string) => async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    let file = cache.get(name)
    if (file === undefined) {
      file = load(name)
      cache.set(name, file)
      // A file that could not be read is read again next time (the error is the 500 of this request).
      file.catch(() => { cache.delete(name) })
    }
    const { body, etag } = await file
    void reply.headers(HEADERS).header('etag', etag)
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
    return await reply.header('content-type', FILES[name].type).send(body)
  }
  app.get('/ui', { config: { access: 'open' } }, serve('index.html'))
  app.get('/ui/', { config: { access: 'open' } }, serve('index.html'))
  for (const name of Object.keys(FILES)) {
    if (name !== 'index.html') app.get(`/ui/${name}`, { config: { access: 'open' } }, serve(name))
  }
}
