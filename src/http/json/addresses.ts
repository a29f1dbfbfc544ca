import { Readable } from 'node:stream'
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import type { AddressEntry } from '../../domain/address-entry.js'
import type { Sort, SortKey } from '../../domain/listing.js'
import { formatVCard, type VCardVersion } from '../../formats/vcard.js'
import type { AddressBook, ExportedEntry, ImportedEntry, PhotoImage } from '../../service/address-book-service.js'
import { base64Of } from '../../lib/bytes.js'
import { TimeSlice } from '../../lib/time-slice.js'
import { principalOf } from '../edge/authentication.js'
import { bodyRequired, ImportBody } from './body-parsers.js'
import { representationOf, withoutPhotoLink, type EntryRepresentation as Represented } from './entry-representation.js'
import { linkNextPage } from './next-page.js'
import { refuseOtherMethods } from './other-methods.js'
import { entityTagOf, preconditionsOf } from '../edge/preconditions.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { MEDIA_TYPES, preferredRepresentation, vcardContentType, vcardVersionOf, type Representation } from './representations.js'
import {
  contentResponse,
  emptyResponse,
  Headers,
  jsonResponse,
  problemResponses,
  withGuard,
  type Guard,
  type ProblemsByStatus,
  type Responses,
} from '../edge/responses.js'
import {
  AddressBookPage,
  ChangesPage,
  ChangesParameters,
  ConditionalRead,
  ConditionalWrite,
  DEFAULT_PAGE_SIZE,
  IdempotentWrite,
  IdParams,
  ImportResult,
  ListParameters,
  CREATE_BODY,
  EntryRepresentation,
  PATCH_BODY,
  TEXT,
} from './schemas.js'

/** The original's id route pattern; anything else is an unknown endpoint, as it was there. */
const ID = ':id([a-zA-Z0-9-]+)'
const COLLECTION = '/addresses'
const ITEM = `/addresses/${ID}`
const CHANGES = '/addresses/changes'

const TAGS = ['addresses']

/** What any address route may answer, whatever it does: an unknown Content-Encoding is refused before any body is read. */
const ANY_ROUTE: ProblemsByStatus = { 415: [Problems.unsupportedContentEncoding], 500: [Problems.internalError] }
const STORE: ProblemsByStatus = { 503: [Problems.storeUnavailable] }
/** Every method but GET and HEAD reads a body when one is sent, even where it then ignores it. */
const BODY: ProblemsByStatus = { 400: [Problems.invalidCompressedBody], 413: [Problems.payloadTooLarge] }
const ENTRY_BODY: ProblemsByStatus = { 400: [Problems.invalidJsonBody, Problems.invalidEntry] }
/** An id that cannot be one is refused before any route sees the request. */
const ENTRY_PATH: ProblemsByStatus = { 400: [Problems.malformedRequest], 414: [Problems.idTooLong] }
const ENTRY: ProblemsByStatus = { 404: [Problems.entryNotFound] }
const CONDITIONAL_WRITE: ProblemsByStatus = { 412: [Problems.preconditionFailed], 428: [Problems.preconditionRequired] }

const LIST_REPRESENTATIONS: readonly Representation[] = ['json', 'ndjson', 'vcard-4.0', 'vcard-3.0']
const ITEM_REPRESENTATIONS: readonly Representation[] = ['json', 'vcard-4.0', 'vcard-3.0']
/** What an export sends at a time: lines gathered up to this many characters. */
const EXPORT_CHUNK = 64 * 1024

/** The methods each path answers; every other method gets 405 with this list in Allow. */
const ALLOWED = {
  [COLLECTION]: ['GET', 'HEAD', 'POST', 'OPTIONS'],
  [ITEM]: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  [CHANGES]: ['GET', 'HEAD', 'OPTIONS'],
} as const

/**
 * A write without a body has no JSON to read: the same answer as unparseable JSON. What a body
 * holds is the service's to judge.
 */
const requireBody = bodyRequired('an address entry as JSON')

function sortOf(parameter: string | undefined): Sort {
  if (parameter === undefined) return { key: 'created', descending: false }
  const descending = parameter.startsWith('-')
  return { key: (descending ? parameter.slice(1) : parameter) as SortKey, descending }
}

/** An export as text: NDJSON lines, or vCards of a version, gathered into chunks, read from the book as the client takes them. */
async function* exportText(entries: AsyncIterable<ExportedEntry>, vcard: VCardVersion | undefined): AsyncGenerator<string> {
  let chunk = ''
  for await (const { id, version, entry, updatedAt, image } of entries) {
    const text = vcard === undefined ? ndjsonLine(id, version, entry, image) : formatVCard({ id, entry, updatedAt, photo: image }, vcard)
    // An entry as large as a chunk (one with a photo) goes as it is: joined to the chunk, it would be copied once more.
    if (text.length >= EXPORT_CHUNK) {
      if (chunk !== '') yield chunk
      chunk = ''
      yield text
      continue
    }
    chunk += text
    if (chunk.length >= EXPORT_CHUNK) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk !== '') yield chunk
}

/**
 * An export's line: the entry as stored, and its photo (a field of its own, base64) when it has
 * one. Base64 needs no escaping in JSON: the photo is put in as it is, not copied once more by
 * JSON.stringify, which for a book of photos is most of what an export allocates.
 */
function ndjsonLine(id: string, version: number, entry: AddressEntry, image: PhotoImage | undefined): string {
  const head = JSON.stringify({ id, etag: entityTagOf(version), entry })
  if (!image) return `${head}\n`
  const data = base64Of(image.data)
  return `${head.slice(0, -1)},"photo":{"type":${JSON.stringify(image.contentType)},"data":"${data}"}}\n`
}

/**
 * What an import answers: each new entry with its tag, and where it was in the body, as JSON text
 * (the ImportResult schema), `{"created":[…]}`. Written a slice of time at a time rather than
 * serialized in one go; one that takes more than one slice is sent as a stream of its parts: as
 * one string, the answer to 200,000 lines (14 MB) was joined, then compressed or encoded in one
 * piece, for tens of milliseconds of the event loop each.
 */
async function importResult(imported: readonly ImportedEntry[]): Promise<string | Readable> {
  const slice = new TimeSlice()
  const parts: string[] = []
  let created: string[] = []
  const flush = () => {
    parts.push(`${parts.length === 0 ? '{"created":[' : ','}${created.join(',')}`)
    created = []
  }
  for (const { id, version, line, card, unmapped } of imported) {
    created.push(
      JSON.stringify({
        id,
        etag: entityTagOf(version),
        ...(line === undefined ? {} : { line }),
        ...(card === undefined ? {} : { card }),
        ...(unmapped === undefined ? {} : { unmapped }),
      }),
    )
    if (slice.due()) {
      flush()
      await slice.pause()
    }
  }
  if (created.length > 0 || parts.length === 0) flush()
  parts.push(']}')
  // Made in one slice, it is small: one string, with its Content-Length.
  return parts.length === 2 ? parts.join('') : Readable.from(parts, { objectMode: false })
}

/** The address routes; every one acts on the caller's own book, as the authentication hooks of their scope decided. */
export const addressRoutes: FastifyPluginCallbackTypebox<{ service: AddressBook; guard: Guard }> = (app, { service, guard }, done) => {
  const secured = guard.security ? { security: guard.security } : {}
  const responses = (own: Responses, ...problems: ProblemsByStatus[]) => withGuard(guard, { ...own, ...problemResponses(ANY_ROUTE, STORE, ...problems) })
  const listSchema = {
    operationId: 'listAddresses',
    summary: 'A page of the book, or all of it as NDJSON or vCard',
    description:
      'Entries keyed by id, in the order asked for; filters combine with AND. With Accept: application/x-ndjson, every entry that ' +
      'passes the filters, streamed as {"id","etag","entry"} lines; with Accept: text/vcard (version=3.0 for vCard 3.0), as vCards. ' +
      'An export has no pages: limit, cursor and count are for JSON pages only.',
    tags: TAGS,
    querystring: ListParameters,
    ...secured,
    response: responses({
      200: contentResponse(
        'A page of entries (JSON), or every matching entry (NDJSON, vCard)',
        { [MEDIA_TYPES.json]: AddressBookPage, [MEDIA_TYPES.ndjson]: TEXT, [MEDIA_TYPES.vcard]: TEXT },
        { Link: Headers.link, 'X-Total-Count': Headers.totalCount, ETag: Headers.bodyEtag, Vary: Headers.vary },
      ),
      304: emptyResponse('The page is unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag, Vary: Headers.vary }),
    }, { 400: [Problems.invalidQuery] }),
  }
  app.get(COLLECTION, { schema: listSchema }, async (request, reply) => {
    const { limit, sort, cursor, count, ...filters } = request.query
    const representation = preferredRepresentation(request.headers.accept, LIST_REPRESENTATIONS)
    reply.header('vary', 'accept, accept-encoding')
    if (representation !== 'json') {
      const paging = Object.entries({ limit, cursor, count }).filter(([, value]) => value !== undefined)
      if (paging.length > 0) {
        const errors = paging.map(([name]) => ({ path: `/${name}`, message: 'is for JSON pages; an export sends every matching entry' }))
        throw new HttpProblem(Problems.invalidQuery, { errors })
      }
      const entries = await service.exportEntries(principalOf(request), { ...filters, sort: sortOf(sort), photos: true })
      const vcard = vcardVersionOf(representation)
      const type = vcard === undefined ? `${MEDIA_TYPES.ndjson}; charset=utf-8` : vcardContentType(vcard)
      return reply.type(type).send(Readable.from(exportText(entries, vcard)))
    }
    const page = await service.list(principalOf(request), { ...filters, cursor, count, limit: limit ?? DEFAULT_PAGE_SIZE, sort: sortOf(sort) })
    linkNextPage(request, reply, page.next)
    if (page.total !== undefined) reply.header('x-total-count', String(page.total))
    const body: Record<string, Represented> = {}
    for (const { id, entry, photo } of page.entries) body[id] = representationOf(id, entry, photo)
    return body
  })

  const getSchema = {
    operationId: 'getAddress',
    summary: 'One entry',
    tags: TAGS,
    params: IdParams,
    headers: ConditionalRead,
    ...secured,
    response: responses({
      200: contentResponse(
        'The entry exactly as stored (JSON), or as a vCard (Accept: text/vcard, version=3.0 for vCard 3.0)',
        { [MEDIA_TYPES.json]: EntryRepresentation, [MEDIA_TYPES.vcard]: TEXT },
        { ETag: Headers.etag, Vary: Headers.vary },
      ),
      304: emptyResponse('The entry is still at a version sent in If-None-Match', { ETag: Headers.etag, Vary: Headers.vary }),
    }, ENTRY_PATH, ENTRY),
  }
  app.get(ITEM, { schema: getSchema }, async (request, reply) => {
    const representation = preferredRepresentation(request.headers.accept, ITEM_REPRESENTATIONS)
    const { id, version, entry, updatedAt, photo } = await service.get(principalOf(request), request.params.id)
    reply.header('vary', 'accept, accept-encoding')
    const vcard = vcardVersionOf(representation)
    if (vcard === undefined) return reply.header('etag', entityTagOf(version)).send(representationOf(id, entry, photo))
    const image = photo ? await service.photo(principalOf(request), id, 'image').catch(() => undefined) : undefined
    return reply
      .header('etag', entityTagOf(version, vcard))
      .type(vcardContentType(vcard))
      .send(formatVCard({ id, entry, updatedAt, photo: image }, vcard))
  })

  const createSchema = {
    operationId: 'createAddress',
    summary: 'Add an entry, or import many',
    description:
      'One entry, read as JSON whatever its Content-Type says (as the original API did); or, with Content-Type application/x-ndjson ' +
      '(an entry per line, with an optional id; export lines too) or text/vcard (one or many cards: 4.0, 3.0 or 2.1), an import: every ' +
      'item is checked first, and either all are stored, in one transaction, or none (400 naming each bad line or card). ' +
      'Idempotency-Key makes a retry safe: it gets the first response (Idempotent-Replayed: true) and stores nothing.',
    tags: TAGS,
    headers: IdempotentWrite,
    body: { content: CREATE_BODY },
    ...secured,
    response: responses({
      201: emptyResponse('Created: one entry', { Location: Headers.location, ETag: Headers.etag, 'Idempotent-Replayed': Headers.idempotentReplayed }),
      200: jsonResponse('An import: every entry it created', ImportResult, { 'Idempotent-Replayed': Headers.idempotentReplayed }),
    }, BODY, ENTRY_BODY, {
      400: [Problems.invalidImport, Problems.invalidHeader],
      409: [Problems.entryExists, Problems.idempotencyKeyInUse],
      422: [Problems.idempotencyKeyReused],
    }),
  }
  app.post(COLLECTION, { preValidation: requireBody, schema: createSchema }, async (request, reply) => {
    const write = { idempotencyKey: request.headers['idempotency-key'] }
    const { body } = request
    if (body instanceof ImportBody) {
      const { result, replayed } = await service.importEntries(principalOf(request), body.items, write)
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.type(`${MEDIA_TYPES.json}; charset=utf-8`).send(await importResult(result))
    }
    const { id, version, replayed } = await service.create(principalOf(request), withoutPhotoLink(body), write)
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(201).header('location', `${COLLECTION}/${id}`).header('etag', entityTagOf(version)).send()
  })

  const changesSchema = {
    operationId: 'listChanges',
    summary: 'What changed since a sync token',
    description:
      'Without since: no changes and a token for now. With the next of the previous answer: every entry created, updated or deleted ' +
      'since, oldest first, each once; more: true when the page was cut at limit. A token older than the deletions kept ' +
      '(sync.retention) gets 410: sync in full, then start again.',
    tags: TAGS,
    querystring: ChangesParameters,
    ...secured,
    response: responses({
      200: jsonResponse('The changes, and the token to send next time', ChangesPage, { ETag: Headers.bodyEtag }),
      304: emptyResponse('Unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag }),
    }, { 400: [Problems.invalidQuery, Problems.invalidSyncToken], 410: [Problems.syncTokenExpired] }),
  }
  app.get(CHANGES, { schema: changesSchema }, async (request) => {
    const { since, limit = DEFAULT_PAGE_SIZE } = request.query
    const { changes, next, more } = await service.changes(principalOf(request), { since, limit })
    return {
      changes: changes.map(({ id, change, current }) =>
        current ? { id, change, etag: entityTagOf(current.version), entry: representationOf(id, current.entry, current.photo) } : { id, change },
      ),
      next,
      ...(more ? { more: true as const } : {}),
    }
  })

  const replaceSchema = {
    operationId: 'replaceAddress',
    summary: 'Replace an entry',
    description: 'Replaces an existing entry whole; it never creates one. The body is read as JSON whatever its Content-Type says.',
    tags: TAGS,
    params: IdParams,
    headers: ConditionalWrite,
    body: EntryRepresentation,
    ...secured,
    response: responses({
      204: emptyResponse('Replaced', { ETag: Headers.etag }),
    }, BODY, ENTRY_BODY, ENTRY_PATH, ENTRY, CONDITIONAL_WRITE),
  }
  app.put(ITEM, { preValidation: requireBody, schema: replaceSchema }, async (request, reply) => {
    const version = await service.update(principalOf(request), request.params.id, withoutPhotoLink(request.body), preconditionsOf(request.headers))
    return reply.code(204).header('etag', entityTagOf(version)).send()
  })

  const patchSchema = {
    operationId: 'patchAddress',
    summary: 'Change part of an entry',
    description: 'A JSON Merge Patch (RFC 7396): members replace those of the entry, lists whole; null removes a member. The patched entry must be valid.',
    tags: TAGS,
    params: IdParams,
    headers: ConditionalWrite,
    body: { content: PATCH_BODY },
    ...secured,
    response: responses({
      204: emptyResponse('Patched', { ETag: Headers.etag }),
    }, BODY, ENTRY_BODY, ENTRY_PATH, ENTRY, CONDITIONAL_WRITE, { 415: [Problems.unsupportedMediaType] }),
  }
  // The service validates the entry the patch merges into: a patch is valid exactly when its result is.
  app.patch(ITEM, { preValidation: requireBody, schema: patchSchema }, async (request, reply) => {
    const version = await service.patch(principalOf(request), request.params.id, withoutPhotoLink(request.body), preconditionsOf(request.headers))
    return reply.code(204).header('etag', entityTagOf(version)).send()
  })

  const deleteSchema = {
    operationId: 'deleteAddress',
    summary: 'Delete an entry',
    tags: TAGS,
    params: IdParams,
    headers: ConditionalWrite,
    ...secured,
    response: responses({
      204: emptyResponse('Deleted'),
    }, BODY, ENTRY_PATH, ENTRY, CONDITIONAL_WRITE),
  }
  app.delete(ITEM, { schema: deleteSchema }, async (request, reply) => {
    await service.delete(principalOf(request), request.params.id, preconditionsOf(request.headers))
    return reply.code(204).send()
  })

  for (const [url, allowed] of Object.entries(ALLOWED)) {
    const allow = allowed.join(', ')
    const optionsSchema = {
      operationId: url === COLLECTION ? 'optionsAddresses' : url === CHANGES ? 'optionsChanges' : 'optionsAddress',
      summary: 'The methods of this path; needs no credentials',
      tags: TAGS,
      ...(url === ITEM ? { params: IdParams } : {}),
      response: withGuard(
        guard,
        {
          204: emptyResponse('The methods this path answers', { Allow: Headers.allow }),
          ...problemResponses(ANY_ROUTE, BODY, url === ITEM ? ENTRY_PATH : {}),
        },
        { authenticated: false },
      ),
    }
    app.options(url, { schema: optionsSchema }, async (_request, reply) => reply.code(204).header('allow', allow).send())
    refuseOtherMethods(app, url, allowed)
  }
  done()
}
