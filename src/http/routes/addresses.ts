import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { AddressEntry, AddressEntryPatch } from '../../domain/address-entry.js'
import { SORT_KEYS, type Sort, type SortKey } from '../../domain/listing.js'
import type { AddressBook } from '../../service/address-book-service.js'
import { principalOf } from '../authentication.js'
import { entityTagOf, preconditionsOf } from '../preconditions.js'
import { HttpProblem, Problems } from '../problems.js'
import { emptyResponse, Headers, jsonResponse, problemResponses, withGuard, type Guard, type ProblemsByStatus, type Responses } from '../responses.js'

/** The original's id route pattern; anything else is an unknown endpoint, as it was there. */
const ID = ':id([a-zA-Z0-9-]+)'
const COLLECTION = '/addresses'
const ITEM = `/addresses/${ID}`

export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

const IdParams = Type.Object({ id: Type.String({ pattern: '^[a-zA-Z0-9-]+$', maxLength: 100, description: "the entry's id" }) })
const ConditionalRead = Type.Object({
  'If-None-Match': Type.Optional(Type.String({ description: 'entity tags (or *): 304 when the current one is among them' })),
})
const ConditionalWrite = Type.Object({
  'If-Match': Type.Optional(
    Type.String({ description: 'entity tags (or *): the write happens only if the current version is among them, else 412 (strong comparison)' }),
  ),
  'If-None-Match': Type.Optional(Type.String({ description: '*: the write happens only if the entry does not exist (so PUT answers 412)' })),
})
const AddressBookPage = Type.Record(Type.String({ pattern: '^[a-zA-Z0-9-]+$' }), AddressEntry, {
  description: 'A page of entries, keyed by id, in the order asked for',
})

/** Search and filter text: printable, so that a search cannot reach across the fields it looks in. */
const searchText = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })

const SORTS = SORT_KEYS.flatMap((key) => [key, `-${key}`])
const ListParameters = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `entries per page (default ${String(DEFAULT_PAGE_SIZE)})` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'where the previous page ended, from its Link rel="next"' })),
  q: Type.Optional(searchText(200)),
  full_name: Type.Optional(searchText(200)),
  email: Type.Optional(searchText(254)),
  phone: Type.Optional(searchText(40)),
  city: Type.Optional(searchText(100)),
  country: Type.Optional(searchText(100)),
  sort: Type.Optional(Type.Enum(SORTS, { description: 'the order, - for descending (default created); ties by id' })),
  count: Type.Optional(Type.Boolean({ description: 'also send X-Total-Count' })),
})

const TAGS = ['addresses']
const patchJson = { 'application/merge-patch+json': { schema: AddressEntryPatch }, 'application/json': { schema: AddressEntryPatch } }

/** What any address route may answer, whatever it does: an unknown Content-Encoding is refused before any body is read. */
const ANY_ROUTE: ProblemsByStatus = { 415: [Problems.unsupportedContentEncoding], 500: [Problems.internalError] }
const STORE: ProblemsByStatus = { 503: [Problems.storeUnavailable] }
/** Every method but GET and HEAD reads a body when one is sent, even where it then ignores it. */
const BODY: ProblemsByStatus = { 400: [Problems.invalidCompressedBody], 413: [Problems.payloadTooLarge] }
const ENTRY_BODY: ProblemsByStatus = { 400: [Problems.invalidJsonBody, Problems.schemaValidationFailed] }
/** An id that cannot be one is refused before any route sees the request. */
const ENTRY_PATH: ProblemsByStatus = { 400: [Problems.malformedPath], 414: [Problems.idTooLong] }
const ENTRY: ProblemsByStatus = { 404: [Problems.entryNotFound] }
const CONDITIONAL_WRITE: ProblemsByStatus = { 412: [Problems.preconditionFailed], 428: [Problems.preconditionRequired] }

/** A schema that checks nothing: for a body the service validates itself (a patch, valid when its result is). */
const acceptAnything = () => () => true

/** The methods each path answers; every other method gets 405 with this list in Allow. */
const ALLOWED = {
  [COLLECTION]: ['GET', 'HEAD', 'POST', 'OPTIONS'],
  [ITEM]: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
} as const

/** A write without a body has no JSON to read: the same answer as unparseable JSON. */
function requireBody(request: { body: unknown }, _reply: unknown, done: (error?: Error) => void): void {
  done(
    request.body === undefined
      ? new HttpProblem(Problems.invalidJsonBody, { detail: 'The request has no body; send an address entry as JSON.' })
      : undefined,
  )
}

function sortOf(parameter: string | undefined): Sort {
  if (parameter === undefined) return { key: 'created', descending: false }
  const descending = parameter.startsWith('-')
  return { key: (descending ? parameter.slice(1) : parameter) as SortKey, descending }
}

/** The URL of the next page: this request's, with the next cursor in place of its own. */
function nextPageUrl(request: FastifyRequest, cursor: string): string {
  const [path = COLLECTION, query = ''] = request.url.split('?', 2)
  const parameters = new URLSearchParams(query)
  parameters.set('cursor', cursor)
  return `${path}?${parameters.toString()}`
}

/** The address routes; every one acts on the caller's own book, as the authentication hooks of their scope decided. */
export const addressRoutes: FastifyPluginCallbackTypebox<{ service: AddressBook; guard: Guard }> = (app, { service, guard }, done) => {
  const secured = guard.security ? { security: guard.security } : {}
  const responses = (own: Responses, ...problems: ProblemsByStatus[]) => withGuard(guard, { ...own, ...problemResponses(ANY_ROUTE, STORE, ...problems) })
  const listSchema = {
    operationId: 'listAddresses',
    summary: 'A page of the book',
    description: 'Entries keyed by id, in the order asked for; filters combine with AND.',
    tags: TAGS,
    querystring: ListParameters,
    ...secured,
    response: responses({
      200: jsonResponse('A page of entries', AddressBookPage, { Link: Headers.link, 'X-Total-Count': Headers.totalCount, ETag: Headers.bodyEtag }),
      304: emptyResponse('The page is unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag }),
    }, { 400: [Problems.invalidQuery] }),
  }
  app.get(COLLECTION, { schema: listSchema }, async (request, reply) => {
    const { limit = DEFAULT_PAGE_SIZE, sort, ...filters } = request.query
    const page = await service.list(principalOf(request), { ...filters, limit, sort: sortOf(sort) })
    if (page.next !== undefined) reply.header('link', `<${nextPageUrl(request, page.next)}>; rel="next"`)
    if (page.total !== undefined) reply.header('x-total-count', String(page.total))
    const body: Record<string, AddressEntry> = {}
    for (const { id, entry } of page.entries) body[id] = entry
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
      200: jsonResponse('The entry exactly as stored', AddressEntry, { ETag: Headers.etag }),
      304: emptyResponse('The entry is still at a version sent in If-None-Match', { ETag: Headers.etag }),
    }, ENTRY_PATH, ENTRY),
  }
  app.get(ITEM, { schema: getSchema }, async (request, reply) => {
    const { version, entry } = await service.get(principalOf(request), request.params.id)
    reply.header('etag', entityTagOf(version))
    return entry
  })

  const createSchema = {
    operationId: 'createAddress',
    summary: 'Add an entry',
    description: 'The body is read as JSON whatever its Content-Type says, as the original API did.',
    tags: TAGS,
    body: AddressEntry,
    ...secured,
    response: responses({
      201: emptyResponse('Created', { Location: Headers.location, ETag: Headers.etag }),
    }, BODY, ENTRY_BODY, { 409: [Problems.entryExists] }),
  }
  app.post(COLLECTION, { preValidation: requireBody, schema: createSchema }, async (request, reply) => {
    const { id, version } = await service.create(principalOf(request), request.body)
    return reply.code(201).header('location', `${COLLECTION}/${id}`).header('etag', entityTagOf(version)).send()
  })

  const replaceSchema = {
    operationId: 'replaceAddress',
    summary: 'Replace an entry',
    description: 'Replaces an existing entry whole; it never creates one. The body is read as JSON whatever its Content-Type says.',
    tags: TAGS,
    params: IdParams,
    headers: ConditionalWrite,
    body: AddressEntry,
    ...secured,
    response: responses({
      204: emptyResponse('Replaced', { ETag: Headers.etag }),
    }, BODY, ENTRY_BODY, ENTRY_PATH, ENTRY, CONDITIONAL_WRITE),
  }
  app.put(ITEM, { preValidation: requireBody, schema: replaceSchema }, async (request, reply) => {
    const version = await service.update(principalOf(request), request.params.id, request.body, preconditionsOf(request.headers))
    return reply.code(204).header('etag', entityTagOf(version)).send()
  })

  const patchSchema = {
    operationId: 'patchAddress',
    summary: 'Change part of an entry',
    description: 'A JSON Merge Patch (RFC 7396): members replace those of the entry, lists whole; null removes a member. The patched entry must be valid.',
    tags: TAGS,
    params: IdParams,
    headers: ConditionalWrite,
    body: { content: patchJson },
    ...secured,
    response: responses({
      204: emptyResponse('Patched', { ETag: Headers.etag }),
    }, BODY, ENTRY_BODY, ENTRY_PATH, ENTRY, CONDITIONAL_WRITE, { 415: [Problems.unsupportedMediaType] }),
  }
  // The body is a merge patch, not an entry: the service validates the entry it merges into
  // (a patch is valid exactly when its result is), so the schema here only describes it.
  app.patch(ITEM, { preValidation: requireBody, schema: patchSchema, validatorCompiler: acceptAnything }, async (request, reply) => {
    const version = await service.patch(principalOf(request), request.params.id, request.body, preconditionsOf(request.headers))
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
      operationId: url === COLLECTION ? 'optionsAddresses' : 'optionsAddress',
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
    const others = app.supportedMethods.filter((method) => !(allowed as readonly string[]).includes(method))
    // Every other method answers 405; OpenAPI has no words for "any other method".
    app.route({
      method: others,
      url,
      schema: { hide: true },
      handler: () => {
        throw new HttpProblem(Problems.methodNotAllowed, { headers: { allow } })
      },
    })
  }
  done()
}
