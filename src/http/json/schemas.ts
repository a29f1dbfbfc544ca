import Type from 'typebox'
import { AddressEntry, AddressEntryPatch, UnmappedProperty } from '../../domain/address-entry.js'
import { SORT_KEYS } from '../../domain/listing.js'
import { CHANGE_KINDS, ENTRY_BOUNDS } from '../../domain/vocabulary.js'
import { MEDIA_TYPES } from './representations.js'
import { Headers } from '../edge/responses.js'

/**
 * The schemas of the address routes: what their parameters, headers and bodies are. Query strings
 * and headers are validated with them; bodies are not (the service is the one gate for entries),
 * so the body schemas describe the API in its OpenAPI document only. Entries and their parts come
 * from the domain.
 */

export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

export const IdParams = Type.Object({ id: Type.String({ pattern: '^[a-zA-Z0-9-]+$', maxLength: 100, description: "the entry's id" }) })
export const ConditionalRead = Type.Object({
  'If-None-Match': Type.Optional(Type.String({ description: 'entity tags (or *): 304 when the current one is among them' })),
})
export const ConditionalWrite = Type.Object({
  'If-Match': Type.Optional(
    Type.String({ description: 'entity tags (or *): the write happens only if the current version is among them, else 412 (strong comparison)' }),
  ),
  'If-None-Match': Type.Optional(Type.String({ description: '*: the write happens only if the entry does not exist (so PUT answers 412)' })),
})
/** Where an entry's photo is: read-only, a sub-resource of the entry. */
export const PhotoLink = Type.Object(
  {
    etag: Type.String({ description: "the photo's entity tag, as GET of the photo answers it: it changes with the photo" }),
    url: Type.String({ description: 'the photo (GET; ?size=96 for a thumbnail); the query names the photo, so that it can be cached for good' }),
  },
  { additionalProperties: false, readOnly: true, description: 'the entry\'s photo, when it has one: set with PUT /addresses/{id}/photo; ignored in an entry sent' },
)

/** An entry as the API answers it: its content, and where its photo is. */
export const EntryRepresentation = Type.Object(
  { ...AddressEntry.properties, photo: Type.Optional(PhotoLink) },
  { additionalProperties: false, title: 'An address book entry' },
)

export const AddressBookPage = Type.Record(Type.String({ pattern: '^[a-zA-Z0-9-]+$' }), EntryRepresentation, {
  description: 'A page of entries, keyed by id, in the order asked for',
})

/** Search and filter text: printable, so that a search cannot reach across the fields it looks in. */
const searchText = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })

const SORTS = SORT_KEYS.flatMap((key) => [key, `-${key}`])
export const ListParameters = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `entries per page (default ${String(DEFAULT_PAGE_SIZE)})` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'where the previous page ended, from its Link rel="next"' })),
  q: Type.Optional(searchText(200)),
  full_name: Type.Optional(searchText(200)),
  email: Type.Optional(searchText(254)),
  phone: Type.Optional(searchText(40)),
  city: Type.Optional(searchText(100)),
  country: Type.Optional(searchText(100)),
  label: Type.Optional({ ...searchText(ENTRY_BOUNDS.label), description: 'entries with this label (case-insensitive)' }),
  sort: Type.Optional(Type.Enum(SORTS, { description: 'the order, - for descending (default created); ties by id' })),
  count: Type.Optional(Type.Boolean({ description: 'also send X-Total-Count' })),
})

/** Lower case: with a validator compiler of its own, Fastify matches header schemas as they are written. */
export const IdempotentWrite = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'a key of your choice (a UUID): a retry with the same key and body gets the first response and creates nothing',
    }),
  ),
})

export const ChangesParameters = Type.Object({
  since: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the next token of the previous sync; none to get a token for now' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description: `changes per page (default ${String(DEFAULT_PAGE_SIZE)})` })),
})
export const ChangeItem = Type.Object(
  {
    id: Type.String({ description: "the entry's id" }),
    change: Type.Enum([...CHANGE_KINDS]),
    etag: Type.Optional(Headers.etag),
    entry: Type.Optional(EntryRepresentation),
  },
  { additionalProperties: false, description: 'a change; a created or updated entry comes as it is now, with its ETag' },
)
export const ChangesPage = Type.Object(
  {
    changes: Type.Array(ChangeItem, { description: 'oldest first; each entry once, at its latest change' }),
    next: Type.String({ description: 'the token to send as since next time' }),
    more: Type.Optional(Type.Literal(true, { description: 'present when the page was cut at the limit: ask again with next at once' })),
  },
  { additionalProperties: false, title: 'Changes since a sync token' },
)

export const ImportResult = Type.Object(
  {
    created: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          etag: Headers.etag,
          line: Type.Optional(Type.Integer({ minimum: 1, description: 'NDJSON: the line of the entry' })),
          card: Type.Optional(Type.Integer({ minimum: 1, description: 'vCard: the card of the entry, counting from 1' })),
          unmapped: Type.Optional(Type.Array(UnmappedProperty, { description: 'vCard: what the card held that has no place in an entry' })),
        },
        { additionalProperties: false },
      ),
      { description: 'the new entries, in the order of the import' },
    ),
  },
  { additionalProperties: false, title: 'What an import created' },
)

/** A body of text: an export, or an import as the client sends it. */
export const TEXT = Type.String()

/** One entry as JSON, or an import of many as NDJSON or vCard. */
export const CREATE_BODY = {
  [MEDIA_TYPES.json]: { schema: EntryRepresentation },
  [MEDIA_TYPES.ndjson]: { schema: Type.String({ description: 'one entry per line; {"id", "entry"} lines as an export writes them are taken too' }) },
  [MEDIA_TYPES.vcard]: { schema: Type.String({ description: 'vCard 4.0, 3.0 or 2.1; UTF-8' }) },
}

/** A merge patch, in either media type PATCH takes. */
export const PATCH_BODY = { 'application/merge-patch+json': { schema: AddressEntryPatch }, [MEDIA_TYPES.json]: { schema: AddressEntryPatch } }
