import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { AddressEntry } from '../../domain/address-entry.js'
import { EntryExistsError, StoreUnavailableError } from '../../domain/errors.js'
import { TimeSlice } from '../../lib/time-slice.js'
import { cardFromColumns, keptCard } from '../card-data.js'
import type { Scope } from '../../domain/principal.js'
import { indexEntry, LABEL_NAME, type EntryFilter, type SortKey } from '../../domain/listing.js'
import {
  CURRENT_VERSION_SEQ,
  systemClock,
  type ApiKeyRecord,
  type BookRestore,
  type ChangeOptions,
  type ChangePage,
  type ChangePosition,
  type Clock,
  type EntryStamp,
  type EntryUpdate,
  type IdempotencyClaim,
  type LabelCount,
  type PhotoData,
  type PhotoImage,
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
import { configureDurability } from './durability.js'
import { GroupCommit, WriteError } from './group-commit.js'
import { SQLITE_MIGRATIONS } from './migrations.js'
import { TRIGRAM_LENGTH, trigramQuery } from './trigrams.js'
import { ENTRY_COLUMNS, KEY_COLUMNS, packedPhoto, VERSION_COLUMNS, type EntryColumns, type NewRow, type UpdatedRow, type VersionColumns, type WriteOp } from './writes.js'

/** An entry's columns, as a read answers them. */
type EntryRow = EntryColumns

/** An entry's columns as its history reads its current version: with what it was made through. */
type CurrentRow = EntryColumns & Pick<VersionColumns, 'source'>

/** What listStamps reads of an entry. */
interface StampRow {
  id: string
  version: number
  created_at: string
  updated_at: string
  card_name: string | null
}

/** A change as changesSince reads it: an entry's columns, or only seq, id and card name for a tombstone. */
interface ChangeRow {
  seq: number
  id: string
  created: number | null
  version: number | null
  created_at: string | null
  updated_at: string | null
  entry: string | null
  photo_etag: string | null
  card_name: string | null
  card_uid: string | null
  card_kept: string | null
}

interface ApiKeyRow {
  id: string
  owner: string
  scope: Scope
  label: string | null
  secret_hash: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export interface SqliteStoreOptions {
  clock?: Clock
  busyTimeoutMs?: number
  /** Told the size of each batch of writes committed together. */
  onBatch?: (size: number) => void
}

const UTF8 = new TextEncoder()

/**
 * Keeps entries in one SQLite file through better-sqlite3. Write-ahead log with
 * `synchronous=FULL`: once a write method resolves, the entry is on disk and survives a crash
 * of the process or the machine. Reads run on this thread's connection; writes go to a writer
 * thread with a connection of its own, which commits those that arrive together in one
 * transaction (group commit), so the event loop never waits for the disk. Each write takes its
 * owner's next seq from change_counters inside that transaction, and SQLite lets one writer at a
 * time hold the file (BEGIN IMMEDIATE), so seqs are given in commit order even with several
 * processes on one file.
 */
export class SqliteStore implements Store {
  readonly description: string
  readonly #db: Database.Database
  readonly #clock: Clock
  readonly #writer: GroupCommit
  readonly #select: Database.Statement<[string, string], EntryRow>
  readonly #selectByName: Database.Statement<[string, string], EntryRow>
  readonly #position: Database.Statement<[string], { latest: number; forgotten_through: number }>
  readonly #changes: Database.Statement<[{ owner: string; since: number; limit: number }], ChangeRow>
  readonly #stamps: Database.Statement<[{ owner: string; createdAt: string; id: string; limit: number }], StampRow>
  readonly #labelCounts: Database.Statement<[string], LabelCount>
  readonly #photo: Record<'image' | 'thumbnail', Database.Statement<[string, string], { etag: string; content_type: string; data: Buffer }>>
  readonly #tag: Database.Statement<[string], { tag: number }>
  readonly #current: Database.Statement<[string, string], CurrentRow>
  readonly #versions: Database.Statement<[string, string, number, number], VersionColumns>
  readonly #trash: Database.Statement<[{ owner: string; q: string | null; deletedAt: string; id: string; limit: number }], VersionColumns>
  /** Listing statements by their SQL: a handful of shapes, each prepared once. */
  readonly #listings = new Map<string, Database.Statement<unknown[], EntryRow & { total?: number }>>()
  readonly #keys: {
    select: Database.Statement<[string], ApiKeyRow>
    selectAll: Database.Statement<[], ApiKeyRow>
    selectByOwner: Database.Statement<[string], ApiKeyRow>
  }

  /** Opens (creating if needed) the database file, checks durability settings and migrates. */
  constructor(readonly path: string, options: SqliteStoreOptions = {}) {
    this.description = `sqlite:${path}`
    this.#clock = options.clock ?? systemClock
    mkdirSync(dirname(path), { recursive: true })
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000
    const db = new Database(path)
    try {
      db.pragma(`busy_timeout = ${String(Math.trunc(busyTimeoutMs))}`)
      // Before anything writes: switching to WAL alone would rewrite a newer schema's file.
      const applied = checkedSchemaVersion(db)
      configureDurability(db)
      migrate(db, applied)
    } catch (error) {
      db.close()
      throw error
    }
    this.#db = db
    this.#select = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM address_entries WHERE owner = ? AND id = ?`)
    this.#selectByName = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM address_entries WHERE owner = ? AND card_name = ?`)
    this.#position = db.prepare('SELECT latest, forgotten_through FROM change_counters WHERE owner = ?')
    this.#changes = db.prepare(changesSql)
    this.#stamps = db.prepare(stampsSql)
    // A range of the terms' primary key (owner, field, value, seq): grouped as it is read.
    const photoSql = (column: string) =>
      `SELECT e.photo_etag AS etag, p.content_type, p.${column} AS data
       FROM address_entries AS e JOIN photos AS p ON p.owner = e.owner AND p.id = e.id AND p.etag = e.photo_etag WHERE e.owner = ? AND e.id = ?`
    this.#photo = { image: db.prepare(photoSql('image')), thumbnail: db.prepare(photoSql('thumbnail')) }
    this.#labelCounts = db.prepare(`SELECT value AS label, count(*) AS count FROM entry_terms WHERE owner = ? AND field = '${LABEL_NAME}' GROUP BY value`)
    this.#tag = db.prepare('SELECT tag FROM search_owners WHERE owner = ?')
    this.#current = db.prepare(`SELECT ${ENTRY_COLUMNS}, source FROM address_entries WHERE owner = ? AND id = ?`)
    this.#versions = db.prepare(`SELECT ${VERSION_COLUMNS} FROM entry_history WHERE owner = ? AND id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
    this.#trash = db.prepare(trashSql)
    this.#keys = {
      select: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`),
      selectAll: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`),
      selectByOwner: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE owner = ? ORDER BY created_at, id`),
    }
    this.#writer = new GroupCommit(path, { busyTimeoutMs, onBatch: options.onBatch })
  }

  /** The file was opened and migrated by the constructor; only a closed store is not ready. */
  ready(): Promise<void> {
    return attempt(() => {
      this.#select.get('', '')
    })
  }

  async create(owner: string, id: string, entry: AddressEntry, { source = 'api', idempotency, card, photo }: WriteOptions = {}): Promise<StoredEntry> {
    const now = this.#clock().toISOString()
    const kept = keptCard(card)
    const item = { id, entry: JSON.stringify(entry), index: indexEntry(entry), ...(kept ? { card: kept } : {}), ...(photo ? { photo: packedPhoto(photo) } : {}) }
    await this.#write({ kind: 'create', owner, now, source, items: [item], idempotency })
    return { id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry), ...(kept ? { card: kept } : {}), ...(photo ? { photo: { etag: photo.etag } } : {}) }
  }

  /**
   * One write: all of them or none, durable together, with the idempotency result if there is
   * one. The rows are made a slice of time at a time, and each slice's packed for the writer.
   */
  async createMany(owner: string, entries: readonly NewEntry[], { source = 'api', idempotency }: WriteOptions = {}): Promise<void> {
    const now = this.#clock().toISOString()
    const slice = new TimeSlice()
    const packed: Uint8Array[] = []
    let rows: NewRow[] = []
    const pack = () => {
      if (rows.length > 0) packed.push(UTF8.encode(JSON.stringify(rows)))
      rows = []
    }
    for (const { id, entry, card, photo } of entries) {
      const kept = keptCard(card)
      rows.push({ id, entry: JSON.stringify(entry), index: indexEntry(entry), ...(kept ? { card: kept } : {}), ...(photo ? { photo: packedPhoto(photo) } : {}) })
      if (slice.due()) {
        pack()
        await slice.pause()
      }
    }
    pack()
    await this.#write({ kind: 'create', owner, now, source, items: { packed }, idempotency })
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    return attempt(() => {
      const row = this.#select.get(owner, id)
      return row && toStoredEntry(row)
    })
  }

  findByName(owner: string, name: string): Promise<StoredEntry | undefined> {
    return attempt(() => {
      const row = this.#selectByName.get(owner, name)
      return row && toStoredEntry(row)
    })
  }

  async update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[], { source = 'api', card, photo }: UpdateOptions = {}): Promise<StoredEntry | undefined> {
    const now = this.#clock().toISOString()
    const row = (await this.#write({
      kind: 'update',
      owner,
      id,
      now,
      source,
      entry: JSON.stringify(entry),
      index: indexEntry(entry),
      versions: versions(ifVersion),
      card: card === undefined ? undefined : (keptCard(card) ?? null),
      photo,
    })) as UpdatedRow | undefined
    return row && updatedEntry(owner, id, entry, row)
  }

  async updateMany(owner: string, updates: readonly EntryUpdate[], { source = 'api' }: ChangeOptions = {}): Promise<StoredEntry[] | undefined> {
    if (new Set(updates.map(({ id }) => id)).size < updates.length) return undefined
    const items = updates.map(({ id, entry, ifVersion }) => ({ id, entry: JSON.stringify(entry), index: indexEntry(entry), versions: JSON.stringify(ifVersion) }))
    const rows = (await this.#write({ kind: 'updateMany', owner, now: this.#clock().toISOString(), source, items })) as (UpdatedRow | undefined)[] | undefined
    return rows?.map((row, index) => {
      const update = updates[index]
      if (!row || !update) throw new Error('the SQLite writer answered an update of many without one of its entries')
      return updatedEntry(owner, update.id, update.entry, row)
    })
  }

  async setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[], { source = 'api' }: ChangeOptions = {}): Promise<StoredEntry | undefined> {
    const row = (await this.#write({ kind: 'setPhoto', owner, id, now: this.#clock().toISOString(), source, versions: versions(ifVersion), photo })) as EntryRow | undefined
    return row && toStoredEntry(row)
  }

  getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined> {
    return attempt(() => {
      const row = this.#photo[which].get(owner, id)
      return row && { etag: row.etag, contentType: row.content_type, data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) }
    })
  }

  /** A deletion makes no version, so what it was made through is not kept: it takes no options. */
  async delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    return (await this.#write({ kind: 'delete', owner, id, now: this.#clock().toISOString(), versions: versions(ifVersion) })) === true
  }

  /** The current version and the page of older ones are read in one transaction: one moment's history. */
  history(owner: string, id: string, limit: number, before?: number): Promise<StoredVersion[]> {
    return attempt(
      this.#db.transaction(() => {
        const current = limit > 0 && (before === undefined || before > CURRENT_VERSION_SEQ) ? this.#current.get(owner, id) : undefined
        const versions = current ? [currentVersion(current)] : []
        const older = this.#versions.all(owner, id, Math.min(before ?? CURRENT_VERSION_SEQ, CURRENT_VERSION_SEQ), Math.max(0, limit - versions.length))
        return [...versions, ...older.map(toStoredVersion)]
      }),
    )
  }

  async restoreVersion(owner: string, id: string, seq: number, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    const row = (await this.#write({ kind: 'restoreVersion', owner, id, seq, now: this.#clock().toISOString(), versions: versions(ifVersion) })) as EntryRow | undefined
    return row && toStoredEntry(row)
  }

  /** The first page starts from a time after every deletion: one statement serves every page. */
  listTrash(owner: string, { q, limit, after }: TrashQuery): Promise<TrashedEntry[]> {
    return attempt(() =>
      this.#trash.all({ owner, q: q ?? null, deletedAt: after?.deletedAt ?? AFTER_EVERY_TIME, id: after?.id ?? '', limit }).map((row) => {
        const { id, version, createdAt, updatedAt, entry, card, photo } = toStoredVersion(row)
        return { id, version, createdAt, updatedAt, deletedAt: row.replaced_at, entry, ...(card ? { card } : {}), ...(photo ? { photo } : {}) }
      }),
    )
  }

  async restoreFromTrash(owner: string, id: string): Promise<StoredEntry | undefined> {
    const row = (await this.#write({ kind: 'restoreFromTrash', owner, id, now: this.#clock().toISOString() })) as EntryRow | undefined
    return row && toStoredEntry(row)
  }

  async emptyTrash(owner: string, id?: string): Promise<number> {
    return (await this.#write({ kind: 'emptyTrash', owner, id: id ?? null })) as number
  }

  /**
   * All the books go as one write, so that no other write comes between them and one savepoint
   * undoes them all. A preview goes through the writer too, so that it reads the books as a
   * restore would, between the same writes.
   */
  async restoreBook(owners: readonly string[], at: string, { preview = false }: { readonly preview?: boolean } = {}): Promise<BookRestore[]> {
    return (await this.#write({ kind: 'restoreBook', owners, at, now: this.#clock().toISOString(), preview })) as BookRestore[]
  }

  async forgetHistoryBefore(before: string, keep: number): Promise<number> {
    return (await this.#write({ kind: 'forgetHistory', before, keep })) as number
  }

  list(owner: string, query: ListQuery): Promise<StoredEntry[]> {
    return attempt(() => {
      const { sql, values } = listingSql(this.#searcher(owner), query)
      return this.#listing(sql)
        .all(...values)
        .map(toStoredEntry)
    })
  }

  /** The first page starts after ('', ''), before every entry: one statement serves every page. */
  listStamps(owner: string, limit: number, after?: { readonly createdAt: string; readonly id: string }): Promise<EntryStamp[]> {
    return attempt(() =>
      this.#stamps.all({ owner, createdAt: after?.createdAt ?? '', id: after?.id ?? '', limit }).map((row) => ({
        id: row.id,
        version: row.version,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        ...(row.card_name === null ? {} : { name: row.card_name }),
      })),
    )
  }

  count(owner: string, filter: EntryFilter): Promise<number> {
    return attempt(() => {
      const { sql, values } = countSql(this.#searcher(owner), filter)
      return this.#listing(sql).get(...values)?.total ?? 0
    })
  }

  labelCounts(owner: string): Promise<LabelCount[]> {
    return attempt(() => this.#labelCounts.all(owner))
  }

  changePosition(owner: string): Promise<ChangePosition> {
    return attempt(() => {
      const row = this.#position.get(owner)
      return { latest: row?.latest ?? 0, forgottenThrough: row?.forgotten_through ?? 0 }
    })
  }

  changesSince(owner: string, since: number, limit: number): Promise<ChangePage> {
    return attempt(() => {
      const rows = this.#changes.all({ owner, since, limit: limit + 1 })
      return { changes: rows.slice(0, limit).map((row) => toStoredChange(owner, row)), more: rows.length > limit }
    })
  }

  async forgetDeletionsBefore(before: string): Promise<number> {
    return (await this.#write({ kind: 'forgetDeletions', before })) as number
  }

  async claimIdempotencyKey(
    owner: string,
    key: string,
    fingerprint: string,
    { now, leaseUntil, expiresAt }: { now: string; leaseUntil: string; expiresAt: string },
  ): Promise<IdempotencyClaim> {
    return (await this.#write({ kind: 'claimIdempotencyKey', owner, key, fingerprint, now, leaseUntil, expiresAt })) as IdempotencyClaim
  }

  async releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    await this.#write({ kind: 'releaseIdempotencyKey', owner, key })
  }

  async forgetIdempotencyKeysBefore(now: string): Promise<number> {
    return (await this.#write({ kind: 'forgetIdempotencyKeys', now })) as number
  }

  /** The owner whose book a listing reads, with the tag of the owner's search index. */
  #searcher(owner: string): Searcher {
    return { owner, tag: this.#tag.get(owner)?.tag ?? NO_TAG }
  }

  #listing(sql: string): Database.Statement<unknown[], EntryRow & { total?: number }> {
    let statement = this.#listings.get(sql)
    if (!statement) {
      statement = this.#db.prepare<unknown[], EntryRow & { total?: number }>(sql)
      this.#listings.set(sql, statement)
    }
    return statement
  }

  /** A write through the writer thread, its failure as the store reports it. */
  async #write(op: WriteOp): Promise<unknown> {
    try {
      return await this.#writer.write(op)
    } catch (error) {
      if (!(error instanceof WriteError)) throw error
      if (error.takenId !== undefined) throw new EntryExistsError(error.takenId)
      // No SQLite code: the writer itself is gone; busy or locked: another writer holds the file too long.
      if (error.code === undefined || /^SQLITE_(BUSY|LOCKED)/.test(error.code)) throw new StoreUnavailableError({ cause: error })
      throw error
    }
  }

  async createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    await this.#write({ kind: 'createApiKey', key })
    return { ...key, lastUsedAt: null, revokedAt: null }
  }

  findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return attempt(() => {
      const row = this.#keys.select.get(id)
      return row && toApiKeyRecord(row)
    })
  }

  listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    return attempt(() => (owner === undefined ? this.#keys.selectAll.all() : this.#keys.selectByOwner.all(owner)).map(toApiKeyRecord))
  }

  async revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const row = (await this.#write({ kind: 'revokeApiKey', id, at })) as ApiKeyRow | undefined
    return row && toApiKeyRecord(row)
  }

  async touchApiKey(id: string, at: string): Promise<void> {
    await this.#write({ kind: 'touchApiKey', id, at })
  }

  async close(): Promise<void> {
    await this.#writer.close()
    if (this.#db.open) this.#db.close()
  }
}

function toApiKeyRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    owner: row.owner,
    scope: row.scope,
    label: row.label,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  }
}

/** How many migrations the file has; refuses a schema newer than this code knows. */
function checkedSchemaVersion(db: Database.Database): number {
  const applied = Number(db.pragma('user_version', { simple: true }))
  if (applied > SQLITE_MIGRATIONS.length) {
    throw new Error(
      `database schema version ${String(applied)} is newer than this addrservice knows (${String(SQLITE_MIGRATIONS.length)})`,
    )
  }
  return applied
}

function migrate(db: Database.Database, applied: number): void {
  if (applied === SQLITE_MIGRATIONS.length) return
  db.transaction(() => {
    // Read again under the write lock: another process may have migrated since the first read.
    const current = checkedSchemaVersion(db)
    for (const migration of SQLITE_MIGRATIONS.slice(current)) {
      if (typeof migration === 'string') db.exec(migration)
      else migration(db)
    }
    db.pragma(`user_version = ${String(SQLITE_MIGRATIONS.length)}`)
  }).immediate()
}

function toStoredEntry(row: EntryRow): StoredEntry {
  const card = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
  return {
    id: row.id,
    owner: row.owner,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    entry: JSON.parse(row.entry) as AddressEntry,
    ...(card ? { card } : {}),
    ...(row.photo_etag === null ? {} : { photo: { etag: row.photo_etag } }),
  }
}

/** A deletion time after every real one (ISO times start with their year): where the trash's first page starts. */
const AFTER_EVERY_TIME = '9999-12-31T23:59:59.999Z~'

function currentVersion(row: CurrentRow): StoredVersion {
  const { id, version, createdAt, updatedAt, entry, card, photo } = toStoredEntry(row)
  return { seq: CURRENT_VERSION_SEQ, id, version, createdAt, updatedAt, deleted: false, source: row.source, entry, ...(card ? { card } : {}), ...(photo ? { photo } : {}) }
}

function toStoredVersion(row: VersionColumns): StoredVersion {
  const card = cardFromColumns(row.card_name, row.card_uid, row.card_kept)
  return {
    seq: row.seq,
    id: row.id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    replacedAt: row.replaced_at,
    deleted: row.deleted === 1,
    source: row.source,
    entry: JSON.parse(row.entry) as AddressEntry,
    ...(card ? { card } : {}),
    ...(row.photo_etag === null ? {} : { photo: { etag: row.photo_etag } }),
  }
}

function toStoredChange(owner: string, row: ChangeRow): StoredChange {
  if (row.entry === null || row.version === null || row.created_at === null || row.updated_at === null) {
    return { seq: row.seq, id: row.id, kind: 'deleted', ...(row.card_name === null ? {} : { name: row.card_name }) }
  }
  const { photo_etag, card_name, card_uid, card_kept } = row
  const stored = toStoredEntry({ id: row.id, owner, version: row.version, created_at: row.created_at, updated_at: row.updated_at, entry: row.entry, photo_etag, card_name, card_uid, card_kept })
  return { seq: row.seq, id: row.id, kind: row.created === 1 ? 'created' : 'updated', stored }
}

function versions(ifVersion: readonly number[] | undefined): string | null {
  return ifVersion === undefined ? null : JSON.stringify(ifVersion)
}

/**
 * An owner's changes after `since`: live entries at their latest change, and tombstones with the
 * card name their entry had. SQLite merges the two, each walked in seq order on its index, and
 * stops at the limit.
 */
export const changesSql = `SELECT changed_seq AS seq, id, created_seq > @since AS created, version, created_at, updated_at, entry, photo_etag, card_name, card_uid, card_kept
  FROM address_entries WHERE owner = @owner AND changed_seq > @since
  UNION ALL
  SELECT seq, id, NULL, NULL, NULL, NULL, NULL, NULL, card_name, NULL, NULL FROM tombstones WHERE owner = @owner AND seq > @since
  ORDER BY seq LIMIT @limit`

/**
 * A page of an owner's trash, latest deletion first: a walk back along the trash's index from the
 * position on, each deleted version kept only while it is its entry's latest and the id is not
 * taken again. The search reads the version's folded search text.
 */
const trashSql = `SELECT ${VERSION_COLUMNS} FROM entry_history AS h
  WHERE h.owner = @owner AND h.deleted = 1 AND (h.replaced_at, h.id) < (@deletedAt, @id)
    AND (@q IS NULL OR instr(h.search_text, @q) > 0)
    AND h.seq = (SELECT max(later.seq) FROM entry_history AS later WHERE later.owner = h.owner AND later.id = h.id)
    AND NOT EXISTS (SELECT 1 FROM address_entries AS e WHERE e.owner = h.owner AND e.id = h.id)
  ORDER BY h.replaced_at DESC, h.id DESC LIMIT @limit`

/**
 * A page of an owner's stamps in creation order: a walk of address_entries_by_created from the
 * position on, which reads each row only as far as card_name. card_kept comes after it: the
 * pages of a photo are never read.
 */
export const stampsSql = `SELECT id, version, created_at, updated_at, card_name FROM address_entries
  WHERE owner = @owner AND (created_at, id) > (@createdAt, @id) ORDER BY created_at, id LIMIT @limit`

const SORT_COLUMNS: Record<SortKey, string> = { full_name: 'sort_name', created: 'created_at', updated: 'updated_at' }

/** The owner a listing is for, and the owner's tag in the search index (see trigrams.ts). */
export interface Searcher {
  readonly owner: string
  readonly tag: number
}

/** The tag of an owner who has never written: tags start at 1, so no entry carries it. */
const NO_TAG = 0

/**
 * FROM and WHERE of a listing: the owner's entries, driven by the filter's matches when there is
 * one. The matches are a set of seqs: the intersection of each exact term (from the terms index)
 * and the search. Listings start from this set rather than walk the book in order testing each
 * entry, so that a selective filter costs what it finds, not what the book holds. Every index is
 * read through the owner: what another book holds never adds to what a listing reads.
 */
function sourceSql({ owner, tag }: Searcher, filter: EntryFilter): { from: string; where: string; values: unknown[] } {
  const parts: string[] = []
  const values: unknown[] = []
  const conditions = ['owner = ?']
  const conditionValues: unknown[] = [owner]
  for (const term of filter.terms) {
    parts.push('SELECT seq FROM entry_terms WHERE owner = ? AND field = ? AND value = ?')
    values.push(owner, term.field, term.value)
  }
  if (filter.q !== undefined) {
    // Trigrams are of characters (code points), not UTF-16 units.
    if (Array.from(filter.q).length >= TRIGRAM_LENGTH) {
      // The owner's entries with every trigram of the search: candidates, which their search text confirms.
      parts.push('SELECT rowid AS seq FROM entry_trigrams WHERE entry_trigrams MATCH ?')
      values.push(trigramQuery(filter.q, tag))
      conditions.push('instr(search_text, ?) > 0')
      conditionValues.push(filter.q)
    } else {
      // Shorter than a trigram: the index cannot help, so this reads the owner's search texts.
      parts.push('SELECT seq FROM address_entries WHERE owner = ? AND instr(search_text, ?) > 0')
      values.push(owner, filter.q)
    }
  }
  if (parts.length === 0) return { from: 'address_entries', where: 'owner = ?', values: [owner] }
  // CROSS JOIN keeps SQLite from walking the whole book in sort order and testing each entry.
  return {
    from: `(${parts.join(' INTERSECT ')}) AS matches CROSS JOIN address_entries USING (seq)`,
    where: conditions.join(' AND '),
    values: [...values, ...conditionValues],
  }
}

export function countSql(searcher: Searcher, filter: EntryFilter): { sql: string; values: unknown[] } {
  if (filter.q === undefined && filter.terms.length === 0) {
    // Through the narrowest index that starts with the owner: left to itself, SQLite counts
    // through address_entries_by_text, which holds every search text.
    return { sql: 'SELECT count(*) AS total FROM address_entries INDEXED BY address_entries_by_change WHERE owner = ?', values: [searcher.owner] }
  }
  const { from, where, values } = sourceSql(searcher, filter)
  return { sql: `SELECT count(*) AS total FROM ${from} WHERE ${where}`, values }
}

/** An entry as an update stored it, from what the writer answered. */
function updatedEntry(owner: string, id: string, entry: AddressEntry, row: UpdatedRow): StoredEntry {
  const kept = cardFromColumns(row.cardName, row.cardUid, row.cardKept)
  return {
    id,
    owner,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    entry: structuredClone(entry),
    ...(kept ? { card: kept } : {}),
    ...(row.photoEtag === null ? {} : { photo: { etag: row.photoEtag } }),
  }
}

/** One page: keyset pagination on (sort column, id), so that deep pages cost what the first does. */
export function listingSql(searcher: Searcher, { filter, sort, limit, after }: ListQuery): { sql: string; values: unknown[] } {
  const { from, where, values } = sourceSql(searcher, filter)
  const column = SORT_COLUMNS[sort.key]
  const direction = sort.descending ? 'DESC' : 'ASC'
  let position = ''
  if (after) {
    position = ` AND (${column}, id) ${sort.descending ? '<' : '>'} (?, ?)`
    values.push(after.value, after.id)
  }
  values.push(limit)
  return {
    sql: `SELECT ${ENTRY_COLUMNS} FROM ${from} WHERE ${where}${position} ORDER BY ${column} ${direction}, id ${direction} LIMIT ?`,
    values,
  }
}

/**
 * Runs a synchronous better-sqlite3 call as a promise. A database still locked by another
 * process after busy_timeout is a passing condition: StoreUnavailableError, so the client
 * gets 503 and retries.
 */
function attempt<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation())
  } catch (error) {
    if (isBusy(error)) return Promise.reject(new StoreUnavailableError({ cause: error }))
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(error.code)
}
