import type { FieldError } from '../../domain/address-entry.js'
import { InvalidEntryError } from '../../domain/errors.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { preconditionsOf } from '../edge/preconditions.js'
import { readCardResource, VCardSyntaxError } from '../../formats/vcard.js'
import { servedCard } from './address-data.js'
import { COLLECTION_METHODS } from './options.js'
import { MAX_CARD_BYTES } from './properties.js'
import { type DavContext } from './request.js'
import { hrefOf } from './resources.js'

/** How often a card is offered again with the members the service refused left out. */
const LENIENT_ATTEMPTS = 3

/**
 * One odd property must not cost a phone its whole sync: the members the service refused are
 * left out of the entry (the card is still kept, and served, as it came), and it is offered
 * again; some checks only run once others pass. A card whose name itself is refused stays refused.
 */
async function leniently<T>(put: (entry: Record<string, unknown>) => Promise<T>, entry: Record<string, unknown>): Promise<T> {
  let offered = entry
  for (let attempt = 1; ; attempt++) {
    try {
      return await put(offered)
    } catch (error) {
      const lenient = error instanceof InvalidEntryError && attempt < LENIENT_ATTEMPTS ? withoutFields(offered, error.errors) : undefined
      if (!lenient) throw error
      offered = lenient
    }
  }
}

/**
 * The entry without the members, or list items, at these paths; undefined when a path is one that
 * cannot go (the name) or names nothing this can take out.
 */
function withoutFields(entry: Record<string, unknown>, errors: readonly FieldError[]): Record<string, unknown> | undefined {
  const members = new Set<string>()
  const items = new Map<string, Set<number>>()
  for (const { path } of errors) {
    const [, member = '', index] = path.split('/')
    if (member === '' || member === 'full_name' || !(member in entry)) return undefined
    if (Array.isArray(entry[member]) && index !== undefined && /^\d+$/.test(index)) items.set(member, (items.get(member) ?? new Set()).add(Number(index)))
    else members.add(member)
  }
  return Object.fromEntries(
    Object.entries(entry).flatMap(([member, value]): [string, unknown][] => {
      if (members.has(member)) return []
      const dropped = items.get(member)
      if (!dropped || !Array.isArray(value)) return [[member, value]]
      const kept = value.filter((_item, index) => !dropped.has(index))
      return kept.length > 0 ? [[member, kept]] : []
    }),
  )
}

/** Media types a card may come as: vCard's, and the older name some clients still send. */
const CARD_TYPES = new Set(['text/vcard', 'text/x-vcard', 'text/directory'])
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * PUT of a card (RFC 6352 §6.3.2): a new name creates an entry, an existing one replaces it, each
 * on the conditions of If-Match and If-None-Match. The card is read by the vCard mapper; the
 * service judges the entry. 201 or 204, with the ETag: the card is served back byte for byte as
 * it was sent (§6.3.2.3), until the entry is edited otherwise.
 */
export async function put({ request, reply, cards, principal, resource }: DavContext): Promise<void> {
  if (resource.kind !== 'card') {
    throw new HttpProblem(Problems.methodNotAllowed, { detail: 'Cards are PUT into the address book; a collection takes no PUT.', headers: { allow: COLLECTION_METHODS } })
  }
  const body = request.body
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  if (!Buffer.isBuffer(body) || (type !== undefined && !CARD_TYPES.has(type))) throw new HttpProblem(Problems.unsupportedCard)
  if (body.length > MAX_CARD_BYTES) throw new HttpProblem(Problems.payloadTooLarge, { detail: `A card is at most ${String(MAX_CARD_BYTES)} bytes.` })
  let text: string
  try {
    text = UTF8.decode(body)
  } catch {
    throw new HttpProblem(Problems.invalidCard, { detail: 'The card is not UTF-8.' })
  }
  if (!/^\s*BEGIN:VCARD/i.test(text.replace(/^\uFEFF/, ''))) throw new HttpProblem(Problems.unsupportedCard)
  // No card means anything by a NUL, and PostgreSQL cannot keep one in text.
  if (text.includes('\u0000')) throw new HttpProblem(Problems.invalidCard, { detail: 'The card holds a NUL character.' })
  let read
  try {
    read = readCardResource(text)
  } catch (error) {
    if (!(error instanceof VCardSyntaxError)) throw error
    throw new HttpProblem(Problems.invalidCard, { detail: `The card cannot be read: ${error.message} (line ${String(error.line)}).`.slice(0, 500) })
  }
  // A person or an organization is an entry; any other card (Apple's groups) is kept as it came,
  // under its name, apart from the entries.
  const isEntry = read.kind === 'individual' || read.kind === 'org'
  const entry = isEntry ? read.entry : { full_name: typeof read.entry.full_name === 'string' ? read.entry.full_name : resource.name }
  const content = { entry, uid: read.uid, text, isEntry, photo: read.photo }
  const preconditions = preconditionsOf(request.headers)
  const { card, created } = await leniently((lenient) => cards.putCard(principal, resource.name, { ...content, entry: lenient }, preconditions), entry)
  const served = servedCard(card)
  if (served.text === text) reply.header('etag', served.etag)
  if (created) reply.header('location', hrefOf(resource))
  await reply.code(created ? 201 : 204).send()
}
