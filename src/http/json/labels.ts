import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ENTRY_BOUNDS } from '../../domain/vocabulary.js'
import type { LabelBook, LabelSummary } from '../../service/label-service.js'
import { principalOf } from '../edge/authentication.js'
import { Problems } from '../edge/problems.js'
import { emptyResponse, Headers, jsonResponse, problemResponses, withGuard, type Guard, type ProblemsByStatus, type Responses } from '../edge/responses.js'
import { bodyRequired } from './body-parsers.js'
import { refuseOtherMethods } from './other-methods.js'

/**
 * The book's labels (GET /labels; PATCH and DELETE /labels/{name}): the groups its entries
 * belong to, with how many entries each, renamed or taken off every entry at once.
 */

const TAGS = ['labels']

const LabelSchema = Type.Object(
  {
    name: Type.String({ description: 'as most of its entries spell it' }),
    count: Type.Integer({ minimum: 0, description: 'how many entries have it' }),
  },
  { additionalProperties: false, title: 'A label' },
)
const LabelList = Type.Object({ labels: Type.Array(LabelSchema, { description: 'by name, case-insensitively' }) }, { additionalProperties: false })
const LabelParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 1000, description: 'the label, in any case' }) })
// The name is judged by the service (invalid-label), which trims it first.
const Rename = Type.Object(
  { name: Type.String({ maxLength: 1000, description: `the new name (trimmed): at most ${String(ENTRY_BOUNDS.label)} characters, none a control character; a name that differs only in case respells the label` }) },
  { additionalProperties: false },
)

const Ids = (description: string) => Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000, description }))
const Assignment = Type.Object(
  { add: Ids('ids of entries to give the label (at most 1,000)'), remove: Ids('ids of entries to take it off (at most 1,000)') },
  { additionalProperties: false },
)

const ANY_ROUTE: ProblemsByStatus = { 415: [Problems.unsupportedContentEncoding], 500: [Problems.internalError], 503: [Problems.storeUnavailable] }
const BODY: ProblemsByStatus = { 400: [Problems.invalidCompressedBody], 413: [Problems.payloadTooLarge] }
const CHANGE: ProblemsByStatus = { 404: [Problems.labelNotFound], 409: [Problems.labelBusy] }

export const labelRoutes: FastifyPluginCallbackTypebox<{ labels: LabelBook; guard: Guard }> = (app, { labels, guard }, done) => {
  const secured = guard.security ? { security: guard.security } : {}
  const responses = (own: Responses, ...problems: ProblemsByStatus[]) => withGuard(guard, { ...own, ...problemResponses(ANY_ROUTE, ...problems) })
  const wire = ({ name, count }: LabelSummary) => ({ name, count })

  app.get('/labels', {
    schema: {
      operationId: 'listLabels',
      summary: "The book's labels",
      description: 'Every label an entry of the book has, with how many entries have it. Labels are the same whatever their case.',
      tags: TAGS,
      ...secured,
      response: responses({
        200: jsonResponse('The labels', LabelList, { ETag: Headers.bodyEtag }),
        304: emptyResponse('Unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag }),
      }),
    },
  }, async (request) => ({ labels: (await labels.labels(principalOf(request))).map(wire) }))

  app.patch('/labels/:name', {
    preValidation: bodyRequired('{"name": "…"} as JSON'),
    schema: {
      operationId: 'renameLabel',
      summary: 'Renames a label on every entry',
      description:
        'Every entry with the label gets the new name instead, in one transaction: each a new version and a change in the feed. ' +
        'An entry that already has the new name keeps it once.',
      tags: TAGS,
      params: LabelParams,
      body: Rename,
      ...secured,
      response: responses({ 200: jsonResponse('The label as it is now', LabelSchema) }, BODY, CHANGE, { 400: [Problems.invalidJsonBody, Problems.invalidLabel] }),
    },
  }, async (request) => wire(await labels.rename(principalOf(request), request.params.name, request.body.name)))

  app.delete('/labels/:name', {
    schema: {
      operationId: 'deleteLabel',
      summary: 'Takes a label off every entry',
      description: 'Every entry with the label loses it, in one transaction: each a new version and a change in the feed. No entry is deleted.',
      tags: TAGS,
      params: LabelParams,
      ...secured,
      response: responses({ 204: emptyResponse('The label is gone from every entry') }, CHANGE),
    },
  }, async (request, reply) => {
    await labels.delete(principalOf(request), request.params.name)
    return reply.code(204).send()
  })

  app.post('/labels/:name/entries', {
    preValidation: bodyRequired('{"add": […], "remove": […]} as JSON'),
    schema: {
      operationId: 'labelEntries',
      summary: 'Puts a label on entries, or takes it off',
      description:
        'Gives the entries in add the label (made if no entry has it yet) and takes it off those in remove, in one transaction: each ' +
        'entry that changes gets a new version and a change in the feed; one that already is as asked is left alone.',
      tags: TAGS,
      params: LabelParams,
      body: Assignment,
      ...secured,
      response: responses({ 200: jsonResponse('The label as it is now', LabelSchema) }, BODY, {
        400: [Problems.invalidJsonBody, Problems.invalidLabel, Problems.invalidEntry],
        404: [Problems.entryNotFound],
        409: [Problems.labelBusy],
      }),
    },
  }, async (request) => wire(await labels.assign(principalOf(request), request.params.name, request.body)))

  for (const [url, allowed] of [
    ['/labels', ['GET', 'HEAD', 'OPTIONS']],
    ['/labels/:name', ['PATCH', 'DELETE', 'OPTIONS']],
    ['/labels/:name/entries', ['POST', 'OPTIONS']],
  ] as const) {
    app.options(url, { schema: { hide: true } }, async (_request, reply) => reply.code(204).header('allow', allowed.join(', ')).send())
    refuseOtherMethods(app, url, allowed)
  }
  done()
}
