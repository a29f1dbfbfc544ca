/**
 * Newline-delimited JSON (application/x-ndjson): one JSON value per line. An import line is an
 * entry with an optional `id`, or a line as an export writes it (`{"id", "etag", "entry"}`, and
 * `"photo": {"type", "data"}` with the photo as base64), so that an export can be imported again
 * as it is.
 */

/** One line of an import as it was read: not validated yet. */
export interface NdjsonItem {
  /** 1-based, counting blank lines too, as an editor shows them. */
  readonly line: number
  readonly id?: string | undefined
  readonly entry: unknown
  /** Why the line could not be read at all. */
  readonly unreadable?: string | undefined
  /** The photo of an exported line, decoded from its base64. */
  readonly photo?: Uint8Array | undefined
}

const EXPORT_KEYS = new Set(['id', 'etag', 'entry', 'photo'])
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * The items of an NDJSON text, one per line that is not blank (a final newline is optional, CRLF
 * is fine), read as they are asked for: a caller that stops early reads no further.
 */
export function* readNdjson(text: string): Generator<NdjsonItem> {
  let start = 0
  for (let line = 1; start <= text.length; line++) {
    const newline = text.indexOf('\n', start)
    const end = newline === -1 ? text.length : newline
    const content = text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end)
    if (content.trim() !== '') yield itemOf(line, content)
    start = end + 1
  }
}

function itemOf(line: number, content: string): NdjsonItem {
  let value: unknown
  try {
    value = JSON.parse(content)
  } catch {
    return { line, entry: undefined, unreadable: 'is not valid JSON' }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { line, entry: value }
  const { id, ...rest } = value as Record<string, unknown>
  if (id !== undefined && typeof id !== 'string') return { line, entry: rest, unreadable: 'has an id that is not a string' }
  // An exported line: the entry is a member of its own; the entity tag is what it was, not an instruction.
  const exported = 'entry' in rest && Object.keys(value).every((key) => EXPORT_KEYS.has(key))
  if (!exported) return { line, id, entry: rest }
  if (rest.photo === undefined) return { line, id, entry: rest.entry }
  const { photo } = rest
  const data = typeof photo === 'object' && photo !== null && 'data' in photo ? photo.data : undefined
  if (typeof data !== 'string' || !BASE64.test(data)) return { line, id, entry: rest.entry, unreadable: 'has a photo whose data is not base64' }
  return { line, id, entry: rest.entry, photo: Buffer.from(data, 'base64') }
}
