import Database from 'better-sqlite3'
import type { EntryIndex } from '../../domain/listing.js'
import type { CardData, NewApiKey, PhotoData } from '../store.js'
import { base64Of } from '../../lib/bytes.js'
import { trigramTokens } from './trigrams.js'

/**
 * Every write the SQLite store makes, as plain data: what the writer thread receives. Timestamps,
 * JSON and index terms are computed by the caller, so that the writer only writes.
 */
export type WriteOp =
  | {
      readonly kind: 'create'
      readonly owner: string
      readonly now: string
      readonly items: NewRows
      /** The result to record under the idempotency key the write answers, with the write. */
      readonly idempotency?: { readonly key: string; readonly result: string } | undefined
    }
  | {
      readonly kind: 'update'
      readonly owner: string
      readonly id: string
      readonly now: string
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
      /** Each entry's new JSON and index, and a JSON list of the versions it may be at. */
      readonly items: readonly { readonly id: string; readonly entry: string; readonly index: EntryIndex; readonly versions: string }[]
    }
  | { readonly kind: 'delete'; readonly owner: string; readonly id: string; readonly now: string; readonly versions: string | null }
  | {
      readonly kind: 'setPhoto'
      readonly owner: string
      readonly id: string
      readonly now: string
      readonly versions: string | null
      /** The photo, or null to remove the entry's. */
      readonly photo: PhotoData | null
    }
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
    [string, string, string, string, string, string, string, number, number, string | null, string | null, string | null, string | null],
    { seq: number }
  >
  readonly #update: Database.Statement<
    [
      {
        entry: string
        updatedAt: string
        sortName: string
        searchText: string
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
  readonly #setPhotoEtag: Database.Statement<[{ owner: string; id: string; now: string; versions: string | null; etag: string | null }], EntryColumns & { seq: number }>
  readonly #putPhoto: Database.Statement<[number, string, Uint8Array, Uint8Array]>
  readonly #deletePhoto: Database.Statement<[number]>
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
      `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, search_text, entry, created_seq, changed_seq, card_name, card_uid, card_kept, photo_etag)
       VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
    )
    // The update takes the owner's next place itself, so that an update that matches nothing
    // takes none; the counter is advanced to it right after, in the same transaction.
    this.#update = db.prepare(
      `UPDATE address_entries SET entry = @entry, version = version + 1, updated_at = @updatedAt, sort_name = @sortName, search_text = @searchText,
         changed_seq = (SELECT latest + 1 FROM change_counters WHERE owner = @owner),
         card_name = CASE WHEN @keepCard THEN card_name ELSE @cardName END,
         card_uid = CASE WHEN @keepCard THEN card_uid ELSE @cardUid END,
         card_kept = CASE WHEN @keepCard THEN card_kept ELSE @cardKept END,
         photo_etag = CASE WHEN @keepPhoto THEN photo_etag ELSE @photoEtag END
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, version, created_at, updated_at, card_name, card_uid, card_kept, photo_etag`,
    )
    this.#setPhotoEtag = db.prepare(
      `UPDATE address_entries SET version = version + 1, updated_at = @now, photo_etag = @etag,
         changed_seq = (SELECT latest + 1 FROM change_counters WHERE owner = @owner)
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, id, owner, version, created_at, updated_at, entry, photo_etag, card_name, card_uid, card_kept`,
    )
    this.#putPhoto = db.prepare(
      `INSERT INTO entry_photos (seq, content_type, image, thumbnail) VALUES (?, ?, ?, ?)
       ON CONFLICT (seq) DO UPDATE SET content_type = excluded.content_type, image = excluded.image, thumbnail = excluded.thumbnail`,
    )
    this.#deletePhoto = db.prepare('DELETE FROM entry_photos WHERE seq = ?')
    this.#delete = db.prepare(
      `DELETE FROM address_entries
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, card_name`,
    )
    this.#selectVersion = db.prepare('SELECT version FROM address_entries WHERE owner = ? AND id = ?')
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

  /** Replaces an entry (if at one of the versions), its index, and its card data unless kept; undefined when it does not apply. */
  #updateOne(op: Omit<Extract<WriteOp, { kind: 'update' }>, 'kind'>): UpdatedRow | undefined {
    const { sortName, searchText } = op.index
    const { card } = op
    const row = this.#namedWrite(op.owner, op.id, card?.name, () =>
      this.#update.get({
        entry: op.entry,
        updatedAt: op.now,
        sortName,
        searchText,
        owner: op.owner,
        id: op.id,
        versions: op.versions,
        keepCard: card === undefined ? 1 : 0,
        cardName: card?.name ?? null,
        cardUid: card?.uid ?? null,
        cardKept: card?.kept ?? null,
        keepPhoto: op.photo === undefined ? 1 : 0,
        photoEtag: op.photo?.etag ?? null,
      }),
    )
    if (!row) return undefined
    this.#next(op.owner, 1)
    this.#writePhoto(row.seq, op.photo)
    this.#clearIndex(row.seq)
    this.#writeIndex(row.seq, op.owner, this.#tag(op.owner), op.index)
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

  /** Writes the photo of the entry at `seq`: this one, none (null), or the one it has (undefined). */
  #writePhoto(seq: number, photo: PhotoData | null | undefined): void {
    if (photo) this.#putPhoto.run(seq, photo.contentType, photo.image, photo.thumbnail)
    else if (photo === null) this.#deletePhoto.run(seq)
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
              ),
            )
            if (row) this.#writeIndex(row.seq, op.owner, tag, item.index)
            if (row && item.photo) this.#writePhoto(row.seq, unpackedPhoto(item.photo))
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
        return op.items.map((item) => this.#updateOne({ owner: op.owner, now: op.now, ...item }))
      }
      case 'setPhoto': {
        const row = this.#setPhotoEtag.get({ owner: op.owner, id: op.id, now: op.now, versions: op.versions, etag: op.photo?.etag ?? null })
        if (!row) return undefined
        this.#next(op.owner, 1)
        this.#writePhoto(row.seq, op.photo)
        return row
      }
      case 'delete': {
        const row = this.#delete.get({ owner: op.owner, id: op.id, versions: op.versions })
        if (!row) return false
        this.#deletePhoto.run(row.seq)
        this.#clearIndex(row.seq)
        this.#insertTombstone.run(op.owner, op.id, this.#next(op.owner, 1), op.now, row.card_name)
        return true
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
      if (holder && holder.id !== id) throw new NameTakenError(name, holder.id)
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

/** A write refused because another entry of the owner holds the card name. */
class NameTakenError extends Error {
  constructor(
    name: string,
    readonly holder: string,
  ) {
    super(`the card name ${JSON.stringify(name)} is the entry ${JSON.stringify(holder)}'s`)
  }
}

function failureOf(error: unknown, id?: string): WriteFailure {
  if (error instanceof NameTakenError) return { message: error.message, code: 'SQLITE_CONSTRAINT_UNIQUE', takenId: error.holder }
  const code = error instanceof Database.SqliteError ? error.code : undefined
  const taken = code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
  return {
    message: error instanceof Error ? error.message : String(error),
    ...(code === undefined ? {} : { code }),
    ...(taken && id !== undefined ? { takenId: id } : {}),
  }
}
