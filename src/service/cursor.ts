import { createHash } from 'node:crypto'
import { InvalidCursorError } from '../domain/errors.js'
import { isEntryId } from '../domain/ids.js'
import type { EntryFilter, PagePosition, Sort } from '../domain/listing.js'
import { decodeOpaque, encodeOpaque } from './opaque-token.js'

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const MAX_VALUE_LENGTH = 1000

/**
 * Listing cursors are opaque to clients: base64url of the position where the previous page
 * ended, and a fingerprint of the order and filters it was made for, so that a cursor cannot be
 * replayed against another query (it would skip or repeat entries there).
 */

const VERSION = 1

/** What a cursor is bound to: the order and the (normalized) filters of its listing. */
export function fingerprintOf(sort: Sort, filter: EntryFilter): string {
  return createHash('sha256').update(JSON.stringify([sort.key, sort.descending, filter.q ?? null, filter.terms])).digest('base64url').slice(0, 16)
}

export function encodeCursor(fingerprint: string, position: PagePosition): string {
  return encodeOpaque(VERSION, [fingerprint, position.value, position.id])
}

/**
 * The position a cursor carries; InvalidCursorError when it is not one of ours, is for another
 * listing, or holds a position that the order cannot have (the fingerprint is no secret).
 */
export function decodeCursor(cursor: string, fingerprint: string, sort: Sort): PagePosition {
  const parts = decodeOpaque(cursor, VERSION, 3)
  if (!parts) throw new InvalidCursorError('is malformed')
  const [madeFor, value, id] = parts
  if (typeof madeFor !== 'string' || typeof value !== 'string' || typeof id !== 'string') throw new InvalidCursorError('is malformed')
  if (madeFor !== fingerprint) throw new InvalidCursorError('was made for other filters or another order')
  const valid = (sort.key === 'full_name' ? value.length <= MAX_VALUE_LENGTH : isTimestamp(value)) && isEntryId(id)
  if (!valid) throw new InvalidCursorError('is malformed')
  return { value, id }
}

/** An ISO 8601 UTC time with milliseconds that exists (no 25th hour, no 31st of February). */
function isTimestamp(value: string): boolean {
  const time = Date.parse(value)
  return TIMESTAMP.test(value) && !Number.isNaN(time) && new Date(time).toISOString() === value
}
