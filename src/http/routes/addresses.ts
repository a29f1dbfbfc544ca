import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { AddressEntry } from '../../domain/address-entry.js'
import { SORT_KEYS, type Sort, type SortKey } from '../../domain/listing.js'
import type { AddressBook } from '../../service/address-book-service.js'
import { principalOf } from '../authentication.js'
import { entityTagOf, preconditionsOf } from '../preconditions.js'
import { HttpProblem, Problems } from '../problems.js'

/** The original's id route pattern; anything else is an unknown endpoint, as it was there. */
const ID = ':id([a-zA-Z0-9-]+)'
const COLLECTION = '/addresses'
const ITEM = `/addresses/${ID}`

export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

const IdParams = Type.Object({ id: Type.String() })
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
export const addressRoutes: FastifyPluginCallbackTypebox<{ service: AddressBook }> = (app, { service }, done) => {
  app.get(COLLECTION, { schema: { querystring: ListParameters, response: { 200: AddressBookPage } } }, async (request, reply) => {
    const { limit = DEFAULT_PAGE_SIZE, sort, ...filters } = request.query
    const page = await service.list(principalOf(request), { ...filters, limit, sort: sortOf(sort) })
    if (page.next !== undefined) reply.header('link', `<${nextPageUrl(request, page.next)}>; rel="next"`)
    if (page.total !== undefined) reply.header('x-total-count', String(page.total))
    const body: Record<string, AddressEntry> = {}
    for (const { id, entry } of page.entries) body[id] = entry
    return body
  })

  app.get(ITEM, { schema: { params: IdParams, response: { 200: AddressEntry } } }, async (request, reply) => {
    const { version, entry } = await service.get(principalOf(request), request.params.id)
    reply.header('etag', entityTagOf(version))
    return entry
  })

  app.post(COLLECTION, { preValidation: requireBody, schema: { body: AddressEntry } }, async (request, reply) => {
    const { id, version } = await service.create(principalOf(request), request.body)
    return reply.code(201).header('location', `${COLLECTION}/${id}`).header('etag', entityTagOf(version)).send()
  })

  app.put(ITEM, { preValidation: requireBody, schema: { params: IdParams, body: AddressEntry } }, async (request, reply) => {
    const version = await service.update(principalOf(request), request.params.id, request.body, preconditionsOf(request.headers))
    return reply.code(204).header('etag', entityTagOf(version)).send()
  })

  // The body is a JSON Merge Patch, not an entry: the service validates what it merges into.
  app.patch(ITEM, { preValidation: requireBody, schema: { params: IdParams } }, async (request, reply) => {
    const version = await service.patch(principalOf(request), request.params.id, request.body, preconditionsOf(request.headers))
    return reply.code(204).header('etag', entityTagOf(version)).send()
  })

  app.delete(ITEM, { schema: { params: IdParams } }, async (request, reply) => {
    await service.delete(principalOf(request), request.params.id, preconditionsOf(request.headers))
    return reply.code(204).send()
  })

  for (const [url, allowed] of Object.entries(ALLOWED)) {
    const allow = allowed.join(', ')
    app.options(url, async (_request, reply) => reply.code(204).header('allow', allow).send())
    const others = app.supportedMethods.filter((method) => !(allowed as readonly string[]).includes(method))
    app.route({
      method: others,
      url,
      handler: () => {
        throw new HttpProblem(Problems.methodNotAllowed, { headers: { allow } })
      },
    })
  }
  done()
}
