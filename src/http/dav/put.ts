import { HttpProblem, Problems } from '../edge/problems.js'
import { preconditionsOf } from '../edge/preconditions.js'
import { readCardResource, VCardSyntaxError } from '../../formats/vcard.js'
import { servedCard } from './address-data.js'
import { MAX_CARD_BYTES } from './properties.js'
import { type DavContext } from './request.js'
import { hrefOf } from './resources.js'

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
    throw new HttpProblem(Problems.methodNotAllowed, { detail: 'Cards are PUT into the address book; a collection takes no PUT.', headers: { allow: 'OPTIONS, PROPFIND, REPORT, PROPPATCH, MKCOL' } })
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
  const { card, created } = await cards.putCard(principal, resource.name, { entry: read.entry, uid: read.uid, text }, preconditionsOf(request.headers))
  const served = servedCard(card)
  if (served.text === text) reply.header('etag', served.etag)
  if (created) reply.header('location', hrefOf(resource))
  await reply.code(created ? 201 : 204).send()
}
