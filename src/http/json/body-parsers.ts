import type { FastifyInstance, FastifyRequest } from 'fastify'
import { readNdjson } from '../../formats/ndjson.js'
import { readVCards, VCardSyntaxError, type ParsedCard } from '../../formats/vcard.js'
import { ENTRY_BOUNDS } from '../../domain/vocabulary.js'
import type { ImportItem } from '../../service/address-book-service.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { MEDIA_TYPES } from './representations.js'

/**
 * JSON text is UTF-8 (RFC 8259); bytes that are not would otherwise become U+FFFD and could pass.
 * A leading byte order mark is dropped (RFC 8259 lets a parser ignore one): files saved by
 * spreadsheet apps start with one, in every format this service reads.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

type Parse = (body: Buffer) => unknown

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(UTF8.decode(body)) as unknown
  } catch {
    throw new HttpProblem(Problems.invalidJsonBody)
  }
}

/**
 * A body that holds several entries to import: what its format holds, item by item, not validated
 * yet. The items are read as the service checks them, so that it can stop at its limit of errors
 * and let other requests run between slices; reading one throws where the body cannot be read.
 */
export class ImportBody {
  constructor(readonly items: Iterable<ImportItem>) {}
}

function text(body: Buffer, format: string): string {
  try {
    return UTF8.decode(body)
  } catch {
    throw new HttpProblem(Problems.invalidImport, { detail: `The ${format} body is not UTF-8 text.` })
  }
}

function parseNdjsonImport(body: Buffer): ImportBody {
  return new ImportBody(ndjsonItems(text(body, 'NDJSON')))
}

function* ndjsonItems(text: string): Generator<ImportItem> {
  for (const { photo, ...item } of readNdjson(text)) yield photo ? { ...item, photo: { bytes: photo, property: 'photo' } } : item
}

/** Longest unmapped value an import answer repeats: a photo's base64 would otherwise come back whole. */
const UNMAPPED_VALUE_LENGTH = 200

function shortened<T extends { readonly value: string }>(unmapped: T): T {
  return unmapped.value.length <= UNMAPPED_VALUE_LENGTH ? unmapped : { ...unmapped, value: `${unmapped.value.slice(0, UNMAPPED_VALUE_LENGTH)}…` }
}

/** Cards as import items: each with its place in the body and what it held that has no place in an entry. */
function parseVCardImport(body: Buffer): ImportBody {
  return new ImportBody(vcardItems(text(body, 'vCard')))
}

function* vcardItems(text: string): Generator<ImportItem> {
  try {
    // Group cards (Apple's, or KIND:group) are no entries: each gives its name as a label to its
    // members. Their members may come before them, so a text with groups is read whole first.
    const hasGroups = /KIND:\s*group/i.test(text)
    const cards = hasGroups ? [...readVCards(text)] : readVCards(text)
    const labels = hasGroups ? groupLabels(cards as ParsedCard[]) : new Map<string, string[]>()
    for (const { index, id, entry, unmapped, photo, uid, group } of cards) {
      if (group) continue
      const extra = uid === undefined ? undefined : labels.get(uid)
      yield {
        id,
        entry: extra ? withLabels(entry, extra) : entry,
        unmapped: unmapped.map(shortened),
        card: index,
        ...(photo ? { photo: { bytes: photo, property: 'PHOTO' } } : {}),
      }
    }
  } catch (error) {
    if (!(error instanceof VCardSyntaxError)) throw error
    const message = error.message.replace(/^Line \d+: /, '')
    throw new HttpProblem(Problems.invalidImport, { detail: 'The body is not vCard.', errors: [{ line: error.line, path: '', message }] })
  }
}

/** The labels each member of a group card gets: the names of its groups, by the member's UID. */
function groupLabels(cards: readonly ParsedCard[]): Map<string, string[]> {
  const labels = new Map<string, string[]>()
  for (const { entry, group } of cards) {
    const name = typeof entry.full_name === 'string' ? entry.full_name.trim() : ''
    if (!group || name === '') continue
    for (const member of group.members) labels.set(member, [...(labels.get(member) ?? []), name])
  }
  return labels
}

/** A card's entry with more labels: the gate keeps each once, and an entry holds at most ENTRY_BOUNDS.labels. */
function withLabels(entry: Record<string, unknown>, more: readonly string[]): Record<string, unknown> {
  const own = Array.isArray(entry.labels) ? (entry.labels as unknown[]) : []
  return { ...entry, labels: [...own, ...more].slice(0, ENTRY_BOUNDS.labels) }
}

/** Media types of imports: parsed with a body limit of their own. */
const IMPORTS: Readonly<Record<string, Parse>> = {
  [MEDIA_TYPES.ndjson]: parseNdjsonImport,
  [MEDIA_TYPES.vcard]: parseVCardImport,
}

/**
 * What each method accepts, by media type. POST and PUT read JSON whatever the Content-Type says,
 * as the original service did (curl -d sends application/x-www-form-urlencoded); PATCH takes a
 * JSON Merge Patch (RFC 7396) or JSON, and refuses anything else with 415. A POST of NDJSON or
 * vCard is an import, with a body limit of its own; on other methods these are read as above.
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

/** Whether a request's body is an import, which has a limit of its own. */
function isImport(request: FastifyRequest): boolean {
  return request.method === 'POST' && mediaTypeOf(request) in IMPORTS
}

/** The body limits: of any request, and of an import. */
export interface BodyLimits {
  readonly limit: number
  readonly importLimit: number
}

/** The limit a request's body is held to. */
export function bodyLimitOf(request: FastifyRequest, { limit, importLimit }: BodyLimits): number {
  if (isImport(request)) return importLimit
  // A route with a limit of its own (a photo) names it; every other route has the server's.
  return Math.max(limit, request.routeOptions.bodyLimit)
}

export function addBodyParsers(app: FastifyInstance, limits: BodyLimits): void {
  app.removeAllContentTypeParsers()
  for (const [type, parse] of Object.entries(IMPORTS)) {
    // Read with the larger of both limits: each body is then held to its own.
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: Math.max(limits.limit, limits.importLimit) }, (request, body, done) => {
      if ((body as Buffer).length > bodyLimitOf(request, limits)) {
        done(Object.assign(new Error('body too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' }), undefined)
        return
      }
      if (!isImport(request)) {
        otherwise(request, body as Buffer, done)
        return
      }
      try {
        done(null, parse(body as Buffer))
      } catch (error) {
        done(error as Error, undefined)
      }
    })
  }
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    otherwise(request, body as Buffer, done)
  })
}

/** Every body but an import: by the method's rules. */
function otherwise(request: FastifyRequest, body: Buffer, done: (error: Error | null, body: unknown) => void): void {
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
    done(null, parse(body))
  } catch (error) {
    done(error as Error, undefined)
  }
}

/** A preValidation hook that refuses a request without a body: 400 invalid-json-body, saying what to send. */
export function bodyRequired(what: string) {
  return (request: { body: unknown }, _reply: unknown, done: (error?: Error) => void): void => {
    done(request.body === undefined ? new HttpProblem(Problems.invalidJsonBody, { detail: `The request has no body; send ${what}.` }) : undefined)
  }
}
