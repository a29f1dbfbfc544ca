import { EntryExistsError } from '../../domain/errors.js'
import { TimeSlice } from '../../lib/time-slice.js'
import { keptCard } from '../card-data.js'
import type { AddressEntry } from '../../domain/address-entry.js'
import { compareCodePoints, indexEntry, LABEL_NAME, matchesFilter, sortValueOf, type EntryFilter, type EntryIndex } from '../../domain/listing.js'
import type { ChangeSource } from '../../domain/vocabulary.js'
import {
  CURRENT_VERSION_SEQ,
  systemClock,
  type ApiKeyRecord,
  type BookRestore,
  type ChangeOptions,
  type CardData,
  type ChangePage,
  type ChangePosition,
  type Clock,
  type EntryStamp,
  type EntryUpdate,
  type IdempotencyClaim,
  type IdempotencyRecord,
  type LabelCount,
  type PhotoData,
  type PhotoImage,
  type PhotoStamp,
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

interface Kept {
  readonly stored: StoredEntry
  readonly index: EntryIndex
  /** The seq of the entry's creation and of its latest change. */
  readonly createdSeq: number
  readonly changedSeq: number
  /** Through what its current version was made. */
  readonly source: ChangeSource
}

/** A version an entry had, kept when a write replaced or deleted it. */
interface Replaced {
  /** Its place in the store's record of versions (StoredVersion.seq). */
  readonly seq: number
  readonly stored: StoredEntry
  readonly source: ChangeSource
  readonly replacedAt: string
  readonly deleted: boolean
  /** The entry's search text, which a search of the trash reads. */
  readonly searchText: string
}

interface Tombstone {
  readonly id: string
  readonly seq: number
  readonly deletedAt: string
  /** The name the entry's card data had. */
  readonly name: string | undefined
}

/** One owner's book: entries by id, the ids of entries by their card name, tombstones by id, and where its changes stand. */
class Book {
  readonly entries = new Map<string, Kept>()
  /** Photos by entry id, then by entity tag: the current one, and those its history refers to. */
  readonly photos = new Map<string, Map<string, PhotoData>>()
  /** Versions replaced or deleted, by entry id, oldest first. */
  readonly history = new Map<string, Replaced[]>()
  readonly names = new Map<string, string>()
  readonly tombstones = new Map<string, Tombstone>()
  latest = 0
  forgottenThrough = 0
}

/** Where a page of stamps ends, as listStamps is given it. */
interface StampPosition {
  readonly createdAt: string
  readonly id: string
}

interface HeldKey extends IdempotencyRecord {
  readonly leaseUntil: string
  readonly expiresAt: string
}

/** An entry on its way in: already the store's own copy, and indexed. */
interface IncomingEntry {
  readonly id: string
  readonly entry: AddressEntry
  readonly card: CardData | undefined
  readonly index: EntryIndex
  readonly photo?: PhotoData | undefined
}

/**
 * Keeps entries (and API keys) in process memory: for tests and throwaway runs. Nothing survives
 * a restart, which is why the service refuses API-key authentication on it.
 */
export class MemoryStore implements Store {
  readonly description = 'memory'
  readonly #books = new Map<string, Book>()
  readonly #keys = new Map<string, ApiKeyRecord>()
  /** Idempotency records by owner and key. */
  readonly #idempotency = new Map<string, HeldKey>()
  /** The seq of the latest version kept in any book's history. */
  #historySeq = 0
  #closed = false

  constructor(private readonly clock: Clock = systemClock) {}

  ready(): Promise<void> {
    return this.#closed ? Promise.reject(new Error('the memory store is closed')) : Promise.resolve()
  }

  create(owner: string, id: string, entry: AddressEntry, options: WriteOptions = {}): Promise<StoredEntry> {
    try {
      const { photo } = options
      const [stored] = this.#insert(owner, [{ id, entry: copyOfJson(entry), card: keptCard(options.card), index: indexEntry(entry), photo: photo && copyOfPhoto(photo) }], options)
      if (!stored) throw new Error('the memory store stored nothing of one entry')
      return Promise.resolve(copy(stored))
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  /** Copies and indexes the entries a slice of time at a time, then stores them all in one step. */
  async createMany(owner: string, entries: readonly NewEntry[], options: WriteOptions = {}): Promise<void> {
    const slice = new TimeSlice()
    const prepared: IncomingEntry[] = []
    for (const { id, entry, card, photo } of entries) {
      prepared.push({ id, entry: copyOfJson(entry), card: keptCard(card), index: indexEntry(entry), photo: photo && copyOfPhoto(photo) })
      if (slice.due()) await slice.pause()
    }
    this.#insert(owner, prepared, options)
  }

  /**
   * Checks every id and card name and stores every entry, in one step: all or none. Throws
   * EntryExistsError, naming the id that is taken, or the entry that holds the name.
   */
  #insert(owner: string, entries: readonly IncomingEntry[], options: WriteOptions): StoredEntry[] {
    const book = this.#book(owner)
    const ids = new Set<string>()
    const names = new Map<string, string>()
    for (const { id, card } of entries) {
      if (book.entries.has(id) || ids.has(id)) throw new EntryExistsError(id)
      ids.add(id)
      if (card?.name === undefined) continue
      const holder = book.names.get(card.name) ?? names.get(card.name)
      if (holder !== undefined) throw new EntryExistsError(holder)
      names.set(card.name, id)
    }
    const now = this.clock().toISOString()
    const source = options.source ?? 'api'
    const created = entries.map(({ id, entry, card, index, photo }) => {
      const seq = ++book.latest
      const stored = { id, owner, version: 1, createdAt: now, updatedAt: now, entry, ...(card ? { card } : {}), ...(photo ? { photo: { etag: photo.etag } } : {}) }
      if (photo) keepPhoto(book, id, photo)
      book.entries.set(id, { stored, index, createdSeq: seq, changedSeq: seq, source })
      if (card?.name !== undefined) book.names.set(card.name, id)
      book.tombstones.delete(id)
      return stored
    })
    this.#recordResult(owner, options)
    return created
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    const kept = this.#find(owner, id)
    return Promise.resolve(kept && copy(kept.stored))
  }

  findByName(owner: string, name: string): Promise<StoredEntry | undefined> {
    const book = this.#books.get(owner)
    const id = book?.names.get(name)
    const kept = id === undefined ? undefined : book?.entries.get(id)
    return Promise.resolve(kept && copy(kept.stored))
  }

  update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[], options: UpdateOptions = {}): Promise<StoredEntry | undefined> {
    const kept = this.#find(owner, id, ifVersion)
    if (!kept) return Promise.resolve(undefined)
    const book = this.#book(owner)
    const card = options.card === undefined ? kept.stored.card : keptCard(options.card)
    const holder = card?.name === undefined ? undefined : book.names.get(card.name)
    if (holder !== undefined && holder !== id) return Promise.reject(new EntryExistsError(holder))
    const { photo } = options
    if (photo) keepPhoto(book, id, copyOfPhoto(photo))
    const stamp = photo === undefined ? kept.stored.photo : photo === null ? undefined : { etag: photo.etag }
    return Promise.resolve(copy(this.#replace(book, kept, entry, card, stamp, options.source)))
  }

  updateMany(owner: string, updates: readonly EntryUpdate[], options: ChangeOptions = {}): Promise<StoredEntry[] | undefined> {
    if (new Set(updates.map(({ id }) => id)).size < updates.length) return Promise.resolve(undefined)
    const found: { kept: Kept; entry: AddressEntry }[] = []
    for (const { id, ifVersion, entry } of updates) {
      const kept = this.#find(owner, id, ifVersion)
      if (!kept) return Promise.resolve(undefined)
      found.push({ kept, entry })
    }
    const book = this.#book(owner)
    return Promise.resolve(found.map(({ kept, entry }) => copy(this.#replace(book, kept, entry, kept.stored.card, kept.stored.photo, options.source))))
  }

  setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[], options: ChangeOptions = {}): Promise<StoredEntry | undefined> {
    const kept = this.#find(owner, id, ifVersion)
    if (!kept) return Promise.resolve(undefined)
    const book = this.#book(owner)
    if (photo) keepPhoto(book, id, copyOfPhoto(photo))
    return Promise.resolve(copy(this.#replace(book, kept, kept.stored.entry, kept.stored.card, photo ? { etag: photo.etag } : undefined, options.source)))
  }

  getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined> {
    const book = this.#books.get(owner)
    const etag = book?.entries.get(id)?.stored.photo?.etag
    const photo = etag === undefined ? undefined : book?.photos.get(id)?.get(etag)
    return Promise.resolve(photo && { etag: photo.etag, contentType: photo.contentType, data: photo[which].slice() })
  }

  /**
   * Stores the entry's next version in the book, with this card data and photo, keeping the one
   * it replaces in its history; returns it, the book's own.
   */
  #replace(book: Book, kept: Kept, entry: AddressEntry, card: CardData | undefined, photo: PhotoStamp | undefined, source: ChangeSource = 'api'): StoredEntry {
    const { id, owner } = kept.stored
    const now = this.clock().toISOString()
    this.#keepReplaced(book, kept, now, false)
    const updated: StoredEntry = {
      id,
      owner,
      version: kept.stored.version + 1,
      createdAt: kept.stored.createdAt,
      updatedAt: now,
      entry: copyOfJson(entry),
      ...(card ? { card } : {}),
      ...(photo ? { photo } : {}),
    }
    const name = kept.stored.card?.name
    if (name !== undefined && book.names.get(name) === id) book.names.delete(name)
    if (card?.name !== undefined) book.names.set(card.name, id)
    book.entries.set(id, { stored: updated, index: indexEntry(entry), createdSeq: kept.createdSeq, changedSeq: ++book.latest, source })
    return updated
  }

  /** Keeps the entry's current version in its history, replaced (or deleted) at `now`. */
  #keepReplaced(book: Book, kept: Kept, now: string, deleted: boolean): void {
    const versions = book.history.get(kept.stored.id) ?? []
    versions.push({ seq: ++this.#historySeq, stored: kept.stored, source: kept.source, replacedAt: now, deleted, searchText: kept.index.searchText })
    book.history.set(kept.stored.id, versions)
  }

  // A deletion makes no version, so what it was made through is not kept: the options are unused here.
  delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    const kept = this.#find(owner, id, ifVersion)
    if (!kept) return Promise.resolve(false)
    this.#remove(this.#book(owner), kept)
    return Promise.resolve(true)
  }

  /** Deletes the entry to the trash: its last version kept in its history, a tombstone for sync. */
  #remove(book: Book, kept: Kept): void {
    const { id } = kept.stored
    const name = kept.stored.card?.name
    const now = this.clock().toISOString()
    this.#keepReplaced(book, kept, now, true)
    book.entries.delete(id)
    if (name !== undefined) book.names.delete(name)
    book.tombstones.set(id, { id, seq: ++book.latest, deletedAt: now, name })
  }

  history(owner: string, id: string, limit: number, before: number = Number.POSITIVE_INFINITY): Promise<StoredVersion[]> {
    const book = this.#books.get(owner)
    const kept = book?.entries.get(id)
    const versions: StoredVersion[] = []
    if (kept && CURRENT_VERSION_SEQ < before) versions.push(versionOf({ seq: CURRENT_VERSION_SEQ, stored: kept.stored, source: kept.source }))
    for (const replaced of [...(book?.history.get(id) ?? [])].reverse()) if (replaced.seq < before) versions.push(versionOf(replaced))
    return Promise.resolve(versions.slice(0, limit))
  }

  restoreVersion(owner: string, id: string, seq: number, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    const kept = this.#find(owner, id, ifVersion)
    const book = this.#books.get(owner)
    const version = book?.history.get(id)?.find((replaced) => replaced.seq === seq)
    if (!kept || !book || !version) return Promise.resolve(undefined)
    const { card } = version.stored
    const holder = card?.name === undefined ? undefined : book.names.get(card.name)
    if (holder !== undefined && holder !== id) return Promise.reject(new EntryExistsError(holder))
    return Promise.resolve(copy(this.#replace(book, kept, version.stored.entry, card, version.stored.photo, 'restore')))
  }

  listTrash(owner: string, { q, limit, after }: TrashQuery): Promise<TrashedEntry[]> {
    const book = this.#books.get(owner)
    const order = (a: { deletedAt: string; id: string }, b: { deletedAt: string; id: string }) => compare(b.deletedAt, a.deletedAt) || compareCodePoints(b.id, a.id)
    const trashed = [...(book?.history.keys() ?? [])]
      .map((id) => book && trashedVersion(book, id))
      .filter((replaced): replaced is Replaced => replaced !== undefined && (q === undefined || replaced.searchText.includes(q)))
      .map(({ stored, replacedAt }): TrashedEntry => {
        const { id, version, createdAt, updatedAt, entry, card, photo } = copy(stored)
        return { id, version, createdAt, updatedAt, deletedAt: replacedAt, entry, ...(card ? { card } : {}), ...(photo ? { photo } : {}) }
      })
      .filter((entry) => after === undefined || order(after, entry) < 0)
      .sort(order)
    return Promise.resolve(trashed.slice(0, limit))
  }

  restoreFromTrash(owner: string, id: string): Promise<StoredEntry | undefined> {
    const book = this.#books.get(owner)
    if (book?.entries.has(id)) {
      const last = book.history.get(id)?.at(-1)
      return last?.deleted ? Promise.reject(new EntryExistsError(id)) : Promise.resolve(undefined)
    }
    const trashed = book && trashedVersion(book, id)
    if (!book || !trashed) return Promise.resolve(undefined)
    const holder = trashed.stored.card?.name === undefined ? undefined : book.names.get(trashed.stored.card.name)
    if (holder !== undefined) return Promise.reject(new EntryExistsError(holder))
    return Promise.resolve(copy(this.#revive(book, trashed.stored)))
  }

  /** Creates a deleted entry again with this content, at the version after its last, as a change that creates it. */
  #revive(book: Book, content: StoredEntry): StoredEntry {
    const { id } = content
    const last = book.history.get(id)?.at(-1)
    const seq = ++book.latest
    const stored: StoredEntry = { ...content, version: (last?.stored.version ?? content.version) + 1, updatedAt: this.clock().toISOString(), entry: copyOfJson(content.entry) }
    book.entries.set(id, { stored, index: indexEntry(stored.entry), createdSeq: seq, changedSeq: seq, source: 'restore' })
    if (stored.card?.name !== undefined) book.names.set(stored.card.name, id)
    book.tombstones.delete(id)
    return stored
  }

  emptyTrash(owner: string, id?: string): Promise<number> {
    const book = this.#books.get(owner)
    if (!book) return Promise.resolve(0)
    const ids = id === undefined ? [...book.history.keys()] : [id]
    let emptied = 0
    for (const each of ids) {
      if (!trashedVersion(book, each)) continue
      book.history.delete(each)
      book.photos.delete(each)
      emptied++
    }
    return Promise.resolve(emptied)
  }

  /** Every book is planned before any is written: nothing else runs meanwhile, so the whole is one step. */
  restoreBook(owners: readonly string[], at: string, { preview = false }: { readonly preview?: boolean } = {}): Promise<BookRestore[]> {
    const plans = owners.map((owner) => {
      const book = this.#books.get(owner)
      return { book, plan: book && planRestore(book, at) }
    })
    if (!preview) for (const { book, plan } of plans) if (book && plan) this.#restore(book, plan)
    return Promise.resolve(plans.map(({ plan }) => (plan ? briefOf(plan) : { restored: [], trashed: [], recreated: [] })))
  }

  #restore(book: Book, plan: RestorePlan): void {
    for (const { kept } of plan.trashed) this.#remove(book, kept)
    // Names first let go, then taken: entries that traded names each get their own back.
    for (const { kept } of plan.restored) if (kept.stored.card?.name !== undefined) book.names.delete(kept.stored.card.name)
    for (const { kept, then } of plan.restored) this.#replace(book, kept, then.entry, then.card, then.photo, 'restore')
    for (const { then } of plan.recreated) this.#revive(book, then)
  }

  forgetHistoryBefore(before: string, keep: number): Promise<number> {
    let forgotten = 0
    for (const book of this.#books.values()) {
      for (const [id, versions] of book.history) {
        const trashed = trashedVersion(book, id)
        if (trashed && trashed.replacedAt < before) {
          forgotten += versions.length
          book.history.delete(id)
          book.photos.delete(id)
          continue
        }
        const latest = new Set(versions.slice(Math.max(0, versions.length - keep)).map(({ seq }) => seq))
        const remaining = versions.filter(({ seq, replacedAt }) => replacedAt >= before || latest.has(seq))
        forgotten += versions.length - remaining.length
        book.history.set(id, remaining)
        this.#forgetUnusedPhotos(book, id)
      }
    }
    return Promise.resolve(forgotten)
  }

  /** Forgets the entry's photos that neither it nor any version in its history refers to. */
  #forgetUnusedPhotos(book: Book, id: string): void {
    const photos = book.photos.get(id)
    if (!photos) return
    const used = new Set([book.entries.get(id)?.stored.photo?.etag, ...(book.history.get(id) ?? []).map(({ stored }) => stored.photo?.etag)])
    for (const etag of photos.keys()) if (!used.has(etag)) photos.delete(etag)
  }

  list(owner: string, { filter, sort, limit, after }: ListQuery): Promise<StoredEntry[]> {
    const direction = sort.descending ? -1 : 1
    const position = (kept: Kept) => ({ value: sortValueOf(sort.key, kept.stored), id: kept.stored.id })
    const order = (a: { value: string; id: string }, b: { value: string; id: string }) =>
      direction * (compareCodePoints(a.value, b.value) || compareCodePoints(a.id, b.id))
    const page = this.#matching(owner, filter)
      .filter((kept) => after === undefined || order(position(kept), after) > 0)
      .sort((a, b) => order(position(a), position(b)))
      .slice(0, limit)
    return Promise.resolve(page.map((kept) => copy(kept.stored)))
  }

  listStamps(owner: string, limit: number, after?: StampPosition): Promise<EntryStamp[]> {
    // Times are ASCII, where UTF-16 order is code point order: only ids need compareCodePoints.
    const order = (a: StampPosition, b: StampPosition) => compare(a.createdAt, b.createdAt) || compareCodePoints(a.id, b.id)
    const page = [...(this.#books.get(owner)?.entries.values() ?? [])]
      .map((kept) => kept.stored)
      .filter((stored) => after === undefined || order(after, stored) < 0)
      .sort(order)
      .slice(0, limit)
    return Promise.resolve(page.map(({ id, version, createdAt, updatedAt, card }) => ({ id, version, createdAt, updatedAt, ...(card?.name === undefined ? {} : { name: card.name }) })))
  }

  count(owner: string, filter: EntryFilter): Promise<number> {
    return Promise.resolve(this.#matching(owner, filter).length)
  }

  labelCounts(owner: string): Promise<LabelCount[]> {
    const counts = new Map<string, number>()
    for (const { index } of this.#books.get(owner)?.entries.values() ?? []) {
      for (const term of index.terms) if (term.field === LABEL_NAME) counts.set(term.value, (counts.get(term.value) ?? 0) + 1)
    }
    return Promise.resolve([...counts].map(([label, count]) => ({ label, count })))
  }

  changePosition(owner: string): Promise<ChangePosition> {
    const book = this.#books.get(owner)
    return Promise.resolve({ latest: book?.latest ?? 0, forgottenThrough: book?.forgottenThrough ?? 0 })
  }

  changesSince(owner: string, since: number, limit: number): Promise<ChangePage> {
    const book = this.#books.get(owner)
    if (!book) return Promise.resolve({ changes: [], more: false })
    const changes: StoredChange[] = []
    for (const kept of book.entries.values()) {
      if (kept.changedSeq > since) {
        changes.push({ seq: kept.changedSeq, id: kept.stored.id, kind: kept.createdSeq > since ? 'created' : 'updated', stored: copy(kept.stored) })
      }
    }
    for (const tombstone of book.tombstones.values()) {
      if (tombstone.seq <= since) continue
      changes.push({ seq: tombstone.seq, id: tombstone.id, kind: 'deleted', ...(tombstone.name === undefined ? {} : { name: tombstone.name }) })
    }
    changes.sort((a, b) => a.seq - b.seq)
    return Promise.resolve({ changes: changes.slice(0, limit), more: changes.length > limit })
  }

  forgetDeletionsBefore(before: string): Promise<number> {
    let forgotten = 0
    for (const book of this.#books.values()) {
      for (const tombstone of book.tombstones.values()) {
        if (tombstone.deletedAt >= before) continue
        book.tombstones.delete(tombstone.id)
        book.forgottenThrough = Math.max(book.forgottenThrough, tombstone.seq)
        forgotten++
      }
    }
    return Promise.resolve(forgotten)
  }

  claimIdempotencyKey(
    owner: string,
    key: string,
    fingerprint: string,
    { now, leaseUntil, expiresAt }: { now: string; leaseUntil: string; expiresAt: string },
  ): Promise<IdempotencyClaim> {
    const name = idempotencyName(owner, key)
    const held = this.#idempotency.get(name)
    const free = !held || held.expiresAt <= now || (held.result === undefined && held.leaseUntil <= now)
    if (!free) return Promise.resolve({ claimed: false, record: { fingerprint: held.fingerprint, result: held.result } })
    this.#idempotency.set(name, { fingerprint, leaseUntil, expiresAt })
    return Promise.resolve({ claimed: true })
  }

  releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    const name = idempotencyName(owner, key)
    if (this.#idempotency.get(name)?.result === undefined) this.#idempotency.delete(name)
    return Promise.resolve()
  }

  forgetIdempotencyKeysBefore(now: string): Promise<number> {
    let forgotten = 0
    for (const [name, held] of this.#idempotency) {
      if (held.expiresAt > now) continue
      this.#idempotency.delete(name)
      forgotten++
    }
    return Promise.resolve(forgotten)
  }

  close(): Promise<void> {
    this.#closed = true
    this.#books.clear()
    this.#keys.clear()
    this.#idempotency.clear()
    return Promise.resolve()
  }

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    if (this.#keys.has(key.id)) return Promise.reject(new Error('an API key with this id exists'))
    const record = { ...key, lastUsedAt: null, revokedAt: null }
    this.#keys.set(key.id, record)
    return Promise.resolve({ ...record })
  }

  findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const record = this.#keys.get(id)
    return Promise.resolve(record && { ...record })
  }

  listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    const keys = [...this.#keys.values()].filter((key) => owner === undefined || key.owner === owner)
    keys.sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.id, b.id))
    return Promise.resolve(keys.map((key) => ({ ...key })))
  }

  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const record = this.#keys.get(id)
    if (!record) return Promise.resolve(undefined)
    const revoked = record.revokedAt === null ? { ...record, revokedAt: at } : record
    this.#keys.set(id, revoked)
    return Promise.resolve({ ...revoked })
  }

  touchApiKey(id: string, at: string): Promise<void> {
    const record = this.#keys.get(id)
    if (record) this.#keys.set(id, { ...record, lastUsedAt: at })
    return Promise.resolve()
  }

  #book(owner: string): Book {
    let book = this.#books.get(owner)
    if (!book) {
      book = new Book()
      this.#books.set(owner, book)
    }
    return book
  }

  /** Completes the claim of the request a write answers, as part of that write. */
  #recordResult(owner: string, { idempotency }: WriteOptions): void {
    if (!idempotency) return
    const name = idempotencyName(owner, idempotency.key)
    const held = this.#idempotency.get(name)
    if (held) this.#idempotency.set(name, { ...held, result: idempotency.result })
  }

  #find(owner: string, id: string, ifVersion?: readonly number[]): Kept | undefined {
    const kept = this.#books.get(owner)?.entries.get(id)
    if (!kept) return undefined
    return ifVersion === undefined || ifVersion.includes(kept.stored.version) ? kept : undefined
  }

  #matching(owner: string, filter: EntryFilter): Kept[] {
    return [...(this.#books.get(owner)?.entries.values() ?? [])].filter((kept) => matchesFilter(kept.index, filter))
  }
}

function versionOf({ seq, stored, source, replacedAt, deleted = false }: Pick<Replaced, 'seq' | 'stored' | 'source'> & Partial<Replaced>): StoredVersion {
  const { id, version, createdAt, updatedAt, entry, card, photo } = copy(stored)
  return { seq, id, version, createdAt, updatedAt, ...(replacedAt === undefined ? {} : { replacedAt }), deleted, source, entry, ...(card ? { card } : {}), ...(photo ? { photo } : {}) }
}

/** The entry's last version when it is in the trash: deleted, and not created again since. */
function trashedVersion(book: Book, id: string): Replaced | undefined {
  if (book.entries.has(id)) return undefined
  const last = book.history.get(id)?.at(-1)
  return last?.deleted ? last : undefined
}

/** The entry's version that was current at `at`, if it existed then. */
function versionAt(book: Book, id: string, at: string): StoredEntry | undefined {
  const kept = book.entries.get(id)
  if (kept && kept.stored.updatedAt <= at) return kept.stored
  return book.history.get(id)?.find(({ stored, replacedAt }) => stored.updatedAt <= at && at < replacedAt)?.stored
}

interface RestorePlan {
  readonly restored: { readonly kept: Kept; readonly then: StoredEntry }[]
  readonly trashed: { readonly kept: Kept }[]
  readonly recreated: { readonly then: StoredEntry }[]
}

/** What putting the book back as it was at `at` writes: see AddressBookStore.restoreBook. */
function planRestore(book: Book, at: string): RestorePlan {
  const ids = new Set<string>()
  for (const kept of book.entries.values()) if (kept.stored.updatedAt > at) ids.add(kept.stored.id)
  for (const [id, versions] of book.history) if (versions.some(({ replacedAt }) => replacedAt > at)) ids.add(id)
  const plan: RestorePlan = { restored: [], trashed: [], recreated: [] }
  for (const id of [...ids].sort(compareCodePoints)) {
    const kept = book.entries.get(id)
    const then = versionAt(book, id, at)
    if (kept && !then) plan.trashed.push({ kept })
    else if (kept && then && !sameContent(kept.stored, then)) plan.restored.push({ kept, then })
    else if (!kept && then) plan.recreated.push({ then })
  }
  return plan
}

function briefOf(plan: RestorePlan): BookRestore {
  return {
    restored: plan.restored.map(({ kept }) => kept.stored.id),
    trashed: plan.trashed.map(({ kept }) => kept.stored.id),
    recreated: plan.recreated.map(({ then }) => then.id),
  }
}

function sameContent(a: StoredEntry, b: StoredEntry): boolean {
  return JSON.stringify([a.entry, a.card ?? null, a.photo?.etag ?? null]) === JSON.stringify([b.entry, b.card ?? null, b.photo?.etag ?? null])
}

/** Keeps a photo of the entry's, beside any others its history refers to. */
function keepPhoto(book: Book, id: string, photo: PhotoData): void {
  const photos = book.photos.get(id) ?? new Map<string, PhotoData>()
  photos.set(photo.etag, photo)
  book.photos.set(id, photos)
}

function idempotencyName(owner: string, key: string): string {
  return `${owner}\u0000${key}`
}

function copyOfPhoto(photo: PhotoData): PhotoData {
  return { ...photo, image: photo.image.slice(), thumbnail: photo.thumbnail.slice() }
}

function copy(stored: StoredEntry): StoredEntry {
  return { ...stored, entry: copyOfJson(stored.entry), ...(stored.card ? { card: { ...stored.card } } : {}), ...(stored.photo ? { photo: { ...stored.photo } } : {}) }
}

/**
 * A deep copy of JSON data, which is all an entry holds: about seven times faster than
 * structuredClone, which goes through V8's serializer and back (it was a tenth of a GET's time).
 * A key named __proto__ is defined rather than assigned, so that it stays a key of the copy.
 */
function copyOfJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) return value.map(copyOfJson) as T
  const original = value as Record<string, unknown>
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(original)) {
    const member = copyOfJson(original[key])
    if (key === '__proto__') Object.defineProperty(copy, key, { value: member, enumerable: true, writable: true, configurable: true })
    else copy[key] = member
  }
  return copy as T
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
