import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'

/**
 * ETags on successful GET and HEAD responses, and 304 for a matching If-None-Match (a list of
 * tags or `*`, compared weakly as RFC 9110 requires for GET). A route that knows its tag (an
 * entry's version) sets it; other responses (a page of the book) get a weak tag from a hash of
 * the body, weak because the page is sent in several content codings. Hand-written because
 * @fastify/etag tags every response, error bodies included, and compares only one tag.
 */
export function addEntityTags(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const cacheable =
      (request.method === 'GET' || request.method === 'HEAD') &&
      reply.statusCode === 200 &&
      (typeof payload === 'string' || Buffer.isBuffer(payload))
    if (!cacheable) {
      done(null, payload)
      return
    }
    const known = reply.getHeader('etag')
    const tag = typeof known === 'string' ? known : `W/"${createHash('sha1').update(payload).digest('base64url')}"`
    reply.header('etag', tag)
    if (matchesAny(request.headers['if-none-match'], tag)) {
      // No body, so no Content-Type or Content-Length describing an empty one. Fastify's own
      // HEAD hook cannot take a null payload; it drops the body and keeps the 200's length.
      reply.code(304).removeHeader('content-type')
      done(null, request.method === 'HEAD' ? payload : null)
      return
    }
    done(null, payload)
  })
}

function matchesAny(ifNoneMatch: string | undefined, tag: string): boolean {
  if (ifNoneMatch === undefined) return false
  if (ifNoneMatch.trim() === '*') return true
  const opaque = opaqueTag(tag)
  return ifNoneMatch.split(',').some((candidate) => opaqueTag(candidate.trim()) === opaque)
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}
