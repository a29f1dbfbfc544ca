import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/**
 * Where `npm run build` puts the web app: dist/app in the repository, found from this module
 * upwards, because this module sits at one depth in src/ and at another in the bundle in dist/.
 */
export const WEB_APP_ROOT = join(repositoryOf(fileURLToPath(import.meta.url)), 'dist', 'app')

/** The nearest directory above `path` that holds a package.json. */
function repositoryOf(path: string): string {
  const parent = dirname(path)
  if (parent === path || existsSync(join(parent, 'package.json'))) return parent
  return repositoryOf(parent)
}

export const WEB_APP_PREFIX = '/app/'

/**
 * What the app's pages may load: only the server's own scripts, styles, images and API, no inline
 * script or style, no other origin, no frames.
 */
const WEB_APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** Vite names what it builds after its content: such a file never changes, so it may be kept for a year. */
const HASHED_ASSET = /\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/

/**
 * The contacts web app: its files under /app/ and `/` redirecting there. The HTML is revalidated
 * on every visit (no-cache), so that a new build is picked up at once; its hashed scripts and
 * styles are cached for good. Does nothing but log when the app has not been built.
 */
export async function addWebApp(app: FastifyInstance, { root = WEB_APP_ROOT }: { root?: string } = {}): Promise<void> {
  if (!existsSync(`${root}/index.html`)) {
    app.log.warn({ root }, 'the web app is not built (npm run build): /app/ is not served')
    return
  }
  await app.register(async (scope) => {
    // After the security headers every response gets: these pages run scripts, the API's do not.
    scope.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('content-security-policy', WEB_APP_CSP)
      done(null, payload)
    })
    await scope.register(fastifyStatic, {
      root,
      prefix: WEB_APP_PREFIX,
      index: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        void reply.header('cache-control', HASHED_ASSET.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache')
      },
      schemaHide: true,
    })
    // The router ignores trailing slashes, so /app/ never reaches the static files' /app/* route.
    scope.get(WEB_APP_PREFIX, { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'))
  })
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect(WEB_APP_PREFIX, 302))
}
