import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { AddressBook } from '../../service/address-book-service.js'
import { principalOf } from '../edge/authentication.js'
import { entityTagOf, preconditionsOf } from '../edge/preconditions.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { contentResponse, emptyResponse, Headers, problemResponses, withGuard, type Guard, type ProblemsByStatus, type Responses } from '../edge/responses.js'
import { photoEntityTag, photoUrl } from './entry-representation.js'
import { refuseOtherMethods } from './other-methods.js'
import { ConditionalRead, ConditionalWrite } from './schemas.js'

/**
 * An entry's photo (PUT, GET, DELETE /addresses/{id}/photo): a sub-resource of the entry, whose
 * every change is a change of the entry. The service judges and normalizes the image; here are
 * its media types, its size limit and its caching.
 */

const PHOTO = '/addresses/:id([a-zA-Z0-9-]+)/photo'
const TAGS = ['addresses']
/** What a photo's body may be: a phone's 12-megapixel JPEG is 3 to 12 MB. */
export const PHOTO_BODY_LIMIT = 20 * 1024 * 1024
const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp'])
const THUMBNAIL = 96
/** A photo asked for by the URL that names it never changes: a year, for good. */
const FOR_GOOD = 'private, max-age=31536000, immutable'
/** Asked for otherwise, it may have changed: revalidate every time (a 304 costs little). */
const REVALIDATE = 'private, no-cache'

/** A photo's entity tag: a hash of the image, -96 for its thumbnail. */
const PhotoTag = Type.String({ pattern: '^"[\\w-]+"$', description: 'the entity tag of the image: a hash of it ("…-96" for the thumbnail)' })

const PhotoParams = Type.Object({ id: Type.String({ description: "the entry's id" }) })
const PhotoQuery = Type.Object({
  size: Type.Optional(Type.Literal(THUMBNAIL, { description: 'a 96×96 thumbnail instead of the photo' })),
  v: Type.Optional(Type.String({ maxLength: 100, description: "the photo's tag, as the entry's photo.url names it: cached for good when it is current" })),
})

const ANY_ROUTE: ProblemsByStatus = { 415: [Problems.unsupportedContentEncoding], 500: [Problems.internalError], 503: [Problems.storeUnavailable] }
const ENTRY: ProblemsByStatus = { 404: [Problems.entryNotFound] }
const CONDITIONAL_WRITE: ProblemsByStatus = { 412: [Problems.preconditionFailed], 428: [Problems.preconditionRequired] }

export const photoRoutes: FastifyPluginCallbackTypebox<{ service: AddressBook; guard: Guard }> = (app, { service, guard }, done) => {
  const secured = guard.security ? { security: guard.security } : {}
  const responses = (own: Responses, ...problems: ProblemsByStatus[]) => withGuard(guard, { ...own, ...problemResponses(ANY_ROUTE, ...problems) })

  // Any body arrives as bytes: the handler says which types it takes, and the service which bytes are an image.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PHOTO_BODY_LIMIT }, (_request, body, parsed) => {
    parsed(null, body)
  })

  app.put(PHOTO, {
    bodyLimit: PHOTO_BODY_LIMIT,
    schema: {
      operationId: 'putPhoto',
      summary: "Set an entry's photo",
      description:
        'A JPEG, PNG or WebP image of at most 20 MiB and 64 megapixels, checked by decoding it. It is stored upright (EXIF ' +
        'orientation applied), without its metadata, as a JPEG of at most 720×720, with a 96×96 thumbnail. A change of the entry: ' +
        "a new version and a change in the feed; If-Match takes the entry's ETag, as every write of it does.",
      tags: TAGS,
      params: PhotoParams,
      headers: ConditionalWrite,
      body: { content: Object.fromEntries([...IMAGE_TYPES].map((type) => [type, { schema: Type.String({ format: 'binary' }) }])) },
      ...secured,
      response: responses(
        { 204: emptyResponse('Stored: the ETag is the new photo\'s, the entry\'s new version is in Entry-ETag', { ETag: PhotoTag, 'Entry-ETag': Headers.etag, 'Content-Location': Type.String() }) },
        ENTRY,
        CONDITIONAL_WRITE,
        { 400: [Problems.invalidPhoto], 413: [Problems.payloadTooLarge, Problems.photoTooLarge], 415: [Problems.unsupportedMediaType] },
      ),
    },
  }, async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
    const { body } = request
    if (!IMAGE_TYPES.has(type) || !(body instanceof Uint8Array)) {
      throw new HttpProblem(Problems.unsupportedMediaType, { detail: 'A photo is sent as image/jpeg, image/png or image/webp.' })
    }
    const { id, version, photo } = await service.setPhoto(principalOf(request), request.params.id, body, preconditionsOf(request.headers))
    if (photo) reply.header('etag', photoEntityTag(photo.etag, false)).header('content-location', photoUrl(id, photo.etag))
    return reply.code(204).header('entry-etag', entityTagOf(version)).send()
  })

  app.get(PHOTO, {
    schema: {
      operationId: 'getPhoto',
      summary: "An entry's photo",
      description: 'The photo as stored (a JPEG of at most 720×720), or its 96×96 thumbnail (?size=96).',
      tags: TAGS,
      params: PhotoParams,
      querystring: PhotoQuery,
      headers: ConditionalRead,
      ...secured,
      response: responses(
        {
          200: contentResponse('The image', { 'image/jpeg': Type.String({ format: 'binary' }) }, { ETag: PhotoTag, 'Cache-Control': Type.String() }),
          304: emptyResponse('The photo is still the one of the tag sent in If-None-Match', { ETag: PhotoTag, 'Cache-Control': Type.String() }),
        },
        ENTRY,
        { 400: [Problems.invalidQuery], 404: [Problems.photoNotFound] },
      ),
    },
  }, async (request, reply) => {
    const thumbnail = request.query.size === THUMBNAIL
    const image = await service.photo(principalOf(request), request.params.id, thumbnail ? 'thumbnail' : 'image')
    const etag = photoEntityTag(image.etag, thumbnail)
    // The edge answers 304 when If-None-Match names this tag.
    reply.header('etag', etag).header('cache-control', request.query.v === image.etag ? FOR_GOOD : REVALIDATE)
    return reply.type(image.contentType).send(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength))
  })

  app.delete(PHOTO, {
    schema: {
      operationId: 'deletePhoto',
      summary: "Remove an entry's photo",
      description: "A change of the entry: a new version and a change in the feed; If-Match takes the entry's ETag.",
      tags: TAGS,
      params: PhotoParams,
      headers: ConditionalWrite,
      ...secured,
      response: responses({ 204: emptyResponse('Removed; Entry-ETag is the entry\'s new version', { 'Entry-ETag': Headers.etag }) }, ENTRY, CONDITIONAL_WRITE, {
        404: [Problems.photoNotFound],
      }),
    },
  }, async (request, reply) => {
    const { version } = await service.removePhoto(principalOf(request), request.params.id, preconditionsOf(request.headers))
    return reply.code(204).header('entry-etag', entityTagOf(version)).send()
  })

  const allowed = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'] as const
  app.options(PHOTO, { schema: { hide: true } }, async (_request, reply) => reply.code(204).header('allow', allowed.join(', ')).send())
  refuseOtherMethods(app, PHOTO, allowed)
  done()
}
