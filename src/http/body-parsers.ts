import type { FastifyInstance, FastifyRequest } from 'fastify'
import { HttpProblem, Problems } from './problems.js'

/** JSON text is UTF-8 (RFC 8259); bytes that are not would otherwise become U+FFFD and could pass. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

type Parse = (body: Buffer) => unknown

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(UTF8.decode(body)) as unknown
  } catch {
    throw new HttpProblem(Problems.invalidJsonBody)
  }
}

/**
 * What each method accepts, by media type. POST and PUT read JSON whatever the Content-Type says,
 * as the original service did (curl -d sends application/x-www-form-urlencoded); PATCH takes a
 * JSON Merge Patch (RFC 7396) or JSON, and refuses anything else with 415. Later media types
 * (text/vcard, application/x-ndjson) are added here.
 */
const BODIES: Readonly<Record<string, { readonly byType: Readonly<Record<string, Parse>>; readonly otherwise?: Parse }>> = {
  POST: { byType: {}, otherwise: parseJson },
  PUT: { byType: {}, otherwise: parseJson },
  PATCH: { byType: { 'application/merge-patch+json': parseJson, 'application/json': parseJson } },
}

/** The media type of a Content-Type header: lower case, without parameters. */
export function mediaTypeOf(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? ''
}

export function addBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    const accepted = BODIES[request.method]
    if (!accepted) {
      done(null, undefined)
      return
    }
    const parse = accepted.byType[mediaTypeOf(request)] ?? accepted.otherwise
    if (!parse) {
      const types = Object.keys(accepted.byType).join(' or ')
      done(new HttpProblem(Problems.unsupportedMediaType, { detail: `${request.method} takes a body of type ${types}.` }), undefined)
      return
    }
    try {
      done(null, parse(body as Buffer))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
}
