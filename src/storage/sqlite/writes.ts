import Database from 'better-sqlite3'
import type { AddressEntry } from '../../domain/address-entry.js'
import { indexEntry, type EntryIndex } from '../../domain/listing.js'
import type { ChangeSource } from '../../domain/vocabulary.js'
import type { BookRestore, CardData, NewApiKey, PhotoData } from '../store.js'
import { base64Of } from '../../lib/bytes.js'
import { cardFromColumns } from '../card-data.js'
import { trigramTokens } from './trigrams.js'

/**
 * Every write the SQLite store makes, as plain data: what the writer thread receives. Timestamps,
 * JSON and index terms are computed by the caller, so that the writer only writes. Restores are
 * the exception: what they write is read in the writer's own transaction, so the writer indexes
 * it, and nothing can change between the read and the write.
 */
export type WriteOp =
  | {
      readonly kind: 'create'
      readonly owner: string
      readonly now: string
      readonly source: ChangeSource
      readonly items: NewRows
      /** The result to record under the idempotency key the write answers, with the write. */
      readonly idempotency?: { readonly key: string; readonly result: string } | undefined
    }
  | {
      readonly kind: 'update'
      readonly owner: string
      readonly id: string
      readonly now: string
      readonly source: ChangeSource
      readonly entry: string
      readonly index: EntryIndex
      /** A JSON list of the versions the write is conditional on, or null for none. */
      readonly versions: string | null
      /** The card data to store instead of the entry's: null removes it; undefined keeps it. */
      readonly card?: CardData | null | undefined
      /** The photo to store instead of the entry's: null removes it; undefined keeps it. */
      readonly photo?: PhotoData | null | undefined
    }
  | {
      readonly kind: 'updateMany'
      readonly owner: string
      readonly now: string
      readonly source: ChangeSource
      /** Each entry's new JSON and index, and a JSON list of the versions it may be at. */
      readonly items: readonly { readonly id: string; readonly entry: string; readonly index: EntryIndex; readonly versions: string }[]
    }
  | { readonly kind: 'delete'; readonly owner: string; readonly id: string; readonly now: string; readonly versions: string | null }
  | {
      readonly kind: 'setPhoto'
      readonly owner: string
      readonly id: string
      readonly now: string
      readonly source: ChangeSource
      readonly versions: string | null
      /** The photo, or null to remove the entry's. */
      readonly photo: PhotoData | null
    }
  | {
      readonly kind: 'restoreVersion'
      readonly owner: string
      readonly id: string
      /** The seq of the version in entry_history. */
      readonly seq: number
      readonly now: string
      readonly versions: string | null
    }
  | { readonly kind: 'restoreFromTrash'; readonly owner: string; readonly id: string; readonly now: string }
  /** Without an id: the owner's whole trash. */
  | { readonly kind: 'emptyTrash'; readonly owner: string; readonly id: string | null }
  | { readonly kind: 'restoreBook'; readonly owners: readonly string[]; readonly at: string; readonly now: string; readonly preview: boolean }
  | { readonly kind: 'forgetHistory'; readonly before: string; readonly keep: number }
  | { readonly kind: 'forgetDeletions'; readonly before: string }
  | {
      readonly kind: 'claimIdempotencyKey'
      readonly owner: string
      readonly key: string
      readonly fingerprint: string
      readonly now: string
      readonly leaseUntil: string
      readonly expiresAt: string
    }
  | { readonly kind: 'releaseIdempotencyKey'; readonly owner: string; readonly key: string }
  | { readonly kind: 'forgetIdempotencyKeys'; readonly now: string }
  | { readonly kind: 'createApiKey'; readonly key: NewApiKey }
  | { readonly kind: 'revokeApiKey'; readonly id: string; readonly at: string }
  | { readonly kind: 'touchApiKey'; readonly id: string; readonly at: string }

export interface NewRow {
  readonly id: string
  readonly entry: string
  readonly index: EntryIndex
  readonly card?: CardData | undefined
  /** Its photo, the images as base64: rows travel as JSON when packed. */
  readonly photo?: PackedPhoto | undefined
}

export interface PackedPhoto {
  readonly etag: string
  readonly contentType: string
  readonly image: string
  readonly thumbnail: string
}

export function packedPhoto({ etag, contentType, image, thumbnail }: PhotoData): PackedPhoto {
  return { etag, contentType, image: base64Of(image), thumbnail: base64Of(thumbnail) }
}

function unpackedPhoto({ etag, contentType, image, thumbnail }: PackedPhoto): PhotoData {
  return { etag, contentType, image: Buffer.from(image, 'base64'), thumbnail: Buffer.from(thumbnail, 'base64') }
}

/**
 * The rows a create stores: as they are, or, for an import of many, packed as UTF-8 JSON of
 * NewRow[] in chunks, which cross to the writer thread without a copy (copying 200,000 rows as
 * objects would hold the event loop for a third of a second).
 */
export type NewRows = readonly NewRow[] | { readonly packed: readonly Uint8Array[] }

const UTF8 = new TextDecoder()

/** The rows of a create, unpacked where they came packed. */
export function rowsOf(items: NewRows): readonly NewRow[] {
  if (!('packed' in items)) return items
  return items.packed.flatMap((chunk) => JSON.parse(UTF8.decode(chunk)) as NewRow[])
}

/** What a batch of writes can hand over to the writer thread rather than copy. */
export function transferablesOf(batch: readonly WriteOp[]): ArrayBuffer[] {
  return batch.flatMap((op) => (op.kind === 'create' && 'packed' in op.items ? op.items.packed.map((chunk) => chunk.buffer as ArrayBuffer) : []))
}

/** Why a write failed, as it crosses from the writer thread (an Error's own members do not). */
export interface WriteFailure {
  readonly message: string
  readonly code?: string
  /** The id of an entry that already exists, or that holds the card name, when that is why. */
  readonly takenId?: string
}

/** What the writer answers for an update that found its entry. */
export interface UpdatedRow {
  version: number
  createdAt: string
  updatedAt: string
  cardName: string | null
  cardUid: string | null
  cardKept: string | null
  photoEtag: string | null
}

/** An entry's columns, as the store reads them. */
export interface EntryColumns {
  id: string
  owner: string
  version: number
  created_at: string
  updated_at: string
  entry: string
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
}

/** A version's columns in entry_history, as the store reads them. */
export interface VersionColumns {
  seq: number
  id: string
  version: number
  created_at: string
  updated_at: string
  replaced_at: string
  deleted: number
  source: ChangeSource
  entry: string
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
}

/** An entry's columns, its card data last: a large one is read past only when it is asked for. */
export const ENTRY_COLUMNS = 'id, owner, version, created_at, updated_at, entry, photo_etag, card_name, card_uid, card_kept'

/** A version's columns, its card data last, as for an entry. */
export const VERSION_COLUMNS = 'seq, id, version, created_at, updated_at, replaced_at, deleted, source, entry, photo_etag, card_name, card_uid, card_kept'

/** What an entry held, from its row or a version's: what a restore compares and writes. */
type Content = Pick<EntryColumns, 'id' | 'version' | 'created_at' | 'updated_at' | 'entry' | 'photo_etag' | 'card_name' | 'card_uid' | 'card_kept'>

/** A new version of an entry, as an update or a restore writes it. */
interface Replacement {
  readonly owner: string
  readonly id: string
  readonly now: string
  readonly source: ChangeSource
  readonly entry: string
  readonly index: EntryIndex
  readonly versions: string | null
  /** The card data to store instead of the entry's: null removes it; undefined keeps it. */
  readonly card?: CardData | null | undefined
  /** The entity tag of the photo to give the entry: null for none; undefined keeps the one it has. */
  readonly photoEtag?: string | null | undefined
}

export type WriteOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly failure: WriteFailure }

export const KEY_COLUMNS = 'id, owner, scope, label, secret_hash, created_at, last_used_at, revoked_at'

/**
 * The statements of every write, prepared once on one connection, and `commit`: a batch of writes
 * in one transaction, so one sync to disk makes them all durable. Each write runs in a savepoint
 * of its own: one that fails is undone alone and reported, the others commit.
 */
export class Writes {
  readonly #db: Database.Database
  readonly #advance: Database.Statement<[{ owner: string; count: number }], { latest: number }>
  readonly #insert: Database.Statement<
    [string, string, number, string, string, string, string, string, number, number, string | null, string | null, string | null, string | null, ChangeSource],
    { seq: number }
  >
  readonly #keep: Database.Statement<[{ owner: string; id: string; versions: string | null; now: string; deleted: number }]>
  readonly #update: Database.Statement<
    [
      {
        entry: string
        updatedAt: string
        sortName: string
        searchText: string
        source: ChangeSource
        owner: string
        id: string
        versions: string | null
        keepCard: number
        cardName: string | null
        cardUid: string | null
        cardKept: string | null
        keepPhoto: number
        photoEtag: string | null
      },
    ],
    { seq: number; version: number; created_at: string; updated_at: string; card_name: string | null; card_uid: string | null; card_kept: string | null; photo_etag: string | null }
  >
  readonly #delete: Database.Statement<[{ owner: string; id: string; versions: string | null }], { seq: number; card_name: string | null }>
  readonly #selectVersion: Database.Statement<[string, string], { version: number }>
  readonly #selectEntry: Database.Statement<[string, string], EntryColumns>
  readonly #setPhotoEtag: Database.Statement<
    [{ owner: string; id: string; now: string; source: ChangeSource; versions: string | null; etag: string | null }],
    EntryColumns & { seq: number }
  >
  readonly #putPhoto: Database.Statement<[string, string, string, string, Uint8Array, Uint8Array]>
  readonly #latestVersion: Database.Statement<[string, string], VersionColumns>
  readonly #versionBySeq: Database.Statement<[number, string, string], VersionColumns>
  readonly #versionAt: Database.Statement<[{ owner: string; id: string; at: string }], VersionColumns>
  readonly #changedSince: Database.Statement<[{ owner: string; at: string }], { id: string }>
  readonly #clearName: Database.Statement<[string, string]>
  readonly #trash: Database.Statement<[string], { id: string }>
  readonly #trashBefore: Database.Statement<[string], { owner: string; id: string }>
  readonly #forgetVersions: Database.Statement<[string, string]>
  readonly #forgetPhotos: Database.Statement<[string, string]>
  readonly #forgetOldVersions: Database.Statement<[{ before: string; keep: number }], { owner: string; id: string }>
  readonly #forgetUnusedPhotos: Database.Statement<[{ owner: string; id: string }]>
  readonly #insertTombstone: Database.Statement<[string, string, number, string, string | null]>
  readonly #selectByName: Database.Statement<[string, string], { id: string }>
  readonly #deleteTombstone: Database.Statement<[string, string]>
  readonly #raiseForgotten: Database.Statement<[string]>
  readonly #forgetTombstones: Database.Statement<[string]>
  readonly #insertTerm: Database.Statement<[number, string, string, string]>
  readonly #deleteTerms: Database.Statement<[number]>
  readonly #selectTag: Database.Statement<[string], { tag: number }>
  readonly #insertTag: Database.Statement<[string], { tag: number }>
  readonly #insertTrigrams: Database.Statement<[number, string]>
  readonly #deleteTrigrams: Database.Statement<[number]>
  readonly #claimKey: Database.Statement<
    [{ owner: string; key: string; fingerprint: string; now: string; leaseUntil: string; expiresAt: string }],
    { claimed: number }
  >
  readonly #selectKey: Database.Statement<[string, string], { fingerprint: string; result: string | null }>
  readonly #recordResult: Database.Statement<[string, string, string]>
  readonly #releaseKey: Database.Statement<[string, string]>
  readonly #forgetKeys: Database.Statement<[string]>
  readonly #insertKey: Database.Statement<[string, string, string, string | null, string, string]>
  readonly #revokeKey: Database.Statement<[string, string]>
  readonly #touchKey: Database.Statement<[string, string]>

  constructor(db: Database.Database) {
    this.#db = db
    this.#advance = db.prepare(
      `INSERT INTO change_counters (owner, latest) VALUES (@owner, @count)
       ON CONFLICT (owner) DO UPDATE SET latest = latest + excluded.latest RETURNING latest`,
    )
    this.#insert = db.prepare(
      `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, search_text, entry, created_seq, changed_seq, card_name, card_uid, card_kept, photo_etag, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
    )
    // The entry as it is, copied into its history by the write that replaces or deletes it, under
    // that write's own conditions: a write that will not apply copies nothing.
    this.#keep = db.prepare(
      `INSERT INTO entry_history (owner, id, version, created_at, updated_at, replaced_at, deleted, source, search_text, entry, photo_etag, card_name, card_uid, card_kept)
       SELECT owner, id, version, created_at, updated_at, @now, @deleted, source, search_text, entry, photo_etag, card_name, card_uid, card_kept
       FROM address_entries WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))`,
    )
    // The update takes the owner's next place itself, so that an update that matches nothing
    // takes none; the counter is advanced to it right after, in the same transaction.
    this.#update = db.prepare(
      `UPDATE address_entries SET entry = @entry, version = version + 1, updated_at = @updatedAt, sort_name = @sortName, search_text = @searchText, source = @source,
         changed_seq = (SELECT latest + 1 FROM change_counters WHERE owner = @owner),
         card_name = CASE WHEN @keepCard THEN card_name ELSE @cardName END,
         card_uid = CASE WHEN @keepCard THEN card_uid ELSE @cardUid END,
         card_kept = CASE WHEN @keepCard THEN card_kept ELSE @cardKept END,
         photo_etag = CASE WHEN @keepPhoto THEN photo_etag ELSE @photoEtag END
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, version, created_at, updated_at, card_name, card_uid, card_kept, photo_etag`,
    )
    this.#setPhotoEtag = db.prepare(
      `UPDATE address_entries SET version = version + 1, updated_at = @now, photo_etag = @etag, source = @source,
         changed_seq = (SELECT latest + 1 FROM change_counters WHERE owner = @owner)
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, id, owner, version, created_at, updated_at, entry, photo_etag, card_name, card_uid, card_kept`,
    )
    // A photo the entry, or a version of it, already has is there already: the same tag, the same bytes.
    this.#putPhoto = db.prepare(
      `INSERT INTO photos (owner, id, etag, content_type, thumbnail, image) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (owner, id, etag) DO NOTHING`,
    )
    this.#delete = db.prepare(
      `DELETE FROM address_entries
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, card_name`,
    )
    this.#selectVersion = db.prepare('SELECT version FROM address_entries WHERE owner = ? AND id = ?')
    this.#selectEntry = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM address_entries WHERE owner = ? AND id = ?`)
    this.#latestVersion = db.prepare(`SELECT ${VERSION_COLUMNS} FROM entry_history WHERE owner = ? AND id = ? ORDER BY seq DESC LIMIT 1`)
    this.#versionBySeq = db.prepare(`SELECT ${VERSION_COLUMNS} FROM entry_history WHERE seq = ? AND owner = ? AND id = ?`)
    // The version that was the entry's at `at`: made by then, and replaced (or deleted) after.
    this.#versionAt = db.prepare(
      `SELECT ${VERSION_COLUMNS} FROM entry_history
       WHERE owner = @owner AND id = @id AND updated_at <= @at AND replaced_at > @at ORDER BY seq DESC LIMIT 1`,
    )
    // Every version replaced since `at` was replaced by one made since, which is the entry now or
    // was replaced since in turn: following them ends at an entry changed since, or at a deletion
    // since. So these two indexed ranges find every entry with a version replaced since.
    this.#changedSince = db.prepare(
      `SELECT id FROM address_entries WHERE owner = @owner AND updated_at > @at
       UNION
       SELECT id FROM entry_history WHERE owner = @owner AND deleted = 1 AND replaced_at > @at
       ORDER BY id`,
    )
    this.#clearName = db.prepare('UPDATE address_entries SET card_name = NULL WHERE owner = ? AND id = ?')
    // An entry is in the trash while its latest version is a deleted one and its id is not taken again.
    this.#trash = db.prepare(
      `SELECT id FROM entry_history AS h
       WHERE h.owner = ? AND h.deleted = 1
         AND h.seq = (SELECT max(later.seq) FROM entry_history AS later WHERE later.owner = h.owner AND later.id = h.id)
         AND NOT EXISTS (SELECT 1 FROM address_entries AS e WHERE e.owner = h.owner AND e.id = h.id)`,
    )
    this.#trashBefore = db.prepare(
      `SELECT owner, id FROM entry_history AS h
       WHERE h.deleted = 1 AND h.replaced_at < ?
         AND h.seq = (SELECT max(later.seq) FROM entry_history AS later WHERE later.owner = h.owner AND later.id = h.id)
         AND NOT EXISTS (SELECT 1 FROM address_entries AS e WHERE e.owner = h.owner AND e.id = h.id)`,
    )
    this.#forgetVersions = db.prepare('DELETE FROM entry_history WHERE owner = ? AND id = ?')
    this.#forgetPhotos = db.prepare('DELETE FROM photos WHERE owner = ? AND id = ?')
    // A version goes when it was replaced before the time and `keep` later ones of its entry
    // remain; counting them stops at `keep`, so a long history costs no more per version.
    this.#forgetOldVersions = db.prepare(
      `DELETE FROM entry_history AS h
       WHERE h.replaced_at < @before
         AND (SELECT count(*) FROM (SELECT 1 FROM entry_history AS later WHERE later.owner = h.owner AND later.id = h.id AND later.seq > h.seq LIMIT @keep)) >= @keep
       RETURNING owner, id`,
    )
    this.#forgetUnusedPhotos = db.prepare(
      `DELETE FROM photos
       WHERE owner = @owner AND id = @id
         AND etag IS NOT (SELECT photo_etag FROM address_entries WHERE owner = @owner AND id = @id)
         AND etag NOT IN (SELECT photo_etag FROM entry_history WHERE owner = @owner AND id = @id AND photo_etag IS NOT NULL)`,
    )
    this.#insertTombstone = db.prepare('INSERT INTO tombstones (owner, id, seq, deleted_at, card_name) VALUES (?, ?, ?, ?, ?)')
    this.#selectByName = db.prepare('SELECT id FROM address_entries WHERE owner = ? AND card_name = ?')
    this.#deleteTombstone = db.prepare('DELETE FROM tombstones WHERE owner = ? AND id = ?')
    this.#raiseForgotten = db.prepare(
      `UPDATE change_counters SET forgotten_through = max(forgotten_through, forgotten.seq)
       FROM (SELECT owner, max(seq) AS seq FROM tombstones WHERE deleted_at < ? GROUP BY owner) AS forgotten
       WHERE change_counters.owner = forgotten.owner`,
    )
    this.#forgetTombstones = db.prepare('DELETE FROM tombstones WHERE deleted_at < ?')
    this.#insertTerm = db.prepare('INSERT OR IGNORE INTO entry_terms (seq, owner, field, value) VALUES (?, ?, ?, ?)')
    this.#deleteTerms = db.prepare('DELETE FROM entry_terms WHERE seq = ?')
    this.#selectTag = db.prepare('SELECT tag FROM search_owners WHERE owner = ?')
    this.#insertTag = db.prepare('INSERT INTO search_owners (owner) VALUES (?) RETURNING tag')
    this.#insertTrigrams = db.prepare('INSERT INTO entry_trigrams (rowid, tokens) VALUES (?, ?)')
    this.#deleteTrigrams = db.prepare('DELETE FROM entry_trigrams WHERE rowid = ?')
    // A row comes back only when the key is this request's now: new, or taken over.
    this.#claimKey = db.prepare(
      `INSERT INTO idempotency_keys (owner, key, fingerprint, result, lease_until, expires_at)
       VALUES (@owner, @key, @fingerprint, NULL, @leaseUntil, @expiresAt)
       ON CONFLICT (owner, key) DO UPDATE
         SET fingerprint = excluded.fingerprint, result = NULL, lease_until = excluded.lease_until, expires_at = excluded.expires_at
         WHERE expires_at <= @now OR (result IS NULL AND lease_until <= @now)
       RETURNING 1 AS claimed`,
    )
    this.#selectKey = db.prepare('SELECT fingerprint, result FROM idempotency_keys WHERE owner = ? AND key = ?')
    this.#recordResult = db.prepare('UPDATE idempotency_keys SET result = ? WHERE owner = ? AND key = ?')
    this.#releaseKey = db.prepare('DELETE FROM idempotency_keys WHERE owner = ? AND key = ? AND result IS NULL')
    this.#forgetKeys = db.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?')
    this.#insertKey = db.prepare(`INSERT INTO api_keys (id, owner, scope, label, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
    this.#revokeKey = db.prepare(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING ${KEY_COLUMNS}`)
    this.#touchKey = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?')
  }

  /** Writes the batch in one transaction; resolves each write's outcome once it is committed. */
  commit(batch: readonly WriteOp[]): WriteOutcome[] {
    const outcomes: WriteOutcome[] = []
    try {
      this.#db.exec('BEGIN IMMEDIATE')
    } catch (error) {
      return batch.map(() => ({ ok: false, failure: failureOf(error) }))
    }
    try {
      for (const op of batch) {
        this.#db.exec('SAVEPOINT write')
        try {
          outcomes.push({ ok: true, value: this.#apply(op) })
          this.#db.exec('RELEASE write')
        } catch (error) {
          this.#db.exec('ROLLBACK TO write')
          this.#db.exec('RELEASE write')
          outcomes.push({ ok: false, failure: failureOf(error, op.kind === 'create' ? this.#taken : undefined) })
        }
      }
      this.#db.exec('COMMIT')
      return outcomes
    } catch (error) {
      // The commit itself failed (the disk, say): nothing of the batch is stored.
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      return batch.map(() => ({ ok: false, failure: failureOf(error) }))
    }
  }

  /**
   * Replaces an entry (if at one of the versions), its index, its card data unless kept and its
   * photo's tag unless kept, the version it replaces kept in its history first (unless `kept`
   * says that is done); undefined when it does not apply.
   */
  #replace(op: Replacement, kept = false): UpdatedRow | undefined {
    const { owner, id, card, photoEtag } = op
    if (!kept && this.#keep.run({ owner, id, versions: op.versions, now: op.now, deleted: 0 }).changes === 0) return undefined
    const row = this.#namedWrite(owner, id, card?.name, () =>
      this.#update.get({
        entry: op.entry,
        updatedAt: op.now,
        sortName: op.index.sortName,
        searchText: op.index.searchText,
        source: op.source,
        owner,
        id,
        versions: op.versions,
        keepCard: card === undefined ? 1 : 0,
        cardName: card?.name ?? null,
        cardUid: card?.uid ?? null,
        cardKept: card?.kept ?? null,
        keepPhoto: photoEtag === undefined ? 1 : 0,
        photoEtag: photoEtag ?? null,
      }),
    )
    if (!row) return undefined
    this.#next(owner, 1)
    this.#clearIndex(row.seq)
    this.#writeIndex(row.seq, owner, this.#tag(owner), op.index)
    return {
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      cardName: row.card_name,
      cardUid: row.card_uid,
      cardKept: row.card_kept,
      photoEtag: row.photo_etag,
    }
  }

  /** Replaces an entry as an update asks, with the bytes of its new photo when it has one. */
  #updateOne(op: Omit<Extract<WriteOp, { kind: 'update' }>, 'kind'>): UpdatedRow | undefined {
    const { photo } = op
    const row = this.#replace({ ...op, photoEtag: photo === undefined ? undefined : (photo?.etag ?? null) })
    if (row && photo) this.#writePhoto(op.owner, op.id, photo)
    return row
  }

  /** Stores a photo of the entry's; one it already has stays as it is. */
  #writePhoto(owner: string, id: string, photo: PhotoData): void {
    this.#putPhoto.run(owner, id, photo.etag, photo.contentType, photo.thumbnail, photo.image)
  }

  /** Deletes an entry (if at one of the versions) to the trash: its last version kept in its history, a tombstone for sync. */
  #deleteOne(owner: string, id: string, now: string, versions: string | null): boolean {
    if (this.#keep.run({ owner, id, versions, now, deleted: 1 }).changes === 0) return false
    const row = this.#delete.get({ owner, id, versions })
    if (!row) throw new Error('an entry kept in its history was not there to delete')
    this.#clearIndex(row.seq)
    this.#insertTombstone.run(owner, id, this.#next(owner, 1), now, row.card_name)
    return true
  }

  /**
   * Creates an entry again under its id, with what it held in a version of its history, at the
   * version after its latest, as a new place in its owner's changes: a creation, for sync.
   */
  #revive(owner: string, content: Content, now: string): void {
    const { id } = content
    const latest = this.#latestVersion.get(owner, id)
    const index = indexEntry(JSON.parse(content.entry) as AddressEntry)
    const seq = this.#next(owner, 1)
    const row = this.#namedWrite(owner, id, content.card_name ?? undefined, () =>
      this.#insert.get(
        id,
        owner,
        (latest?.version ?? content.version) + 1,
        content.created_at,
        now,
        index.sortName,
        index.searchText,
        content.entry,
        seq,
        seq,
        content.card_name,
        content.card_uid,
        content.card_kept,
        content.photo_etag,
        'restore',
      ),
    )
    if (!row) throw new Error('an entry created again was not stored')
    this.#writeIndex(row.seq, owner, this.#tag(owner), index)
    this.#deleteTombstone.run(owner, id)
  }

  /** Gives a live entry what it held in a version, as a new version made through a restore. */
  #restoreContent(owner: string, id: string, content: Content, now: string, versions: string | null, kept = false): UpdatedRow | undefined {
    return this.#replace(
      {
        owner,
        id,
        now,
        source: 'restore',
        entry: content.entry,
        index: indexEntry(JSON.parse(content.entry) as AddressEntry),
        versions,
        card: cardFromColumns(content.card_name, content.card_uid, content.card_kept) ?? null,
        photoEtag: content.photo_etag,
      },
      kept,
    )
  }

  /**
   * Puts one owner's book back as it was at `at` (see AddressBookStore.restoreBook), or with
   * `preview` only tells what that would do. The writer is the only writer, so nothing changes
   * between the reads and the writes. Deletions go first and card names are let go before any is
   * taken, so that entries that traded names, or took a deleted one's, each get their own back.
   */
  #restoreBook(owner: string, at: string, now: string, preview: boolean): BookRestore {
    const trashed: EntryColumns[] = []
    const restored: { live: EntryColumns; then: Content }[] = []
    const recreated: Content[] = []
    for (const { id } of this.#changedSince.all({ owner, at })) {
      const live = this.#selectEntry.get(owner, id)
      const then = live && live.updated_at <= at ? live : this.#versionAt.get({ owner, id, at })
      if (live && !then) trashed.push(live)
      else if (live && then && !sameContent(live, then)) restored.push({ live, then })
      else if (!live && then) recreated.push(then)
    }
    if (!preview) {
      for (const { id } of trashed) this.#deleteOne(owner, id, now, null)
      for (const { live } of restored) this.#keep.run({ owner, id: live.id, versions: null, now, deleted: 0 })
      for (const { live, then } of restored) if (live.card_name !== null && live.card_name !== then.card_name) this.#clearName.run(owner, live.id)
      for (const { live, then } of restored) this.#restoreContent(owner, live.id, then, now, null, true)
      for (const then of recreated) this.#revive(owner, then, now)
    }
    return { restored: restored.map(({ live }) => live.id), trashed: trashed.map(({ id }) => id), recreated: recreated.map(({ id }) => id) }
  }

  /** Forgets trashed entries for good: their history and photos. */
  #forgetEntry(owner: string, id: string): void {
    this.#forgetVersions.run(owner, id)
    this.#forgetPhotos.run(owner, id)
  }

  /** The id the last create was inserting, named when it turns out to be taken. */
  #taken: string | undefined

  #apply(op: WriteOp): unknown {
    switch (op.kind) {
      case 'create': {
        const items = rowsOf(op.items)
        if (items.length > 0) {
          let seq = this.#next(op.owner, items.length) - items.length
          const tag = this.#tag(op.owner)
          for (const item of items) {
            this.#taken = item.id
            seq++
            const { card } = item
            const row = this.#namedWrite(op.owner, item.id, card?.name, () =>
              this.#insert.get(
                item.id,
                op.owner,
                1,
                op.now,
                op.now,
                item.index.sortName,
                item.index.searchText,
                item.entry,
                seq,
                seq,
                card?.name ?? null,
                card?.uid ?? null,
                card?.kept ?? null,
                item.photo?.etag ?? null,
                op.source,
              ),
            )
            if (row) this.#writeIndex(row.seq, op.owner, tag, item.index)
            if (row && item.photo) this.#writePhoto(op.owner, item.id, unpackedPhoto(item.photo))
            this.#deleteTombstone.run(op.owner, item.id)
          }
        }
        if (op.idempotency) this.#recordResult.run(op.idempotency.result, op.owner, op.idempotency.key)
        return undefined
      }
      case 'update':
        return this.#updateOne(op)
      case 'updateMany': {
        // Every entry at one of its versions, or nothing written: the writer is the one writer,
        // so nothing changes between the checks and the writes.
        for (const { id, versions } of op.items) {
          const row = this.#selectVersion.get(op.owner, id)
          if (!row || !(JSON.parse(versions) as number[]).includes(row.version)) return undefined
        }
        return op.items.map((item) => this.#updateOne({ owner: op.owner, now: op.now, source: op.source, ...item }))
      }
      case 'setPhoto': {
        const { owner, id, now, versions, photo } = op
        if (this.#keep.run({ owner, id, versions, now, deleted: 0 }).changes === 0) return undefined
        const row = this.#setPhotoEtag.get({ owner, id, now, source: op.source, versions, etag: photo?.etag ?? null })
        if (!row) return undefined
        this.#next(owner, 1)
        if (photo) this.#writePhoto(owner, id, photo)
        return row
      }
      case 'delete':
        return this.#deleteOne(op.owner, op.id, op.now, op.versions)
      case 'restoreVersion': {
        const version = this.#versionBySeq.get(op.seq, op.owner, op.id)
        if (!version || !this.#restoreContent(op.owner, op.id, version, op.now, op.versions)) return undefined
        return this.#selectEntry.get(op.owner, op.id)
      }
      case 'restoreFromTrash': {
        const latest = this.#latestVersion.get(op.owner, op.id)
        if (latest?.deleted !== 1) return undefined
        if (this.#selectVersion.get(op.owner, op.id)) throw new TakenError(`the entry ${JSON.stringify(op.id)} exists`, op.id)
        this.#revive(op.owner, latest, op.now)
        return this.#selectEntry.get(op.owner, op.id)
      }
      case 'emptyTrash': {
        const { owner, id } = op
        const ids = id === null ? this.#trash.all(owner).map((row) => row.id) : [id].filter((each) => this.#inTrash(owner, each))
        for (const each of ids) this.#forgetEntry(owner, each)
        return ids.length
      }
      case 'restoreBook':
        // Every book in the one op, so that the op's savepoint undoes them all when any fails.
        return op.owners.map((owner) => this.#restoreBook(owner, op.at, op.now, op.preview))
      case 'forgetHistory': {
        let forgotten = 0
        for (const { owner, id } of this.#trashBefore.all(op.before)) {
          forgotten += this.#forgetVersions.run(owner, id).changes
          this.#forgetPhotos.run(owner, id)
        }
        // Only the entries that lost a version can have a photo nothing refers to any more.
        const touched = new Map<string, { owner: string; id: string }>()
        for (const { owner, id } of this.#forgetOldVersions.all({ before: op.before, keep: op.keep })) {
          forgotten++
          touched.set(JSON.stringify([owner, id]), { owner, id })
        }
        for (const entry of touched.values()) this.#forgetUnusedPhotos.run(entry)
        return forgotten
      }
      case 'forgetDeletions':
        this.#raiseForgotten.run(op.before)
        return this.#forgetTombstones.run(op.before).changes
      case 'claimIdempotencyKey': {
        const { owner, key, fingerprint, now, leaseUntil, expiresAt } = op
        if (this.#claimKey.get({ owner, key, fingerprint, now, leaseUntil, expiresAt })) return { claimed: true }
        const held = this.#selectKey.get(owner, key)
        if (!held) throw new Error('an idempotency key that could not be claimed is not there')
        return { claimed: false, record: held.result === null ? { fingerprint: held.fingerprint } : { fingerprint: held.fingerprint, result: held.result } }
      }
      case 'releaseIdempotencyKey':
        this.#releaseKey.run(op.owner, op.key)
        return undefined
      case 'forgetIdempotencyKeys':
        return this.#forgetKeys.run(op.now).changes
      case 'createApiKey': {
        const { key } = op
        this.#insertKey.run(key.id, key.owner, key.scope, key.label, key.secretHash, key.createdAt)
        return undefined
      }
      case 'revokeApiKey':
        return this.#revokeKey.get(op.at, op.id)
      case 'touchApiKey':
        this.#touchKey.run(op.at, op.id)
        return undefined
    }
  }

  /** Whether the entry is in the trash: its latest version deleted, and its id not taken again. */
  #inTrash(owner: string, id: string): boolean {
    return this.#latestVersion.get(owner, id)?.deleted === 1 && !this.#selectVersion.get(owner, id)
  }

  /**
   * Writes an entry that may carry a card name. When the name's unique index refuses it, the
   * failure names the entry that holds the name; a refusal of the id is left as it is.
   */
  #namedWrite<T>(owner: string, id: string, name: string | undefined, write: () => T): T {
    try {
      return write()
    } catch (error) {
      if (name === undefined || !(error instanceof Database.SqliteError) || error.code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error
      const holder = this.#selectByName.get(owner, name)
      if (holder && holder.id !== id) throw new TakenError(`the card name ${JSON.stringify(name)} is the entry ${JSON.stringify(holder.id)}'s`, holder.id)
      throw error
    }
  }

  /** Advances the owner's counter by `count` places; resolves the last of them. */
  #next(owner: string, count: number): number {
    const row = this.#advance.get({ owner, count })
    if (!row) throw new Error('the change counter returned nothing')
    return row.latest
  }

  /**
   * The owner's tag in the search index, given on the owner's first write. Read each time rather
   * than kept: a tag given in a write that is then rolled back was never given.
   */
  #tag(owner: string): number {
    const row = this.#selectTag.get(owner) ?? this.#insertTag.get(owner)
    if (!row) throw new Error('the search index gave the owner no tag')
    return row.tag
  }

  #writeIndex(seq: number, owner: string, tag: number, index: EntryIndex): void {
    for (const term of index.terms) this.#insertTerm.run(seq, owner, term.field, term.value)
    this.#insertTrigrams.run(seq, trigramTokens(index.searchText, tag))
  }

  #clearIndex(seq: number): void {
    this.#deleteTerms.run(seq)
    this.#deleteTrigrams.run(seq)
  }
}

/** Whether two versions hold the same: content, card data and photo. */
function sameContent(a: Content, b: Content): boolean {
  return a.entry === b.entry && a.card_name === b.card_name && a.card_uid === b.card_uid && a.card_kept === b.card_kept && a.photo_etag === b.photo_etag
}

/** A write refused because another entry of the owner holds the id or the card name: `holder`. */
class TakenError extends Error {
  constructor(
    message: string,
    readonly holder: string,
  ) {
    super(message)
  }
}

function failureOf(error: unknown, id?: string): WriteFailure {
  if (error instanceof TakenError) return { message: error.message, code: 'SQLITE_CONSTRAINT_UNIQUE', takenId: error.holder }
  const code = error instanceof Database.SqliteError ? error.code : undefined
  const taken = code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
  return {
    message: error instanceof Error ? error.message : String(error),
    ...(code === undefined ? {} : { code }),
    ...(taken && id !== undefined ? { takenId: id } : {}),
  }
}
