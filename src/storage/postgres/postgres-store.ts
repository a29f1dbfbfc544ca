import pg from 'pg'
import type { AddressEntry } from '../../domain/address-entry.js'
import { EntryExistsError, StoreUnavailableError } from '../../domain/errors.js'
import { base64Of } from '../../lib/bytes.js'
import { TimeSlice } from '../../lib/time-slice.js'
import type { Scope } from '../../domain/principal.js'
import { indexEntry, LABEL_NAME, type EntryFilter, type SortKey } from '../../domain/listing.js'
import { cardFromColumns, keptCard } from '../card-data.js'
import { likePattern } from '../like-pattern.js'
import {
  CURRENT_VERSION_SEQ,
  systemClock,
  type ApiKeyRecord,
  type BookRestore,
  type CardData,
  type ChangeOptions,
  type ChangePage,
  type ChangePosition,
  type Clock,
  type EntryStamp,
  type EntryUpdate,
  type LabelCount,
  type PhotoData,
  type PhotoImage,
  type PhotoStamp,
  type IdempotencyClaim,
  type ListQuery,
  type NewApiKey,
  type NewEntry,
  type Store,
  type StoredChange,
  type StoredEntry,
  type StoredVersion,
  type TrashedEntry,
  type TrashQuery,
  type UpdateOptions,
  type WriteOptions,
} from '../store.js'
import type { ChangeSource } from '../../domain/vocabulary.js'
import { redactPassword } from '../store-config.js'
import { MIGRATION_LOCK_KEY, POSTGRES_MIGRATIONS } from './migrations.js'

interface EntryRow {
  id: string
  owner: string
  version: number
  created_at: Date
  updated_at: Date
  entry: AddressEntry
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
}

/** What listStamps reads of an entry, its times as ISO text (see LIST_STAMPS). */
interface StampRow {
  id: string
  version: number
  created: string
  updated: string
  card_name: string | null
}

/**
 * A change as changesSince reads it: an entry's columns, or only seq, id and card name for a
 * tombstone. Seqs are bigint: text.
 */
interface ChangeRow {
  seq: string
  id: string
  created: boolean | null
  version: number | null
  created_at: Date | null
  updated_at: Date | null
  entry: AddressEntry | null
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
}

/** A version as history reads it: the entry's current one has no seq and was not replaced. Seqs are bigint: text. */
interface VersionRow {
  seq: string | null
  version: number
  created_at: Date
  updated_at: Date
  replaced_at: Date | null
  deleted: boolean
  source: ChangeSource
  entry: AddressEntry
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
}

/** An entry of the trash: its last version, replaced by its deletion. */
interface TrashRow extends Omit<EntryRow, 'owner'> {
  replaced_at: Date
}

/**
 * A version of an entry as a restore reads it from history, with what the restore must know
 * beside it: whether the id has an entry now, and which other entry holds its card name.
 */
interface KeptRow {
  seq: string
  version: number
  created_at: Date
  deleted: boolean
  entry: AddressEntry
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
  live: boolean
  holder: string | null
}

/**
 * What a book restore does to one entry (see BOOK_PLAN), with the version the entry is to have
 * again (absent for one to trash) and the other entry that holds its card name now, if any.
 */
interface PlanRow {
  id: string
  outcome: 'trashed' | 'restored' | 'recreated'
  /** The entry's version now, or, for one deleted, the version its deletion ended. */
  version: number
  live_name: string | null
  created_at: Date | null
  entry: AddressEntry | null
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
  holder: string | null
}

interface ApiKeyRow {
  id: string
  owner: string
  scope: Scope
  label: string | null
  secret_hash: string
  created_at: Date
  last_used_at: Date | null
  revoked_at: Date | null
}

export interface PostgresStoreOptions {
  clock?: Clock
  /** Most connections the pool opens. */
  poolSize?: number
  /** The server cancels a statement that runs longer. */
  statementTimeoutMs?: number
  /** Giving up on opening a connection after this long. */
  connectTimeoutMs?: number
  /** Told of errors on idle connections (a restarted server, say); the pool replaces them. */
  onBackgroundError?: (error: Error) => void
}

const COLUMNS = 'id, owner, version, created_at, updated_at, entry'
/** What a read returns of an entry: its columns, its photo's entity tag and its card data's. */
const READ_COLUMNS = `${COLUMNS}, photo_etag, card_name, card_uid, card_kept`
const KEY_COLUMNS = 'id, owner, scope, label, secret_hash, created_at, last_used_at, revoked_at'

/**
 * A statement the server parses and plans once per connection: node-postgres prepares it under
 * its name on a connection's first use, and again on a new connection (after a restart, say).
 */
interface Statement {
  readonly name: string
  readonly text: string
}

/** A new entry as CREATE_ENTRIES takes it: with its listing columns, filter terms and card data. */
interface NewRow {
  readonly id: string
  readonly entry: AddressEntry
  readonly sort_name: string
  readonly search_text: string
  readonly terms: readonly { readonly field: string; readonly value: string }[]
  readonly card_name?: string | undefined
  readonly card_uid?: string | undefined
  readonly card_kept?: string | undefined
  readonly source?: ChangeSource | undefined
  readonly photo_etag?: string | undefined
  readonly photo_type?: string | undefined
  /** The images as base64, which decode() reads. */
  readonly photo_image?: string | undefined
  readonly photo_thumbnail?: string | undefined
}

/**
 * A version PUT_VERSIONS gives an entry: a restore's, taken from history, with its listing
 * columns and filter terms derived again, the version it is to be, and its place (from 1) in the
 * changes the statement records.
 */
interface RestoredRow {
  readonly id: string
  readonly version: number
  /** ISO 8601. */
  readonly created_at: string
  readonly entry: AddressEntry
  readonly sort_name: string
  readonly search_text: string
  readonly terms: readonly { readonly field: string; readonly value: string }[]
  readonly card_name: string | null
  readonly card_uid: string | null
  readonly card_kept: string | null
  readonly photo_etag: string | null
  readonly place: number
}

type IdempotencyResult = NonNullable<WriteOptions['idempotency']>

/**
 * What CREATE_ENTRIES did: whether it stored the entries; when not, the ids it found taken, and
 * the holders of the card names it found taken, by the id of the entry that asked for the name;
 * and the time the entries were created at.
 */
interface InsertOutcome {
  readonly stored: boolean
  readonly taken: ReadonlySet<string>
  readonly named: ReadonlyMap<string, string>
  readonly now: string
}

/** A create waiting for its owner's create in flight; `entry` and `card` are copies of the caller's, taken when it asked. */
interface WaitingCreate {
  readonly row: NewRow
  readonly entry: AddressEntry
  readonly card: CardData | undefined
  readonly idempotency: IdempotencyResult | undefined
  readonly resolve: (stored: StoredEntry) => void
  readonly reject: (error: unknown) => void
}

/**
 * What UPDATE_ENTRY answers: the new version and the card data the entry has now, or a null
 * version with whether it found and locked the entry all the same.
 */
interface UpdateRow {
  version: number | null
  created_at: Date | null
  locked: boolean
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
  photo_etag: string | null
}

/*
 * The writes of an owner's entries. Each is one statement, committed on its own, that takes its
 * seqs by advancing the owner's row of change_counters in the same statement as the change it
 * records. That row stays locked until the statement commits, so an owner's writes, through any
 * number of instances, commit one after another in the order of their seqs: a reader who sees
 * seq n has seen every seq before it. A write that changes nothing never reaches the counter,
 * and one that fails takes its seqs back with it. A write that must lock its entry does so before
 * the counter, and none waits for an entry another write has locked while it holds the counter:
 * they cannot deadlock.
 *
 * A book restore (restoreBook) must write entries while it holds the counter, which would deadlock
 * with a write that holds one of them and waits for the counter. So every write that locks an
 * entry first takes its owner's book lock (BOOK_LOCK), shared; a book restore takes it alone,
 * before the counter (restoring several books, every one's lock before any counter). It waits for
 * the writes that hold entries, and those that come after it wait for it holding nothing. A create,
 * which locks no entry before the counter, waits at the counter.
 *
 * Every write that replaces or deletes an entry keeps the version it replaces in entry_history,
 * copied in the same statement from the row it locked, and only when it reaches the counter.
 * Photos are kept per version, by entity tag: writing one that is there already does nothing, and
 * none is deleted by a write (see forgetHistoryBefore and emptyTrash).
 *
 * Every sub-statement reads the snapshot the statement started with, which may predate writes
 * it then waited for; each statement says how it stays right all the same.
 */

/**
 * The owner's book lock ($1), an advisory lock of the owner's name in a class of its own: taken
 * shared by every write that locks an entry, before it does, and alone by a book restore (see the
 * comment above). Two owners whose names hash alike share it, and only wait a little more.
 */
const BOOK_LOCK_CLASS = 0x626f6f6b
const SHARED_BOOK_LOCK = `SELECT pg_advisory_xact_lock_shared(${String(BOOK_LOCK_CLASS)}, hashtext($1))`

/** What a version keeps of an entry: the columns entry_history copies from address_entries. */
const KEPT_COLUMNS = 'owner, id, version, created_at, updated_at, source, entry, search_text, card_name, card_uid, card_kept, photo_etag'
const HISTORY_COLUMNS = 'owner, id, version, created_at, updated_at, replaced_at, deleted, source, entry, search_text, card_name, card_uid, card_kept, photo_etag'

/** The history row of `row` (a relation with KEPT_COLUMNS), replaced at `replacedAt`, by a deletion or not. */
const keptFrom = (row: string, replacedAt: string, deleted: boolean) =>
  HISTORY_COLUMNS.split(', ')
    .map((column) => (column === 'replaced_at' ? replacedAt : column === 'deleted' ? String(deleted) : `${row}.${column}`))
    .join(', ')

/**
 * Creates entries, given in $2 with their places 1..$5, and records the results in $4 under their
 * idempotency keys. The counter is reached only when none of the ids is taken in the snapshot,
 * none of the card names is another entry's, and no id is given twice; otherwise the statement
 * changes nothing, and answers so with the taken ids, and the ids of the entries that hold the
 * names by the id of the input that asked for it. An id or a name taken since the snapshot fails
 * the whole statement on its unique index. A tombstone written since the snapshot (of an id
 * created and deleted meanwhile) is not cleared: readers ignore a tombstone whose id has an entry.
 */
const CREATE_ENTRIES: Statement = {
  name: 'addrservice-create-entries',
  text: `WITH input AS (
      SELECT * FROM jsonb_to_recordset($2::jsonb)
        AS input(id text, entry jsonb, sort_name text, search_text text, terms jsonb, place bigint, card_name text, card_uid text, card_kept text,
          source text, photo_etag text, photo_type text, photo_image text, photo_thumbnail text)
    ),
    taken AS (SELECT id FROM address_entries WHERE owner = $1 AND id IN (SELECT id FROM input)),
    named AS (
      SELECT input.id, holder.id AS holder FROM input JOIN address_entries AS holder ON holder.owner = $1 AND holder.card_name = input.card_name
      WHERE holder.id <> input.id
    ),
    counter AS (
      INSERT INTO change_counters AS counter (owner, latest)
      SELECT $1, $5::bigint WHERE NOT EXISTS (SELECT FROM taken) AND NOT EXISTS (SELECT FROM named) AND (SELECT count(DISTINCT id) FROM input) = $5::bigint
      ON CONFLICT (owner) DO UPDATE SET latest = counter.latest + EXCLUDED.latest
      RETURNING latest - $5::bigint AS before
    ),
    created AS (
      INSERT INTO address_entries (${COLUMNS}, sort_name, search_text, created_seq, changed_seq, card_name, card_uid, card_kept, photo_etag, source)
      SELECT input.id, $1, 1, $3, $3, input.entry, input.sort_name, input.search_text, counter.before + input.place, counter.before + input.place,
        input.card_name, input.card_uid, input.card_kept, input.photo_etag, coalesce(input.source, 'api')
      FROM counter, input
      RETURNING id
    ),
    photos AS (
      INSERT INTO entry_photos (owner, entry_id, etag, content_type, image, thumbnail)
      SELECT $1, created.id, input.photo_etag, input.photo_type, decode(input.photo_image, 'base64'), decode(input.photo_thumbnail, 'base64')
      FROM created JOIN input USING (id) WHERE input.photo_etag IS NOT NULL
      ON CONFLICT DO NOTHING
    ),
    terms AS (
      INSERT INTO entry_terms (entry_id, owner, field, value)
      SELECT created.id, $1, term.field, term.value
      FROM created JOIN input USING (id), jsonb_to_recordset(input.terms) AS term(field text, value text)
    ),
    cleared AS (DELETE FROM tombstones WHERE owner = $1 AND id IN (SELECT id FROM created)),
    recorded AS (
      UPDATE idempotency_keys SET result = recorded.result FROM jsonb_to_recordset($4::jsonb) AS recorded(key text, result text)
      WHERE idempotency_keys.owner = $1 AND idempotency_keys.key = recorded.key AND EXISTS (SELECT FROM counter)
    )
    SELECT ARRAY(SELECT id FROM taken) AS taken, ARRAY(SELECT jsonb_build_array(id, holder) FROM named) AS named, EXISTS (SELECT FROM counter) AS stored`,
}

/** The result of a request that wrote nothing (createMany of no entries): no seq, no counter. */
const RECORD_RESULT: Statement = {
  name: 'addrservice-record-result',
  text: 'UPDATE idempotency_keys SET result = $3 WHERE owner = $1 AND key = $2',
}

const GET_ENTRY: Statement = {
  name: 'addrservice-get-entry',
  text: `SELECT ${READ_COLUMNS} FROM address_entries WHERE owner = $1 AND id = $2`,
}

/** Through address_entries_by_card_name, which holds only the entries that have a card name. */
const FIND_BY_NAME: Statement = {
  name: 'addrservice-find-by-name',
  text: `SELECT ${READ_COLUMNS} FROM address_entries WHERE owner = $1 AND card_name = $2`,
}

/**
 * Replaces an entry (if at one of the versions $8), its terms, and, unless $9 keeps them, its card
 * data with $10..$12, and unless $13 keeps it, its photo with $14..$17; made through $18. A card
 * name another entry holds fails the statement on its unique index. The entry is locked first
 * (after the book lock); the lock waits for any write of it in flight and then reads its latest
 * version. The counter is reached only when that version is the one in the snapshot: then no write
 * of the entry (nor of its terms) committed after the snapshot, and the snapshot's terms are the
 * ones to replace. When it is not, the statement changes nothing and answers locked with a null
 * version. The version replaced goes to history from the locked row.
 */
const UPDATE_ENTRY: Statement = {
  name: 'addrservice-update-entry',
  text: `WITH seen AS (SELECT version FROM address_entries WHERE owner = $1 AND id = $2),
    book AS MATERIALIZED (${SHARED_BOOK_LOCK}),
    target AS (
      SELECT ${KEPT_COLUMNS} FROM address_entries, book
      WHERE owner = $1 AND id = $2 AND ($8::integer[] IS NULL OR version = ANY($8::integer[]))
      FOR UPDATE OF address_entries
    ),
    counter AS (
      INSERT INTO change_counters AS counter (owner, latest)
      SELECT $1, 1 FROM target JOIN seen USING (version)
      ON CONFLICT (owner) DO UPDATE SET latest = counter.latest + 1
      RETURNING latest
    ),
    kept AS (INSERT INTO entry_history (${HISTORY_COLUMNS}) SELECT ${keptFrom('target', '$4::timestamptz', false)} FROM target, counter),
    updated AS (
      UPDATE address_entries SET entry = $3::jsonb, version = version + 1, updated_at = $4, sort_name = $5, search_text = $6, changed_seq = counter.latest,
        card_name = CASE WHEN $9::boolean THEN card_name ELSE $10::text END,
        card_uid = CASE WHEN $9::boolean THEN card_uid ELSE $11::text END,
        card_kept = CASE WHEN $9::boolean THEN card_kept ELSE $12::text END,
        photo_etag = CASE WHEN $13::boolean THEN photo_etag ELSE $14::text END,
        source = $18
      FROM counter WHERE owner = $1 AND id = $2
      RETURNING address_entries.id, address_entries.version, address_entries.created_at,
        address_entries.card_name, address_entries.card_uid, address_entries.card_kept, address_entries.photo_etag
    ),
    terms AS (SELECT field, value FROM jsonb_to_recordset($7::jsonb) AS term(field text, value text)),
    stale AS (
      DELETE FROM entry_terms WHERE owner = $1 AND entry_id IN (SELECT id FROM updated)
      AND (field, value) NOT IN (SELECT field, value FROM terms)
    ),
    added AS (
      INSERT INTO entry_terms (entry_id, owner, field, value)
      SELECT updated.id, $1, terms.field, terms.value FROM updated, terms
      ON CONFLICT DO NOTHING
    ),
    photo_put AS (
      INSERT INTO entry_photos (owner, entry_id, etag, content_type, image, thumbnail)
      SELECT $1, updated.id, $14, $15, $16, $17 FROM updated WHERE NOT $13::boolean AND $14::text IS NOT NULL
      ON CONFLICT DO NOTHING
    )
    SELECT updated.version, updated.created_at, EXISTS (SELECT FROM target) AS locked, updated.card_name, updated.card_uid, updated.card_kept,
      updated.photo_etag
    FROM (SELECT) AS one LEFT JOIN updated ON true`,
}

/** An owner's labels by spelling: a range of the terms' primary key (owner, field, value, entry). */
const LABEL_COUNTS: Statement = {
  name: 'addrservice-label-counts',
  text: 'SELECT value AS label, count(*)::integer AS count FROM entry_terms WHERE owner = $1 AND field = $2 GROUP BY value',
}

/**
 * A new version of an entry (if at one of the versions $4) with its photo's entity tag $5 (null:
 * none) and, for a photo, its images $7..$9, made through $6; and its change: the entry is locked
 * first and the counter reached only through it, as for an update, so that a missing or stale
 * entry takes no seq. The version replaced goes to history from the locked row, which is the
 * latest even when the snapshot is not (the UPDATE, too, writes the latest).
 */
const SET_PHOTO: Statement = {
  name: 'addrservice-set-photo',
  text: `WITH book AS MATERIALIZED (${SHARED_BOOK_LOCK}),
    target AS (
      SELECT ${KEPT_COLUMNS} FROM address_entries, book
      WHERE owner = $1 AND id = $2 AND ($4::integer[] IS NULL OR version = ANY($4::integer[]))
      FOR UPDATE OF address_entries
    ),
    counter AS (
      INSERT INTO change_counters AS counter (owner, latest) SELECT $1, 1 FROM target
      ON CONFLICT (owner) DO UPDATE SET latest = counter.latest + 1
      RETURNING latest
    ),
    kept AS (INSERT INTO entry_history (${HISTORY_COLUMNS}) SELECT ${keptFrom('target', '$3::timestamptz', false)} FROM target, counter),
    photo AS (
      INSERT INTO entry_photos (owner, entry_id, etag, content_type, image, thumbnail)
      SELECT $1, $2, $5, $7, $8, $9 FROM counter WHERE $5::text IS NOT NULL
      ON CONFLICT DO NOTHING
    )
    UPDATE address_entries SET version = version + 1, updated_at = $3, photo_etag = $5, changed_seq = counter.latest, source = $6
    FROM counter WHERE owner = $1 AND id = $2
    RETURNING ${READ_COLUMNS.split(', ').map((column) => `address_entries.${column}`).join(', ')}`,
}

/** The entry's photo is the one of its versions' photos that its photo_etag names. */
const photoRead = (column: string) =>
  `SELECT e.photo_etag AS etag, p.content_type, p.${column} AS data
   FROM address_entries AS e JOIN entry_photos AS p ON p.owner = e.owner AND p.entry_id = e.id AND p.etag = e.photo_etag
   WHERE e.owner = $1 AND e.id = $2`
const GET_PHOTO: Statement = { name: 'addrservice-get-photo', text: photoRead('image') }
const GET_THUMBNAIL: Statement = { name: 'addrservice-get-thumbnail', text: photoRead('thumbnail') }

/** Within a transaction: the entry's lock (after the book lock), so that the statements after it read its latest version. */
const LOCK_ENTRY: Statement = {
  name: 'addrservice-lock-entry',
  text: `WITH book AS MATERIALIZED (${SHARED_BOOK_LOCK})
    SELECT FROM address_entries, book WHERE owner = $1 AND id = $2 FOR UPDATE OF address_entries`,
}

/**
 * Deletes an entry (if at one of the versions $3) and leaves a tombstone, with the card name the
 * entry had. The entry is locked before the counter, as by an update, and its last version goes
 * to history from the locked row, as the trash's. The tombstone replaces one its id may still
 * have (see CREATE_ENTRIES), which the snapshot need not show.
 */
const DELETE_ENTRY: Statement = {
  name: 'addrservice-delete-entry',
  text: `WITH book AS MATERIALIZED (${SHARED_BOOK_LOCK}),
    target AS (
      SELECT ${KEPT_COLUMNS} FROM address_entries, book
      WHERE owner = $1 AND id = $2 AND ($3::integer[] IS NULL OR version = ANY($3::integer[]))
      FOR UPDATE OF address_entries
    ),
    counter AS (
      INSERT INTO change_counters AS counter (owner, latest) SELECT $1, 1 FROM target
      ON CONFLICT (owner) DO UPDATE SET latest = counter.latest + 1
      RETURNING latest
    ),
    kept AS (INSERT INTO entry_history (${HISTORY_COLUMNS}) SELECT ${keptFrom('target', '$4::timestamptz', true)} FROM target, counter),
    deleted AS (DELETE FROM address_entries USING counter WHERE owner = $1 AND id = $2 RETURNING counter.latest AS seq, address_entries.card_name),
    tombstone AS (
      INSERT INTO tombstones (owner, id, seq, deleted_at, card_name) SELECT $1, $2, seq, $4, card_name FROM deleted
      ON CONFLICT (owner, id) DO UPDATE SET seq = EXCLUDED.seq, deleted_at = EXCLUDED.deleted_at, card_name = EXCLUDED.card_name
    )
    SELECT count(*)::integer AS deleted FROM deleted`,
}

const CHANGE_POSITION: Statement = {
  name: 'addrservice-change-position',
  text: 'SELECT latest, forgotten_through FROM change_counters WHERE owner = $1',
}

const CHANGES_SINCE: Statement = {
  name: 'addrservice-changes-since',
  text: `(SELECT changed_seq AS seq, id, created_seq > $2 AS created, version, created_at, updated_at, entry, photo_etag, card_name, card_uid, card_kept
      FROM address_entries WHERE owner = $1 AND changed_seq > $2 ORDER BY changed_seq LIMIT $3)
    UNION ALL
    (SELECT seq, id, NULL, NULL, NULL, NULL, NULL, NULL, card_name, NULL, NULL FROM tombstones
      WHERE owner = $1 AND seq > $2
      AND NOT EXISTS (SELECT FROM address_entries WHERE address_entries.owner = $1 AND address_entries.id = tombstones.id)
      ORDER BY seq LIMIT $3)
    ORDER BY seq LIMIT $3`,
}

/** A time as toISOString writes it (UTC, milliseconds), formatted by the server: a whole book's times are not parsed into Dates and back. */
const ISO_TIME = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`

/**
 * A page of an owner's stamps in creation order, after ($2, $3): a walk of
 * address_entries_by_created from the position on. The first page starts after ('-infinity', ''),
 * so that one statement serves every page. card_kept, which TOAST keeps out of line, is not read.
 */
export const LIST_STAMPS: Statement = {
  name: 'addrservice-list-stamps',
  text: `SELECT id, version, to_char(created_at AT TIME ZONE 'UTC', ${ISO_TIME}) AS created,
      to_char(updated_at AT TIME ZONE 'UTC', ${ISO_TIME}) AS updated, card_name
    FROM address_entries
    WHERE owner = $1 AND (created_at, id COLLATE "C") > ($2::timestamptz, $3::text)
    ORDER BY created_at, id COLLATE "C" LIMIT $4`,
}

/**
 * An entry's versions, newest first: its current one (with no seq, as the newest) unless $3 gives
 * the seq to continue below, then those history keeps, walking the entry's range of the primary
 * key down from $3. At most $4.
 */
const HISTORY: Statement = {
  name: 'addrservice-history',
  text: `(SELECT NULL::bigint AS seq, version, created_at, updated_at, NULL::timestamptz AS replaced_at, false AS deleted, source, entry,
        photo_etag, card_name, card_uid, card_kept
      FROM address_entries WHERE owner = $1 AND id = $2 AND $3::bigint IS NULL)
    UNION ALL
    (SELECT seq, version, created_at, updated_at, replaced_at, deleted, source, entry, photo_etag, card_name, card_uid, card_kept
      FROM entry_history WHERE owner = $1 AND id = $2 AND seq < coalesce($3::bigint, 9223372036854775807)
      ORDER BY seq DESC LIMIT $4)
    ORDER BY seq DESC NULLS FIRST LIMIT $4`,
}

/** Whether the history row `h` is its id's latest and the id has no entry: the version the trash holds, when it ended in a deletion. */
const LATEST_AND_GONE = `NOT EXISTS (SELECT FROM entry_history AS later WHERE later.owner = h.owner AND later.id = h.id AND later.seq > h.seq)
    AND NOT EXISTS (SELECT FROM address_entries AS e WHERE e.owner = h.owner AND e.id = h.id)`

/**
 * A page of the owner's trash, after the deletion ($2, $3) when given, whose search text contains
 * $4 when given: a walk down entry_history_trash. The first page starts below ('infinity', ''),
 * so that one statement serves every page.
 */
const LIST_TRASH: Statement = {
  name: 'addrservice-list-trash',
  text: `SELECT h.id, h.version, h.created_at, h.updated_at, h.replaced_at, h.entry, h.photo_etag, h.card_name, h.card_uid, h.card_kept
    FROM entry_history AS h
    WHERE h.owner = $1 AND h.deleted
      AND (h.replaced_at, h.id COLLATE "C") < (coalesce($2::timestamptz, 'infinity'), coalesce($3::text, ''))
      AND ($4::text IS NULL OR strpos(h.search_text, $4) > 0)
      AND ${LATEST_AND_GONE}
    ORDER BY h.replaced_at DESC, h.id COLLATE "C" DESC LIMIT $5`,
}

/**
 * A version of an entry as a restore takes it: the one at seq $3, or without it the id's latest
 * (with $4, the latest that a deletion ended); whether the id has an entry now, and which other
 * entry holds the version's card name.
 */
const KEPT_VERSION: Statement = {
  name: 'addrservice-kept-version',
  text: `SELECT h.seq, h.version, h.created_at, h.deleted, h.entry, h.photo_etag, h.card_name, h.card_uid, h.card_kept,
      EXISTS (SELECT FROM address_entries AS e WHERE e.owner = $1 AND e.id = $2) AS live,
      (SELECT e.id FROM address_entries AS e WHERE e.owner = $1 AND e.card_name = h.card_name AND e.id <> $2) AS holder
    FROM entry_history AS h
    WHERE h.owner = $1 AND h.id = $2 AND ($3::bigint IS NULL OR h.seq = $3) AND (h.deleted OR NOT $4::boolean)
    ORDER BY h.seq DESC LIMIT 1`,
}

/**
 * Within a transaction: the entry (if at one of the versions $3), locked after the book lock, and
 * then its owner's counter, as a write takes them; its version and creation time. What the
 * statements after it read of the entry's history is then the latest: every write of history
 * holds the counter.
 */
const LOCK_FOR_RESTORE: Statement = {
  name: 'addrservice-lock-for-restore',
  text: `WITH book AS MATERIALIZED (${SHARED_BOOK_LOCK}),
    target AS (
      SELECT version, created_at FROM address_entries, book
      WHERE owner = $1 AND id = $2 AND ($3::integer[] IS NULL OR version = ANY($3::integer[]))
      FOR UPDATE OF address_entries
    ),
    counter AS (SELECT FROM change_counters WHERE owner = $1 AND EXISTS (SELECT FROM target) FOR UPDATE)
    SELECT target.version, target.created_at FROM target, counter`,
}

/** Within a transaction: the owner's counter, so that no other write of the owner's commits until it does. */
const LOCK_COUNTER: Statement = {
  name: 'addrservice-lock-counter',
  text: 'SELECT FROM change_counters WHERE owner = $1 FOR UPDATE',
}

/**
 * Gives entries the versions in $2, made through `restore` at $3, each a change at its place:
 * an entry the owner has is replaced (when $4, its version goes to history first), one it has not
 * is created (its tombstone cleared); their terms are replaced as by UPDATE_ENTRY. Run within a
 * transaction that holds the owner's counter and every entry concerned: the snapshot is the latest.
 * A card name another entry holds fails the statement on its unique index.
 */
const PUT_VERSIONS: Statement = {
  name: 'addrservice-put-versions',
  text: `WITH input AS (
      SELECT * FROM jsonb_to_recordset($2::jsonb)
        AS input(id text, version integer, created_at timestamptz, entry jsonb, sort_name text, search_text text, terms jsonb,
          card_name text, card_uid text, card_kept text, photo_etag text, place bigint)
    ),
    counter AS (
      INSERT INTO change_counters AS counter (owner, latest) SELECT $1, $5::bigint
      ON CONFLICT (owner) DO UPDATE SET latest = counter.latest + EXCLUDED.latest
      RETURNING latest - $5::bigint AS before
    ),
    kept AS (
      INSERT INTO entry_history (${HISTORY_COLUMNS})
      SELECT ${keptFrom('live', '$3::timestamptz', false)} FROM address_entries AS live JOIN input USING (id) WHERE live.owner = $1 AND $4::boolean
    ),
    put AS (
      INSERT INTO address_entries AS e (${COLUMNS}, sort_name, search_text, created_seq, changed_seq, card_name, card_uid, card_kept, photo_etag, source)
      SELECT input.id, $1, input.version, input.created_at, $3, input.entry, input.sort_name, input.search_text,
        counter.before + input.place, counter.before + input.place, input.card_name, input.card_uid, input.card_kept, input.photo_etag, 'restore'
      FROM counter, input
      ON CONFLICT (owner, id) DO UPDATE SET version = EXCLUDED.version, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
        entry = EXCLUDED.entry, sort_name = EXCLUDED.sort_name, search_text = EXCLUDED.search_text, changed_seq = EXCLUDED.changed_seq,
        card_name = EXCLUDED.card_name, card_uid = EXCLUDED.card_uid, card_kept = EXCLUDED.card_kept, photo_etag = EXCLUDED.photo_etag,
        source = EXCLUDED.source
      RETURNING ${READ_COLUMNS.split(', ').map((column) => `e.${column}`).join(', ')}
    ),
    terms AS (SELECT input.id, term.field, term.value FROM input, jsonb_to_recordset(input.terms) AS term(field text, value text)),
    stale AS (
      DELETE FROM entry_terms AS t USING input WHERE t.owner = $1 AND t.entry_id = input.id
      AND NOT EXISTS (SELECT FROM terms WHERE terms.id = t.entry_id AND terms.field = t.field AND terms.value = t.value)
    ),
    added AS (
      INSERT INTO entry_terms (entry_id, owner, field, value) SELECT terms.id, $1, terms.field, terms.value FROM terms
      ON CONFLICT DO NOTHING
    ),
    cleared AS (DELETE FROM tombstones WHERE owner = $1 AND id IN (SELECT id FROM put))
    SELECT * FROM put`,
}

/**
 * The book locks of the owners in $1, alone, then their counters (created when missing; updating
 * one to itself takes its row's lock): no other write of theirs is in flight after it, and none
 * starts until the transaction ends. Each kind is taken in one order, so that two restores of
 * books in common cannot deadlock: the locks by their keys (two owners whose names hash alike
 * share one), the counters by owner, as forgetHistoryBefore takes them.
 */
const LOCK_BOOKS: Statement = {
  name: 'addrservice-lock-books',
  text: `WITH books AS MATERIALIZED (
      SELECT pg_advisory_xact_lock(${String(BOOK_LOCK_CLASS)}, book.key)
      FROM (SELECT DISTINCT hashtext(owner) AS key FROM unnest($1::text[]) AS owner ORDER BY key) AS book
    )
    INSERT INTO change_counters AS counter (owner, latest)
    SELECT book.owner, 0 FROM (SELECT DISTINCT owner COLLATE "C" AS owner FROM unnest($1::text[]) AS owner) AS book
    WHERE (SELECT count(*) FROM books) > 0 ORDER BY book.owner
    ON CONFLICT (owner) DO UPDATE SET latest = counter.latest`,
}

/**
 * What putting the owner's book back as it was at $2 does, entry by entry, in id order. The
 * entries concerned are those written since: updated, created or restored (address_entries), or
 * replaced or deleted (entry_history), through (owner, updated_at) and (owner, replaced_at). Each
 * was then as its entry is, if that was written by then; else as the version of its history that
 * was current then; else it did not exist. An entry that did not exist then is trashed; one that
 * did is restored when what it holds differs, or created again when it has no entry now. `holder`
 * names an entry that keeps the card name a version needs: one that is not trashed or restored.
 */
const BOOK_PLAN: Statement = {
  name: 'addrservice-book-plan',
  text: `WITH candidates AS (
      SELECT id FROM address_entries WHERE owner = $1 AND updated_at > $2
      UNION
      SELECT id FROM entry_history WHERE owner = $1 AND replaced_at > $2
    ),
    states AS (
      SELECT candidates.id, live.card_name AS live_name, coalesce(live.version, latest.version) AS version,
        CASE
          WHEN live.id IS NULL THEN CASE WHEN since.seq IS NULL THEN NULL ELSE 'recreated' END
          WHEN live.updated_at <= $2 THEN NULL
          WHEN since.seq IS NULL THEN 'trashed'
          WHEN (live.entry, live.card_name, live.card_uid, live.card_kept, live.photo_etag)
            IS NOT DISTINCT FROM (since.entry, since.card_name, since.card_uid, since.card_kept, since.photo_etag) THEN NULL
          ELSE 'restored'
        END AS outcome,
        since.created_at, since.entry, since.photo_etag, since.card_name, since.card_uid, since.card_kept
      FROM candidates
      LEFT JOIN address_entries AS live ON live.owner = $1 AND live.id = candidates.id
      LEFT JOIN LATERAL (
        SELECT seq, created_at, entry, photo_etag, card_name, card_uid, card_kept FROM entry_history AS h
        WHERE h.owner = $1 AND h.id = candidates.id AND h.updated_at <= $2 AND h.replaced_at > $2
        ORDER BY h.seq DESC LIMIT 1
      ) AS since ON live.id IS NULL OR live.updated_at > $2
      LEFT JOIN LATERAL (
        SELECT version FROM entry_history AS h WHERE h.owner = $1 AND h.id = candidates.id ORDER BY h.seq DESC LIMIT 1
      ) AS latest ON live.id IS NULL
    )
    SELECT states.*, (
        SELECT holder.id FROM address_entries AS holder
        WHERE holder.owner = $1 AND holder.card_name = states.card_name AND holder.id <> states.id
        AND holder.id NOT IN (SELECT id FROM states WHERE outcome IN ('trashed', 'restored'))
        LIMIT 1
      ) AS holder
    FROM states WHERE outcome IS NOT NULL ORDER BY id COLLATE "C"`,
}

/**
 * Deletes the entries $2 (each with its place) at $3 as DELETE_ENTRY does: history, tombstone and
 * a change each. Within a transaction that holds the owner's counter and book lock.
 */
const TRASH_ENTRIES: Statement = {
  name: 'addrservice-trash-entries',
  text: `WITH input AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS input(id text, place bigint)),
    counter AS (
      INSERT INTO change_counters AS counter (owner, latest) SELECT $1, $4::bigint
      ON CONFLICT (owner) DO UPDATE SET latest = counter.latest + EXCLUDED.latest
      RETURNING latest - $4::bigint AS before
    ),
    kept AS (
      INSERT INTO entry_history (${HISTORY_COLUMNS})
      SELECT ${keptFrom('live', '$3::timestamptz', true)} FROM address_entries AS live JOIN input USING (id) WHERE live.owner = $1
    ),
    deleted AS (
      DELETE FROM address_entries USING input, counter WHERE owner = $1 AND address_entries.id = input.id
      RETURNING address_entries.id, address_entries.card_name, counter.before + input.place AS seq
    ),
    tombstone AS (
      INSERT INTO tombstones (owner, id, seq, deleted_at, card_name) SELECT $1, id, seq, $3, card_name FROM deleted
      ON CONFLICT (owner, id) DO UPDATE SET seq = EXCLUDED.seq, deleted_at = EXCLUDED.deleted_at, card_name = EXCLUDED.card_name
    )
    SELECT count(*)::integer AS deleted FROM deleted`,
}

/**
 * Keeps the versions of the entries $2 in history, replaced at $3, and takes the card name from
 * those of them that $2 says give theirs up: what a book restore does before it gives them their
 * versions of then (PUT_VERSIONS), so that no name is held twice on the way.
 */
const KEEP_AND_RELEASE: Statement = {
  name: 'addrservice-keep-and-release',
  text: `WITH input AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS input(id text, release boolean)),
    kept AS (
      INSERT INTO entry_history (${HISTORY_COLUMNS})
      SELECT ${keptFrom('live', '$3::timestamptz', false)} FROM address_entries AS live JOIN input USING (id) WHERE live.owner = $1
    )
    UPDATE address_entries SET card_name = NULL FROM input WHERE owner = $1 AND address_entries.id = input.id AND input.release`,
}

/**
 * Forgets the owner's trashed entries (the one $2, or all), with their history and photos; the
 * number of entries. Within a transaction that holds the owner's counter.
 */
const EMPTY_TRASH: Statement = {
  name: 'addrservice-empty-trash',
  text: `WITH trashed AS (
      SELECT h.id FROM entry_history AS h WHERE h.owner = $1 AND h.deleted AND ($2::text IS NULL OR h.id = $2) AND ${LATEST_AND_GONE}
    ),
    history AS (DELETE FROM entry_history USING trashed WHERE owner = $1 AND entry_history.id = trashed.id),
    photos AS (DELETE FROM entry_photos USING trashed WHERE owner = $1 AND entry_id = trashed.id)
    SELECT count(*)::integer AS forgotten FROM trashed`,
}

/** How many times a create runs when entries committed since its snapshot take its ids. */
const CREATE_ATTEMPTS = 3

/**
 * Keeps entries in PostgreSQL through a node-postgres pool, as jsonb beside the metadata
 * columns. Every statement is parameterized, and those of a fixed shape are prepared. Each write
 * of an entry is one statement, a round trip of its own, that advances its owner's row of
 * change_counters with the change it records (see CREATE_ENTRIES and the statements after it);
 * an owner's creates that arrive while one is in flight go together in the next (see create).
 * The schema is migrated on first use, under an advisory lock; an unreachable server makes each
 * call reject with StoreUnavailableError until it is back, without restarting anything.
 */
export class PostgresStore implements Store {
  readonly description: string
  readonly #pool: pg.Pool
  readonly #clock: Clock
  /** Per owner with a create in flight: the creates waiting to go together after it. */
  readonly #waitingCreates = new Map<string, WaitingCreate[]>()
  #migrated: Promise<void> | undefined

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.description = `postgres:${redactPassword(url)}`
    this.#clock = options.clock ?? systemClock
    const statementTimeout = options.statementTimeoutMs ?? 5000
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      statement_timeout: statementTimeout,
      // A client-side bound too, for when the server stops answering altogether.
      query_timeout: statementTimeout + 1000,
      idleTimeoutMillis: 30_000,
      application_name: 'addrservice',
    })
    const onBackgroundError = options.onBackgroundError ?? (() => undefined)
    this.#pool.on('error', onBackgroundError)
  }

  async ready(): Promise<void> {
    await this.#query('SELECT 1', [])
  }

  /** Connects and applies pending migrations; every other method does it first when needed. */
  open(): Promise<void> {
    this.#migrated ??= this.#guard(() => migrate(this.#pool)).catch((error: unknown) => {
      this.#migrated = undefined
      throw error
    })
    return this.#migrated
  }

  /**
   * Waits while a create of the same owner is in flight from this store, then goes with the other
   * creates that waited, in one statement: one commit, and one turn at the owner's counter, for
   * them all. An owner's writes commit one after another, each waiting for the one before to reach
   * the disk; creates that go together share that wait.
   */
  create(owner: string, id: string, entry: AddressEntry, { idempotency, card, photo, source }: WriteOptions = {}): Promise<StoredEntry> {
    return new Promise((resolve, reject) => {
      const copy = structuredClone(entry)
      const kept = keptCard(card)
      const create = { row: toNewRow(id, copy, kept, photo, source), entry: copy, card: kept, idempotency, resolve, reject }
      const waiting = this.#waitingCreates.get(owner)
      if (waiting) waiting.push(create)
      else void this.#createInTurns(owner, [create])
    })
  }

  /**
   * One statement (CREATE_ENTRIES); a taken id or card name, or one given twice, is named and
   * stores nothing. Its rows are made a slice of time at a time.
   */
  async createMany(owner: string, entries: readonly NewEntry[], { idempotency, source }: WriteOptions = {}): Promise<void> {
    if (entries.length === 0) {
      if (idempotency) await this.#query(RECORD_RESULT, [owner, idempotency.key, idempotency.result])
      return
    }
    const twice = firstNameGivenTwice(entries)
    if (twice !== undefined) throw new EntryExistsError(twice)
    const { stored, taken, named } = await this.#insertEntries(owner, await rowsJsonInSlices(entries, source), entries.length, idempotency ? [idempotency] : [])
    if (!stored) {
      const ids = entries.map(({ id }) => id)
      const clash = firstClash(ids, new Set(ids.filter((id) => !taken.has(id))))
      if (clash !== undefined) throw new EntryExistsError(clash)
      const holder = named.values().next()
      throw holder.done ? new Error('createMany stored nothing and named no taken id') : new EntryExistsError(holder.value)
    }
  }

  /**
   * Creates `first`, then those of the owner that waited meanwhile, turn after turn until none
   * waits. A turn's ids and card names are distinct: a create of an id or name already in the turn
   * waits for the next, in which it finds it taken. When a turn finds the server unreachable, those
   * that waited for it fail with it: tried in turn, each would wait for its own timeout after the
   * others'.
   */
  async #createInTurns(owner: string, first: WaitingCreate[]): Promise<void> {
    this.#waitingCreates.set(owner, [])
    for (let turn = first; turn.length > 0; ) {
      const unavailable = await this.#createTogether(owner, turn)
      const waiting = this.#waitingCreates.get(owner) ?? []
      if (unavailable) {
        for (const { reject } of waiting) reject(unavailable)
        break
      }
      const ids = new Set<string>()
      const names = new Set<string>()
      turn = []
      const later: WaitingCreate[] = []
      for (const create of waiting) {
        const name = create.row.card_name
        if (ids.has(create.row.id) || (name !== undefined && names.has(name))) {
          later.push(create)
        } else {
          turn.push(create)
          ids.add(create.row.id)
          if (name !== undefined) names.add(name)
        }
      }
      this.#waitingCreates.set(owner, later)
    }
    this.#waitingCreates.delete(owner)
  }

  /**
   * Settles every one of `creates`, never rejects. They are stored together when none of their ids
   * or card names is taken; otherwise the creates of taken ones are refused and the others tried
   * again. When the
   * server refuses the statement for a reason of its own, each is tried alone, so that the error
   * is that of the create that causes it; when the server is not there, it is every create's, and
   * the promise resolves it.
   */
  async #createTogether(owner: string, creates: readonly WaitingCreate[]): Promise<StoreUnavailableError | undefined> {
    let remaining = creates
    while (remaining.length > 0) {
      let outcome: InsertOutcome
      try {
        const results = remaining.flatMap(({ idempotency }) => (idempotency ? [idempotency] : []))
        outcome = await this.#insertEntries(owner, rowsJson(remaining.map(({ row }) => row)), remaining.length, results)
        // Ids and names are distinct within a turn: a statement that stored nothing has named a taken one.
        if (!outcome.stored && outcome.taken.size === 0 && outcome.named.size === 0) throw new Error('creates that went together stored nothing and named no taken id')
      } catch (error) {
        if (remaining.length === 1 || error instanceof StoreUnavailableError) {
          for (const { reject } of remaining) reject(error)
          return error instanceof StoreUnavailableError ? error : undefined
        }
        for (const [index, create] of remaining.entries()) {
          const unavailable = await this.#createTogether(owner, [create])
          if (unavailable) {
            for (const { reject } of remaining.slice(index + 1)) reject(unavailable)
            return unavailable
          }
        }
        return undefined
      }
      const { stored, taken, named, now } = outcome
      for (const { row, entry, card, resolve, reject } of remaining) {
        const holder = named.get(row.id)
        if (taken.has(row.id)) reject(new EntryExistsError(row.id))
        else if (holder !== undefined) reject(new EntryExistsError(holder))
        else if (stored) resolve({ id: row.id, owner, version: 1, createdAt: now, updatedAt: now, entry, ...(card ? { card } : {}), ...photoOf(row.photo_etag ?? null) })
      }
      remaining = stored ? [] : remaining.filter(({ row }) => !taken.has(row.id) && !named.has(row.id))
    }
    return undefined
  }

  /**
   * CREATE_ENTRIES, run again when an entry committed since its snapshot took one of the ids or
   * card names (its new snapshot then names it).
   */
  async #insertEntries(owner: string, rows: string, count: number, results: readonly IdempotencyResult[]): Promise<InsertOutcome> {
    const now = this.#clock().toISOString()
    const values = [owner, rows, now, JSON.stringify(results), count]
    for (let attempt = 1; ; attempt++) {
      try {
        const [result] = await this.#query<{ stored: boolean; taken: string[]; named: [string, string][] }>(CREATE_ENTRIES, values)
        return { stored: result?.stored ?? false, taken: new Set(result?.taken), named: new Map(result?.named), now }
      } catch (error) {
        if (attempt === CREATE_ATTEMPTS || !isTakenMeanwhile(error)) throw error
      }
    }
  }

  async get(owner: string, id: string): Promise<StoredEntry | undefined> {
    const rows = await this.#query<EntryRow>(GET_ENTRY, [owner, id])
    return rows[0] && toStoredEntry(rows[0])
  }

  async findByName(owner: string, name: string): Promise<StoredEntry | undefined> {
    const rows = await this.#query<EntryRow>(FIND_BY_NAME, [owner, name])
    return rows[0] && toStoredEntry(rows[0])
  }

  /**
   * One statement (UPDATE_ENTRY), unless another write of the same entry committed after the
   * statement's snapshot was taken: the entry's terms that write added are not in that snapshot,
   * so this one could not replace them. Then the statement writes nothing, and runs again in a
   * transaction that locks the entry first, so that its snapshot is the entry's latest. A card
   * name another entry holds fails it on the name's index, and the holder is then looked up: should
   * it have gone meanwhile, the update is tried again.
   */
  async update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[], { card, photo, source }: UpdateOptions = {}): Promise<StoredEntry | undefined> {
    const index = indexEntry(entry)
    const updatedAt = this.#clock().toISOString()
    const kept = card === undefined ? undefined : keptCard(card)
    const values = [
      owner,
      id,
      JSON.stringify(entry),
      updatedAt,
      index.sortName,
      index.searchText,
      JSON.stringify(index.terms),
      ifVersion ?? null,
      card === undefined,
      kept?.name ?? null,
      kept?.uid ?? null,
      kept?.kept ?? null,
      photo === undefined,
      photo?.etag ?? null,
      photo?.contentType ?? null,
      photo?.image ?? null,
      photo?.thumbnail ?? null,
      source ?? 'api',
    ]
    let row: UpdateRow | undefined
    for (let attempt = 1; ; attempt++) {
      try {
        row = await this.#updateOnce(owner, id, values)
        break
      } catch (error) {
        if (!isNameTaken(error) || kept?.name === undefined) throw error
        const holder = await this.findByName(owner, kept.name)
        if (holder && holder.id !== id) throw new EntryExistsError(holder.id)
        if (attempt === CREATE_ATTEMPTS) throw error
      }
    }
    if (!row?.created_at || row.version === null) return undefined
    const now = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
    return { id, owner, version: row.version, createdAt: row.created_at.toISOString(), updatedAt, entry: structuredClone(entry), ...(now ? { card: now } : {}), ...photoOf(row.photo_etag) }
  }

  /**
   * One transaction: every entry locked (after the book lock, and in id order, so that two of
   * these cannot deadlock), and its version checked; then each updated as `update` does, under its
   * lock. Rolled back, and undefined, when any entry is missing or at another version.
   */
  async updateMany(owner: string, updates: readonly EntryUpdate[], { source }: ChangeOptions = {}): Promise<StoredEntry[] | undefined> {
    if (new Set(updates.map(({ id }) => id)).size < updates.length) return undefined
    const updatedAt = this.#clock().toISOString()
    return this.#transaction(async (client) => {
      const { rows: locked } = await client.query<{ id: string; version: number }>(
        `WITH book AS MATERIALIZED (${SHARED_BOOK_LOCK})
         SELECT id, version FROM address_entries, book WHERE owner = $1 AND id = ANY($2::text[]) ORDER BY id COLLATE "C" FOR UPDATE OF address_entries`,
        [owner, updates.map(({ id }) => id)],
      )
      const versions = new Map(locked.map(({ id, version }) => [id, version]))
      if (updates.some(({ id, ifVersion }) => !ifVersion.includes(versions.get(id) ?? -1))) return { keep: false, value: undefined }
      const stored: StoredEntry[] = []
      for (const { id, entry, ifVersion } of updates) {
        const index = indexEntry(entry)
        const values = [owner, id, JSON.stringify(entry), updatedAt, index.sortName, index.searchText, JSON.stringify(index.terms), ifVersion, true, null, null, null, true, null, null, null, null, source ?? 'api']
        const { rows } = await client.query<UpdateRow>({ ...UPDATE_ENTRY, values })
        const row = rows[0]
        if (isStale(row) || !row?.created_at || row.version === null) throw new Error(`the update of ${id} did not apply while it held the entry's lock`)
        const card = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
        stored.push({ id, owner, version: row.version, createdAt: row.created_at.toISOString(), updatedAt, entry: structuredClone(entry), ...(card ? { card } : {}), ...photoOf(row.photo_etag) })
      }
      return { keep: true, value: stored }
    })
  }

  /** UPDATE_ENTRY, and again after the entry's lock when its snapshot was stale (see update). */
  async #updateOnce(owner: string, id: string, values: unknown[]): Promise<UpdateRow | undefined> {
    const [row] = await this.#query<UpdateRow>(UPDATE_ENTRY, values)
    if (!isStale(row)) return row
    return this.#transaction(async (client) => {
      await client.query({ ...LOCK_ENTRY, values: [owner, id] })
      const { rows } = await client.query<UpdateRow>({ ...UPDATE_ENTRY, values })
      if (isStale(rows[0])) throw new Error(`the update of ${id} read a stale snapshot while it held the entry's lock`)
      return { keep: true, value: rows[0] }
    })
  }

  /**
   * One statement (SET_PHOTO): the entry's new version and change, and its photo's row. Nothing
   * when the entry is missing or at another version.
   */
  async setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[], { source }: ChangeOptions = {}): Promise<StoredEntry | undefined> {
    const [row] = await this.#query<EntryRow>(SET_PHOTO, [
      owner,
      id,
      this.#clock().toISOString(),
      ifVersion ?? null,
      photo?.etag ?? null,
      source ?? 'api',
      photo?.contentType ?? null,
      photo?.image ?? null,
      photo?.thumbnail ?? null,
    ])
    return row && toStoredEntry(row)
  }

  async getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined> {
    const [row] = await this.#query<{ etag: string; content_type: string; data: Buffer }>(which === 'image' ? GET_PHOTO : GET_THUMBNAIL, [owner, id])
    return row && { etag: row.etag, contentType: row.content_type, data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) }
  }

  /**
   * One statement (DELETE_ENTRY). Its terms go with it (ON DELETE CASCADE); a tombstone takes its
   * place, and its last version goes to the trash. The deletion makes no version, so its source
   * is recorded nowhere: the trash keeps the version it ended, with that version's own.
   */
  async delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    const rows = await this.#query<{ deleted: number }>(DELETE_ENTRY, [owner, id, ifVersion ?? null, this.#clock().toISOString()])
    return (rows[0]?.deleted ?? 0) > 0
  }

  /** One statement (HISTORY). */
  async history(owner: string, id: string, limit: number, before?: number): Promise<StoredVersion[]> {
    const rows = await this.#query<VersionRow>(HISTORY, [owner, id, before ?? null, limit])
    return rows.map((row) => toStoredVersion(id, row))
  }

  /**
   * One transaction: the entry and then its owner's counter locked, as a write locks them
   * (LOCK_FOR_RESTORE); then the version read, and given to the entry (PUT_VERSIONS). Read only once
   * the counter is held, the version cannot be forgotten meanwhile, nor its photo with it (see
   * forgetHistoryBefore).
   */
  async restoreVersion(owner: string, id: string, seq: number, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    return this.#transaction(async (client) => {
      const { rows: locked } = await client.query<{ version: number; created_at: Date }>({ ...LOCK_FOR_RESTORE, values: [owner, id, ifVersion ?? null] })
      const live = locked[0]
      if (!live) return { keep: false, value: undefined }
      const { rows } = await client.query<KeptRow>({ ...KEPT_VERSION, values: [owner, id, seq, false] })
      const kept = rows[0]
      if (!kept) return { keep: false, value: undefined }
      if (kept.holder !== null) throw new EntryExistsError(kept.holder)
      const now = this.#clock().toISOString()
      const [stored] = await this.#putVersions(client, owner, [restoredRow(id, kept, live.version + 1, live.created_at, 1)], true, now)
      return { keep: true, value: stored }
    })
  }

  /** One statement (LIST_TRASH). */
  async listTrash(owner: string, { q, limit, after }: TrashQuery): Promise<TrashedEntry[]> {
    const rows = await this.#query<TrashRow>(LIST_TRASH, [owner, after?.deletedAt ?? null, after?.id ?? null, q ?? null, limit])
    return rows.map(toTrashedEntry)
  }

  /**
   * One transaction: the owner's counter locked first, so that neither the id nor the card name
   * can be taken, nor the trash emptied, before the entry is back; then the id's last deletion
   * read, and its version given to the id again (PUT_VERSIONS).
   */
  async restoreFromTrash(owner: string, id: string): Promise<StoredEntry | undefined> {
    return this.#transaction(async (client) => {
      const { rows: counters } = await client.query({ ...LOCK_COUNTER, values: [owner] })
      if (counters.length === 0) return { keep: false, value: undefined }
      const { rows } = await client.query<KeptRow>({ ...KEPT_VERSION, values: [owner, id, null, true] })
      const kept = rows[0]
      if (!kept) return { keep: false, value: undefined }
      if (kept.live) throw new EntryExistsError(id)
      if (kept.holder !== null) throw new EntryExistsError(kept.holder)
      const now = this.#clock().toISOString()
      const [stored] = await this.#putVersions(client, owner, [restoredRow(id, kept, kept.version + 1, kept.created_at, 1)], false, now)
      return { keep: true, value: stored }
    })
  }

  /** One transaction: the owner's counter locked first (no restore from the trash can be halfway), then EMPTY_TRASH. */
  async emptyTrash(owner: string, id?: string): Promise<number> {
    return this.#transaction(async (client) => {
      const { rows: counters } = await client.query({ ...LOCK_COUNTER, values: [owner] })
      if (counters.length === 0) return { keep: false, value: 0 }
      const { rows } = await client.query<{ forgotten: number }>({ ...EMPTY_TRASH, values: [owner, id ?? null] })
      return { keep: true, value: rows[0]?.forgotten ?? 0 }
    })
  }

  /**
   * One transaction, after every owner's book lock and counter (LOCK_BOOKS); then each book put
   * back in turn (#restoreOneBook), so that a failure in any leaves them all as they were. A
   * preview reads the same in a read-only transaction of one snapshot, and locks nothing.
   */
  async restoreBook(owners: readonly string[], at: string, { preview = false }: { readonly preview?: boolean } = {}): Promise<BookRestore[]> {
    if (owners.length === 0) return []
    return this.#transaction(async (client) => {
      if (preview) await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
      else await client.query({ ...LOCK_BOOKS, values: [owners] })
      const now = this.#clock().toISOString()
      // A book named twice is put back once: the second time would find nothing left to do.
      const books = new Map<string, BookRestore>()
      const done: BookRestore[] = []
      for (const owner of owners) {
        const book = books.get(owner) ?? (await this.#restoreOneBook(client, owner, at, preview, now))
        books.set(owner, book)
        done.push(book)
      }
      return { keep: !preview, value: done }
    })
  }

  /**
   * Puts the owner's book back as it was at `at`, in a transaction that holds its book lock and
   * counter: what to do read (BOOK_PLAN), then done in an order in which no card name is held
   * twice: the entries to trash deleted, those to restore kept in history and their card names
   * given up where they change, and then every version of then given back at once
   * (PUT_VERSIONS). With `preview`, only reads.
   */
  async #restoreOneBook(client: pg.PoolClient, owner: string, at: string, preview: boolean, now: string): Promise<BookRestore> {
    const { rows: plan } = await client.query<PlanRow>({ ...BOOK_PLAN, values: [owner, at] })
    const taken = plan.find(({ outcome, holder }) => outcome !== 'trashed' && holder !== null)
    if (taken?.holder) throw new EntryExistsError(taken.holder)
    const trashed = plan.filter(({ outcome }) => outcome === 'trashed')
    const restored = plan.filter(({ outcome }) => outcome === 'restored')
    const given = plan.filter(({ outcome }) => outcome !== 'trashed')
    const done: BookRestore = {
      restored: restored.map(({ id }) => id),
      trashed: trashed.map(({ id }) => id),
      recreated: plan.filter(({ outcome }) => outcome === 'recreated').map(({ id }) => id),
    }
    if (preview) return done
    if (trashed.length > 0) {
      const places = trashed.map(({ id }, index) => ({ id, place: index + 1 }))
      await client.query({ ...TRASH_ENTRIES, values: [owner, JSON.stringify(places), now, trashed.length] })
    }
    if (restored.length > 0) {
      const releases = restored.map(({ id, live_name, card_name }) => ({ id, release: live_name !== null && live_name !== card_name }))
      await client.query({ ...KEEP_AND_RELEASE, values: [owner, JSON.stringify(releases), now] })
    }
    if (given.length > 0) {
      const versions = given.map((row, index) => {
        if (!row.entry || !row.created_at) throw new Error(`the book plan gave ${row.id} no version of then`)
        return restoredRow(row.id, { ...row, entry: row.entry }, row.version + 1, row.created_at, index + 1)
      })
      await this.#putVersions(client, owner, versions, false, now)
    }
    return done
  }

  /**
   * One transaction. It locks the counters of the owners concerned first, in one order, as
   * forgetDeletionsBefore does: every write of history, and every restore (which reads a version
   * and then names its photo), holds its owner's counter, so that none can name a photo this
   * forgets. Then the trashed entries deleted before `before` go, with all their history, and the
   * other versions replaced before it but the `keep` latest of each entry; then, in a statement
   * that sees those gone, the photos of those entries that nothing names any more.
   */
  async forgetHistoryBefore(before: string, keep: number): Promise<number> {
    return this.#transaction(async (client) => {
      const { rows: owners } = await client.query<{ owner: string }>(
        `SELECT owner FROM change_counters
         WHERE EXISTS (SELECT FROM entry_history WHERE entry_history.owner = change_counters.owner AND replaced_at < $1)
         ORDER BY owner FOR UPDATE`,
        [before],
      )
      if (owners.length === 0) return { keep: true, value: 0 }
      const { rows } = await client.query<{ forgotten: number; touched: { owner: string; id: string }[] }>(
        `WITH trashed AS (
           SELECT h.owner, h.id FROM entry_history AS h
           WHERE h.owner = ANY($2::text[]) AND h.deleted AND h.replaced_at < $1 AND ${LATEST_AND_GONE}
         ),
         doomed AS (
           SELECT h.owner, h.id, h.seq FROM entry_history AS h JOIN trashed USING (owner, id)
           UNION ALL
           SELECT h.owner, h.id, h.seq FROM entry_history AS h
           WHERE h.owner = ANY($2::text[]) AND h.replaced_at < $1
             AND NOT EXISTS (SELECT FROM trashed WHERE trashed.owner = h.owner AND trashed.id = h.id)
             AND (SELECT count(*) FROM (
                   SELECT FROM entry_history AS newer WHERE newer.owner = h.owner AND newer.id = h.id AND newer.seq > h.seq LIMIT $3
                 ) AS newer) >= $3
         ),
         forgotten AS (
           DELETE FROM entry_history USING doomed
           WHERE entry_history.owner = doomed.owner AND entry_history.id = doomed.id AND entry_history.seq = doomed.seq
           RETURNING entry_history.owner, entry_history.id
         )
         SELECT count(*)::integer AS forgotten, coalesce(jsonb_agg(DISTINCT jsonb_build_object('owner', owner, 'id', id)), '[]') AS touched
         FROM forgotten`,
        [before, owners.map(({ owner }) => owner), keep],
      )
      const forgotten = rows[0] ?? { forgotten: 0, touched: [] }
      if (forgotten.touched.length > 0) {
        await client.query(
          `DELETE FROM entry_photos AS p USING jsonb_to_recordset($1::jsonb) AS touched(owner text, id text)
           WHERE p.owner = touched.owner AND p.entry_id = touched.id
             AND NOT EXISTS (SELECT FROM address_entries AS e WHERE e.owner = p.owner AND e.id = p.entry_id AND e.photo_etag = p.etag)
             AND NOT EXISTS (SELECT FROM entry_history AS h WHERE h.owner = p.owner AND h.id = p.entry_id AND h.photo_etag = p.etag)`,
          [JSON.stringify(forgotten.touched)],
        )
      }
      return { keep: true, value: forgotten.forgotten }
    })
  }

  /** PUT_VERSIONS of `rows`, made at `now`; the entries as stored, in no particular order. */
  async #putVersions(client: pg.PoolClient, owner: string, rows: readonly RestoredRow[], keep: boolean, now: string): Promise<StoredEntry[]> {
    const { rows: stored } = await client.query<EntryRow>({ ...PUT_VERSIONS, values: [owner, JSON.stringify(rows), now, keep, rows.length] })
    return stored.map(toStoredEntry)
  }

  async list(owner: string, { filter, sort, limit, after }: ListQuery): Promise<StoredEntry[]> {
    const { where, values } = filterSql(owner, filter)
    const { column, cast } = SORT_COLUMNS[sort.key]
    const direction = sort.descending ? 'DESC' : 'ASC'
    let position = ''
    if (after) {
      values.push(after.value, after.id)
      position = ` AND (${column}, id COLLATE "C") ${sort.descending ? '<' : '>'} ($${String(values.length - 1)}${cast}, $${String(values.length)})`
    }
    values.push(limit)
    const rows = await this.#query<EntryRow>(
      `SELECT ${READ_COLUMNS} FROM address_entries WHERE ${where}${position}
       ORDER BY ${column} ${direction}, id COLLATE "C" ${direction} LIMIT $${String(values.length)}`,
      values,
    )
    return rows.map(toStoredEntry)
  }

  async listStamps(owner: string, limit: number, after?: { readonly createdAt: string; readonly id: string }): Promise<EntryStamp[]> {
    const rows = await this.#query<StampRow>(LIST_STAMPS, [owner, after?.createdAt ?? '-infinity', after?.id ?? '', limit])
    return rows.map((row) => ({
      id: row.id,
      version: row.version,
      createdAt: row.created,
      updatedAt: row.updated,
      ...(row.card_name === null ? {} : { name: row.card_name }),
    }))
  }

  async count(owner: string, filter: EntryFilter): Promise<number> {
    const { where, values } = filterSql(owner, filter)
    const rows = await this.#query<{ total: number }>(`SELECT count(*)::integer AS total FROM address_entries WHERE ${where}`, values)
    return rows[0]?.total ?? 0
  }

  async labelCounts(owner: string): Promise<LabelCount[]> {
    return this.#query<LabelCount>(LABEL_COUNTS, [owner, LABEL_NAME])
  }

  /** One statement, so both from one snapshot. */
  async changePosition(owner: string): Promise<ChangePosition> {
    const rows = await this.#query<{ latest: string; forgotten_through: string }>(CHANGE_POSITION, [owner])
    return { latest: Number(rows[0]?.latest ?? 0), forgottenThrough: Number(rows[0]?.forgotten_through ?? 0) }
  }

  /**
   * One statement, so entries and tombstones from one snapshot; each side walks its seq index and
   * stops at the limit. A tombstone whose id has an entry again is left out (see CREATE_ENTRIES).
   */
  async changesSince(owner: string, since: number, limit: number): Promise<ChangePage> {
    const rows = await this.#query<ChangeRow>(CHANGES_SINCE, [owner, since, limit + 1])
    return { changes: rows.slice(0, limit).map((row) => toStoredChange(owner, row)), more: rows.length > limit }
  }

  /**
   * One transaction. It locks the counters of the owners concerned first, in one order, as every
   * writer does before it touches a tombstone: no writer and no other pruning can deadlock with it.
   * A tombstone whose id has an entry again (see CREATE_ENTRIES) goes too, but it was no longer a
   * deletion: it is not counted, and does not raise forgotten_through.
   */
  async forgetDeletionsBefore(before: string): Promise<number> {
    return this.#transaction(async (client) => {
      const { rows: owners } = await client.query<{ owner: string }>(
        `SELECT owner FROM change_counters WHERE owner IN (SELECT owner FROM tombstones WHERE deleted_at < $1) ORDER BY owner FOR UPDATE`,
        [before],
      )
      if (owners.length === 0) return { keep: true, value: 0 }
      const { rows } = await client.query<{ forgotten: number }>(
        `WITH pruned AS (
           DELETE FROM tombstones WHERE owner = ANY($2::text[]) AND deleted_at < $1 RETURNING owner, id, seq
         ),
         forgotten AS (
           SELECT owner, seq FROM pruned
           WHERE NOT EXISTS (SELECT FROM address_entries WHERE address_entries.owner = pruned.owner AND address_entries.id = pruned.id)
         ),
         raised AS (
           UPDATE change_counters SET forgotten_through = greatest(forgotten_through, highest.seq)
           FROM (SELECT owner, max(seq) AS seq FROM forgotten GROUP BY owner) AS highest
           WHERE change_counters.owner = highest.owner
         )
         SELECT count(*)::integer AS forgotten FROM forgotten`,
        [before, owners.map((row) => row.owner)],
      )
      return { keep: true, value: rows[0]?.forgotten ?? 0 }
    })
  }

  /**
   * One statement claims the key or leaves it; a second reads who holds it. Should the record go
   * away in between (released, or forgotten), the claim is tried again.
   */
  async claimIdempotencyKey(
    owner: string,
    key: string,
    fingerprint: string,
    { now, leaseUntil, expiresAt }: { now: string; leaseUntil: string; expiresAt: string },
  ): Promise<IdempotencyClaim> {
    for (let attempt = 1; ; attempt++) {
      const claimed = await this.#query(
        `INSERT INTO idempotency_keys (owner, key, fingerprint, result, lease_until, expires_at) VALUES ($1, $2, $3, NULL, $5, $6)
         ON CONFLICT (owner, key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, result = NULL, lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at <= $4 OR (idempotency_keys.result IS NULL AND idempotency_keys.lease_until <= $4)
         RETURNING true AS claimed`,
        [owner, key, fingerprint, now, leaseUntil, expiresAt],
      )
      if (claimed.length > 0) return { claimed: true }
      const [held] = await this.#query<{ fingerprint: string; result: string | null }>(
        'SELECT fingerprint, result FROM idempotency_keys WHERE owner = $1 AND key = $2',
        [owner, key],
      )
      if (held) return { claimed: false, record: held.result === null ? { fingerprint: held.fingerprint } : { fingerprint: held.fingerprint, result: held.result } }
      if (attempt === 3) throw new StoreUnavailableError({ cause: new Error('an idempotency key changed hands three times while it was claimed') })
    }
  }

  async releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    await this.#query('DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND result IS NULL', [owner, key])
  }

  async forgetIdempotencyKeysBefore(now: string): Promise<number> {
    const rows = await this.#query<{ forgotten: number }>(
      'WITH forgotten AS (DELETE FROM idempotency_keys WHERE expires_at <= $1 RETURNING 1) SELECT count(*)::integer AS forgotten FROM forgotten',
      [now],
    )
    return rows[0]?.forgotten ?? 0
  }

  async createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    await this.#query(
      'INSERT INTO api_keys (id, owner, scope, label, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [key.id, key.owner, key.scope, key.label, key.secretHash, key.createdAt],
    )
    return { ...key, lastUsedAt: null, revokedAt: null }
  }

  async findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.#query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id])
    return rows[0] && toApiKeyRecord(rows[0])
  }

  async listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    const rows =
      owner === undefined
        ? await this.#query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`, [])
        : await this.#query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE owner = $1 ORDER BY created_at, id`, [owner])
    return rows.map(toApiKeyRecord)
  }

  async revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.#query<ApiKeyRow>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
      [id, at],
    )
    return rows[0] && toApiKeyRecord(rows[0])
  }

  async touchApiKey(id: string, at: string): Promise<void> {
    await this.#query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, at])
  }

  /** Connections in the pool: open, idle, and callers waiting for one. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end()
  }

  /**
   * Runs `work` in a transaction on one connection: committed when it resolves `keep`, rolled
   * back when not, or when it rejects.
   */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<{ keep: boolean; value: T }>): Promise<T> {
    await this.open()
    return this.#guard(async () => {
      const client = await this.#pool.connect()
      // See migrate: a checked-out client that loses its server emits 'error' beside failing its query.
      const ignore = () => undefined
      client.on('error', ignore)
      let broken: Error | undefined
      try {
        await client.query('BEGIN')
        const { keep, value } = await work(client)
        await client.query(keep ? 'COMMIT' : 'ROLLBACK')
        return value
      } catch (error) {
        // A connection that lost its server (or stopped hearing from it) is destroyed rather than
        // returned to the pool: the server ends its transaction. Asking it to roll back would
        // only wait for another timeout.
        if (isUnavailable(error)) {
          broken = error instanceof Error ? error : new Error(String(error))
        } else {
          await client.query('ROLLBACK').catch((rollback: unknown) => {
            broken = rollback instanceof Error ? rollback : new Error(String(rollback))
          })
        }
        throw error
      } finally {
        client.off('error', ignore)
        client.release(broken)
      }
    })
  }

  async #query<Row extends object = object>(sql: string | Statement, values: unknown[]): Promise<Row[]> {
    await this.open()
    const result = await this.#guard(() => this.#pool.query<Row>(typeof sql === 'string' ? { text: sql, values } : { ...sql, values }))
    return result.rows
  }

  /** Turns "the server is not there" into StoreUnavailableError; other errors pass unchanged. */
  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError({ cause: error })
      throw error
    }
  }
}

/**
 * SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57 (operator
 * intervention: shutdown, cancelled statement) and 40001/40P01, plus Node socket errors and
 * node-postgres's own timeouts.
 */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') {
    if (/^(08|53|57)/.test(code) || code === '40001' || code === '40P01') return true
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true
  }
  return /timeout|terminated|Connection ended|not queryable|Client has encountered a connection error/i.test(error.message)
}

/** UPDATE_ENTRY found the entry but changed nothing: a write of it committed after the statement's snapshot. */
function isStale(row: UpdateRow | undefined): boolean {
  return row?.version === null && row.locked
}

/** The unique violation of an entry's id or card name: another write took it after the statement's snapshot. */
function isTakenMeanwhile(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '23505' && (error.constraint === 'address_entries_pkey' || isNameTaken(error))
}

/** The unique violation of a card name: another entry of the owner holds it. */
function isNameTaken(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '23505' && error.constraint === 'address_entries_by_card_name'
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  // A checked-out client that loses its server emits 'error' beside failing its query; unheard,
  // that event would crash the process. The failed query reports the problem; this swallows the echo.
  const ignore = () => undefined
  client.on('error', ignore)
  let failure: Error | undefined
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query(
      'CREATE TABLE IF NOT EXISTS addrservice_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0)::integer AS version FROM addrservice_migrations')
    const applied = rows[0]?.version ?? 0
    if (applied > POSTGRES_MIGRATIONS.length) {
      throw new Error(
        `database schema version ${String(applied)} is newer than this addrservice knows (${String(POSTGRES_MIGRATIONS.length)})`,
      )
    }
    for (const [index, migration] of POSTGRES_MIGRATIONS.entries()) {
      if (index < applied) continue
      if (typeof migration === 'string') await client.query(migration)
      else await migration(client)
      await client.query('INSERT INTO addrservice_migrations (version) VALUES ($1)', [index + 1])
    }
    await client.query('COMMIT')
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error))
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.off('error', ignore)
    // A client that failed is destroyed rather than returned to the pool.
    client.release(failure)
  }
}

/** Sorting columns, with the cast a position's text needs to compare with them. Text sorts by code point ("C"), as in SQLite. */
const SORT_COLUMNS: Record<SortKey, { column: string; cast: string }> = {
  full_name: { column: 'sort_name COLLATE "C"', cast: '' },
  created: { column: 'created_at', cast: '::timestamptz' },
  updated: { column: 'updated_at', cast: '::timestamptz' },
}

/** The WHERE clause of a listing: the owner, each exact term (indexed), and the search (trigram index). */
function filterSql(owner: string, filter: EntryFilter): { where: string; values: unknown[] } {
  const values: unknown[] = [owner]
  const clauses = ['owner = $1']
  for (const term of filter.terms) {
    values.push(term.field, term.value)
    clauses.push(`id IN (SELECT entry_id FROM entry_terms WHERE owner = $1 AND field = $${String(values.length - 1)} AND value = $${String(values.length)})`)
  }
  if (filter.q !== undefined) {
    values.push(likePattern(filter.q))
    clauses.push(`search_text LIKE $${String(values.length)} ESCAPE '\\'`)
  }
  return { where: clauses.join(' AND '), values }
}

function toApiKeyRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    owner: row.owner,
    scope: row.scope,
    label: row.label,
    secretHash: row.secret_hash,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  }
}

/** Rows as CREATE_ENTRIES reads them: JSON, each with its place (from 1) among them. */
function rowsJson(rows: readonly NewRow[], first = 1): string {
  return JSON.stringify(rows.map((row, index) => ({ ...row, place: first + index })))
}

/** The rows of many entries as CREATE_ENTRIES reads them, made a slice of time at a time. */
async function rowsJsonInSlices(entries: readonly NewEntry[], source: ChangeSource | undefined): Promise<string> {
  const slice = new TimeSlice()
  const parts: string[] = []
  let rows: NewRow[] = []
  let made = 0
  const flush = () => {
    if (rows.length > 0) parts.push(rowsJson(rows, made - rows.length + 1).slice(1, -1))
    rows = []
  }
  for (const { id, entry, card, photo } of entries) {
    rows.push(toNewRow(id, entry, keptCard(card), photo, source))
    made++
    if (slice.due()) {
      flush()
      await slice.pause()
    }
  }
  flush()
  return `[${parts.join(',')}]`
}

function toNewRow(id: string, entry: AddressEntry, card: CardData | undefined, photo?: PhotoData, source?: ChangeSource): NewRow {
  const { sortName, searchText, terms } = indexEntry(entry)
  return {
    id,
    entry,
    sort_name: sortName,
    search_text: searchText,
    terms,
    card_name: card?.name,
    card_uid: card?.uid,
    card_kept: card?.kept,
    source,
    ...(photo ? { photo_etag: photo.etag, photo_type: photo.contentType, photo_image: base64Of(photo.image), photo_thumbnail: base64Of(photo.thumbnail) } : {}),
  }
}

/** The id of the entry that first gives a card name that a later one gives again. */
function firstNameGivenTwice(entries: readonly NewEntry[]): string | undefined {
  const holders = new Map<string, string>()
  for (const { id, card } of entries) {
    if (card?.name === undefined) continue
    const holder = holders.get(card.name)
    if (holder !== undefined) return holder
    holders.set(card.name, id)
  }
  return undefined
}

/** The first id that cannot be created: not free, or given a second time. */
function firstClash(ids: readonly string[], free: ReadonlySet<string>): string | undefined {
  const seen = new Set<string>()
  for (const id of ids) {
    if (seen.has(id) || !free.has(id)) return id
    seen.add(id)
  }
  return undefined
}

function toStoredChange(owner: string, row: ChangeRow): StoredChange {
  const seq = Number(row.seq)
  if (row.entry === null || row.version === null || row.created_at === null || row.updated_at === null) {
    return { seq, id: row.id, kind: 'deleted', ...(row.card_name === null ? {} : { name: row.card_name }) }
  }
  const { photo_etag, card_name, card_uid, card_kept } = row
  const stored = toStoredEntry({ id: row.id, owner, version: row.version, created_at: row.created_at, updated_at: row.updated_at, entry: row.entry, photo_etag, card_name, card_uid, card_kept })
  return { seq, id: row.id, kind: row.created ? 'created' : 'updated', stored }
}

function toStoredEntry(row: EntryRow): StoredEntry {
  const card = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
  return {
    id: row.id,
    owner: row.owner,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    entry: row.entry,
    ...(card ? { card } : {}),
    ...photoOf(row.photo_etag),
  }
}

/** A version read from history (or the entry's current one, whose seq is the highest there is) as the store gives it. */
function toStoredVersion(id: string, row: VersionRow): StoredVersion {
  const card = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
  return {
    seq: row.seq === null ? CURRENT_VERSION_SEQ : Number(row.seq),
    id,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    ...(row.replaced_at ? { replacedAt: row.replaced_at.toISOString() } : {}),
    deleted: row.deleted,
    source: row.source,
    entry: row.entry,
    ...(card ? { card } : {}),
    ...photoOf(row.photo_etag),
  }
}

function toTrashedEntry(row: TrashRow): TrashedEntry {
  const card = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
  return {
    id: row.id,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    deletedAt: row.replaced_at.toISOString(),
    entry: row.entry,
    ...(card ? { card } : {}),
    ...photoOf(row.photo_etag),
  }
}

/** A version of history as PUT_VERSIONS gives it to an entry again: at `version`, created at `createdAt`, its index derived again. */
function restoredRow(
  id: string,
  kept: Pick<KeptRow, 'entry' | 'card_name' | 'card_uid' | 'card_kept' | 'photo_etag'>,
  version: number,
  createdAt: Date,
  place: number,
): RestoredRow {
  const { sortName, searchText, terms } = indexEntry(kept.entry)
  return {
    id,
    version,
    created_at: createdAt.toISOString(),
    entry: kept.entry,
    sort_name: sortName,
    search_text: searchText,
    terms,
    card_name: kept.card_name,
    card_uid: kept.card_uid,
    card_kept: kept.card_kept,
    photo_etag: kept.photo_etag,
    place,
  }
}

function photoOf(etag: string | null): { photo?: PhotoStamp } {
  return etag === null ? {} : { photo: { etag } }
}
