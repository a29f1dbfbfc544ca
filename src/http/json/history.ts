import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import jsonPatch from 'fast-json-patch'
import Type from 'typebox'
import { CHANGE_SOURCES } from '../../domain/vocabulary.js'
import type { EntryVersion, HistoryBook } from '../../service/history-service.js'
import { RESTORE_CHOICES } from '../../service/history-service.js'
import { principalOf } from '../edge/authentication.js'
import { entityTagOf, preconditionsOf } from '../edge/preconditions.js'
import { Problems } from '../edge/problems.js'
import { emptyResponse, Headers, jsonResponse, problemResponses, withGuard, type Guard, type ProblemsByStatus, type Responses } from '../edge/responses.js'
import { representationOf } from './entry-representation.js'
import { linkNextPage } from './next-page.js'
import { refuseOtherMethods } from './other-methods.js'
import { ConditionalWrite, DEFAULT_PAGE_SIZE, EntryRepresentation, IdParams, MAX_PAGE_SIZE } from './schemas.js'

/**
 * Nothing a person does is final (GET /addresses/{id}/history, POST …/history/{version}/restore,
 * GET and DELETE /trash, POST /trash/{id}/restore, DELETE /trash/{id}, POST /addresses/restore):
 * an entry's earlier versions, each with what it changed as a JSON Patch (RFC 6902); the trash;
 * and a whole book put back as it was.
 */

const ID = ':id([a-zA-Z0-9-]+)'
const TAGS = ['history']

const PatchOperation = Type.Object(
  {
    op: Type.Enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
    path: Type.String(),
    value: Type.Optional(Type.Unknown()),
    from: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)
const Version = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    etag: Headers.etag,
    changed_at: Type.String({ format: 'date-time', description: 'when this version was made' }),
    replaced_at: Type.Optional(Type.String({ format: 'date-time', description: 'when the next version, or the deletion, replaced it' })),
    source: Type.Enum([...CHANGE_SOURCES], { description: 'through what it was made: the JSON API, an import, CardDAV, or a restore' }),
    current: Type.Boolean({ description: 'whether the entry is at this version now' }),
    deleted: Type.Boolean({ description: 'whether the entry was deleted at the end of this version' }),
    entry: EntryRepresentation,
    diff: Type.Array(PatchOperation, { description: 'what this version changed of the one before it, as a JSON Patch (RFC 6902); for the first, every member added' }),
  },
  { additionalProperties: false, title: 'A version of an entry' },
)
const HistoryPage = Type.Object(
  {
    versions: Type.Array(Version, { description: 'newest first' }),
    next: Type.Optional(Type.String({ description: 'the cursor of the next (older) page; also in the Link header' })),
  },
  { additionalProperties: false, title: "An entry's history" },
)
const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `per page (default ${String(DEFAULT_PAGE_SIZE)})` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'where the previous page ended, as its next said' })),
})
const TrashQuery = Type.Object({ ...PageQuery.properties, q: Type.Optional(Type.String({ maxLength: 200, description: 'text the entry contains, in any case' })) })
const TrashedEntry = Type.Object(
  {
    id: Type.String(),
    etag: Headers.etag,
    deleted_at: Type.String({ format: 'date-time' }),
    entry: EntryRepresentation,
  },
  { additionalProperties: false, title: 'A deleted entry' },
)
const TrashPage = Type.Object(
  {
    entries: Type.Array(TrashedEntry, { description: 'the most recently deleted first' }),
    next: Type.Optional(Type.String({ description: 'the cursor of the next page; also in the Link header' })),
  },
  { additionalProperties: false, title: 'The trash' },
)
const VersionParams = Type.Object({ id: IdParams.properties.id, version: Type.String({ pattern: '^[1-9][0-9]{0,9}$', description: 'the version to restore' }) })
const RestoreBody = Type.Object(
  {
    at: Type.String({
      minLength: 1,
      maxLength: 100,
      description: `an ISO 8601 time within the history kept (trash.retention), or one of ${Object.keys(RESTORE_CHOICES).join(', ')} (ago)`,
    }),
  },
  { additionalProperties: false },
)
const RestoreQuery = Type.Object({ preview: Type.Optional(Type.Boolean({ description: 'only say what the restore would do' })) })
const Ids = (description: string) => Type.Array(Type.String(), { description })
const BookRestore = Type.Object(
  {
    at: Type.String({ format: 'date-time', description: 'the time the book was put back to' }),
    preview: Type.Boolean({ description: 'true when nothing was changed' }),
    restored: Ids('entries changed since, given their content of then as a new version'),
    trashed: Ids('entries created since, moved to the trash'),
    recreated: Ids('entries deleted since, created again under their ids'),
    cards: Type.Object(
      { restored: Ids('changed since'), trashed: Ids('created since'), recreated: Ids('deleted since') },
      { additionalProperties: false, description: "CardDAV's cards kept apart from the entries (Apple's group cards), by id, put back in the same transaction" },
    ),
  },
  { additionalProperties: false, title: 'A book put back as it was' },
)
const Emptied = Type.Object({ deleted: Type.Integer({ minimum: 0, description: 'how many entries were deleted for good' }) }, { additionalProperties: false })

const UNCHANGED = emptyResponse('Unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag })
const ANY_ROUTE: ProblemsByStatus = { 415: [Problems.unsupportedContentEncoding], 500: [Problems.internalError], 503: [Problems.storeUnavailable] }
const NOT_FOUND: ProblemsByStatus = { 404: [Problems.entryNotFound] }
const PAGED: ProblemsByStatus = { 400: [Problems.invalidQuery] }

export const historyRoutes: FastifyPluginCallbackTypebox<{ history: HistoryBook; guard: Guard }> = (app, { history, guard }, done) => {
  const secured = guard.security ? { security: guard.security } : {}
  const responses = (own: Responses, ...problems: ProblemsByStatus[]) => withGuard(guard, { ...own, ...problemResponses(ANY_ROUTE, ...problems) })

  app.get(`/addresses/${ID}/history`, {
    schema: {
      operationId: 'getHistory',
      summary: "An entry's versions",
      description:
        'Its versions, newest first, for as long as history is kept (trash.retention, and a few versions of each entry beyond it): ' +
        'when and through what each was made, its content, and what it changed as a JSON Patch. Also for an entry in the trash.',
      tags: TAGS,
      params: IdParams,
      querystring: PageQuery,
      ...secured,
      response: responses({ 200: jsonResponse('A page of versions', HistoryPage, { Link: Headers.link, ETag: Headers.bodyEtag }), 304: UNCHANGED }, NOT_FOUND, PAGED),
    },
  }, async (request, reply) => {
    const { id } = request.params
    const page = await history.history(principalOf(request), id, { limit: request.query.limit ?? DEFAULT_PAGE_SIZE, cursor: request.query.cursor })
    linkNextPage(request, reply, page.next)
    // Each version as the API shows it, made once: it is both a version's entry and the next one's base.
    const shown = page.versions.map((version) => ({ version, document: documentOf(version) }))
    const previous = page.previous && documentOf(page.previous)
    const versions = shown.map(({ version, document }, index) => {
      const before = shown[index + 1]?.document ?? previous
      return {
        version: version.version,
        etag: entityTagOf(version.version),
        changed_at: version.changedAt,
        ...(version.replacedAt === undefined ? {} : { replaced_at: version.replacedAt }),
        source: version.source,
        current: version.current,
        deleted: version.deleted,
        entry: document,
        diff: jsonPatch.compare(before ?? {}, document),
      }
    })
    return { versions, ...(page.next === undefined ? {} : { next: page.next }) }
  })

  app.post(`/addresses/${ID}/history/:version/restore`, {
    schema: {
      operationId: 'restoreVersion',
      summary: 'Restores an earlier version',
      description:
        'Gives the entry the content, photo and kept card properties of that version, as a new version: a change in the feed, as ' +
        "any write. If-Match takes the entry's current ETag. Restoring the version it is at changes nothing.",
      tags: TAGS,
      params: VersionParams,
      headers: ConditionalWrite,
      ...secured,
      response: responses(
        { 200: jsonResponse('The entry as it is now', EntryRepresentation, { ETag: Headers.etag }) },
        NOT_FOUND,
        { 409: [Problems.entryExists], 412: [Problems.preconditionFailed] },
      ),
    },
  }, async (request, reply) => {
    const { id, version } = request.params
    const restored = await history.restoreVersion(principalOf(request), id, Number(version), preconditionsOf(request.headers))
    return reply.header('etag', entityTagOf(restored.version)).send(representationOf(restored.id, restored.entry, restored.photo))
  })

  app.get('/trash', {
    schema: {
      operationId: 'listTrash',
      summary: 'Deleted entries',
      description: 'Entries deleted within trash.retention (30 days by default), the most recently deleted first, with q to search them.',
      tags: TAGS,
      querystring: TrashQuery,
      ...secured,
      response: responses({ 200: jsonResponse('A page of the trash', TrashPage, { Link: Headers.link, ETag: Headers.bodyEtag }), 304: UNCHANGED }, PAGED),
    },
  }, async (request, reply) => {
    const { q, limit, cursor } = request.query
    const page = await history.trash(principalOf(request), { q, limit: limit ?? DEFAULT_PAGE_SIZE, cursor })
    linkNextPage(request, reply, page.next)
    const entries = page.entries.map(({ id, version, deletedAt, entry, photo }) => ({ id, etag: entityTagOf(version), deleted_at: deletedAt, entry: representationOf(id, entry, photo) }))
    return { entries, ...(page.next === undefined ? {} : { next: page.next }) }
  })

  app.post(`/trash/${ID}/restore`, {
    schema: {
      operationId: 'restoreFromTrash',
      summary: 'Brings a deleted entry back',
      description:
        'Creates the entry again under its id, with its photo and kept card properties, at the version after the one it was ' +
        'deleted at: the change feed and CardDAV see it created. 409 when its id, or its card name, was taken meanwhile.',
      tags: TAGS,
      params: IdParams,
      ...secured,
      response: responses(
        { 201: jsonResponse('The entry, back in the book', EntryRepresentation, { ETag: Headers.etag, Location: Type.String() }) },
        NOT_FOUND,
        { 409: [Problems.entryExists] },
      ),
    },
  }, async (request, reply) => {
    const restored = await history.restoreFromTrash(principalOf(request), request.params.id)
    return reply
      .code(201)
      .header('location', `/addresses/${restored.id}`)
      .header('etag', entityTagOf(restored.version))
      .send(representationOf(restored.id, restored.entry, restored.photo))
  })

  app.delete(`/trash/${ID}`, {
    schema: {
      operationId: 'deleteFromTrash',
      summary: 'Deletes an entry for good',
      description: 'The entry, its history and its photos are gone; it cannot be restored.',
      tags: TAGS,
      params: IdParams,
      ...secured,
      response: responses({ 204: emptyResponse('Gone for good') }, NOT_FOUND),
    },
  }, async (request, reply) => {
    await history.deleteFromTrash(principalOf(request), request.params.id)
    return reply.code(204).send()
  })

  app.delete('/trash', {
    schema: {
      operationId: 'emptyTrash',
      summary: 'Empties the trash',
      description: 'Every entry in the trash is gone for good, with its history and photos.',
      tags: TAGS,
      ...secured,
      response: responses({ 200: jsonResponse('The trash is empty', Emptied) }),
    },
  }, async (request) => ({ deleted: await history.emptyTrash(principalOf(request)) }))

  app.post('/addresses/restore', {
    schema: {
      operationId: 'restoreBook',
      summary: 'Puts the whole book back as it was',
      description:
        'In one transaction: entries created since the time go to the trash, entries changed since get their content of then as a ' +
        'new version, entries deleted since come back. Each is an ordinary change for sync clients, so a restore can itself be ' +
        'undone. With preview=true, only says what it would do.',
      tags: TAGS,
      querystring: RestoreQuery,
      body: RestoreBody,
      ...secured,
      response: responses({ 200: jsonResponse('What was (or would be) restored, trashed and re-created', BookRestore) }, {
        400: [Problems.invalidJsonBody, Problems.invalidEntry, Problems.invalidRestoreTime],
        409: [Problems.entryExists],
        413: [Problems.payloadTooLarge],
      }),
    },
  }, async (request) => {
    const done = await history.restoreBook(principalOf(request), request.body.at, { preview: request.query.preview === true })
    const { others } = done
    return {
      at: done.at,
      preview: done.preview,
      restored: [...done.restored],
      trashed: [...done.trashed],
      recreated: [...done.recreated],
      cards: { restored: [...others.restored], trashed: [...others.trashed], recreated: [...others.recreated] },
    }
  })

  for (const [url, allowed] of [
    [`/addresses/${ID}/history`, ['GET', 'HEAD', 'OPTIONS']],
    [`/addresses/${ID}/history/:version/restore`, ['POST', 'OPTIONS']],
    ['/trash', ['GET', 'HEAD', 'DELETE', 'OPTIONS']],
    [`/trash/${ID}/restore`, ['POST', 'OPTIONS']],
    [`/trash/${ID}`, ['DELETE', 'OPTIONS']],
    ['/addresses/restore', ['POST', 'OPTIONS']],
  ] as const) {
    app.options(url, { schema: { hide: true } }, async (_request, reply) => reply.code(204).header('allow', allowed.join(', ')).send())
    refuseOtherMethods(app, url, allowed)
  }
  done()
}

/** A version as the JSON API shows an entry: what its diff is made against. */
function documentOf({ id, entry, photo }: EntryVersion) {
  return representationOf(id, entry, photo)
}
