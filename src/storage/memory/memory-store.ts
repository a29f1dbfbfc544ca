import { EntryExistsError } from '../../domain/errors.js'
import { TimeSlice } from '../../lib/time-slice.js'
import { keptCard } from '../card-data.js'
import type { AddressEntry } from '../../domain/address-entry.js'
import { compareCodePoints, indexEntry, LABEL_NAME, matchesFilter, sortValueOf, type EntryFilter, type EntryIndex } from '../../domain/listing.js'
import {
  systemClock,
  type ApiKeyRecord,
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
  type UpdateOptions,
  type WriteOptions,
} from '../store.js'

interface Kept {
  readonly stored: StoredEntry
  readonly index: EntryIndex
  /** The seq of the entry's creation and of its latest change. */
  readonly createdSeq: number
  readonly changedSeq: number
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
  /** Photos by entry id. */
  readonly photos = new Map<string, PhotoData>()
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
    const created = entries.map(({ id, entry, card, index, photo }) => {
      const seq = ++book.latest
      const stored = { id, owner, version: 1, createdAt: now, updatedAt: now, entry, ...(card ? { card } : {}), ...(photo ? { photo: { etag: photo.etag } } : {}) }
      if (photo) book.photos.set(id, photo)
      else book.photos.delete(id)
      book.entries.set(id, { stored, index, createdSeq: seq, changedSeq: seq })
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
    if (photo) book.photos.set(id, copyOfPhoto(photo))
    else if (photo === null) book.photos.delete(id)
    const stamp = photo === undefined ? kept.stored.photo : photo === null ? undefined : { etag: photo.etag }
    return Promise.resolve(copy(this.#replace(book, kept, entry, card, stamp)))
  }

  updateMany(owner: string, updates: readonly EntryUpdate[]): Promise<StoredEntry[] | undefined> {
    if (new Set(updates.map(({ id }) => id)).size < updates.length) return Promise.resolve(undefined)
    const found: { kept: Kept; entry: AddressEntry }[] = []
    for (const { id, ifVersion, entry } of updates) {
      const kept = this.#find(owner, id, ifVersion)
      if (!kept) return Promise.resolve(undefined)
      found.push({ kept, entry })
    }
    const book = this.#book(owner)
    return Promise.resolve(found.map(({ kept, entry }) => copy(this.#replace(book, kept, entry, kept.stored.card, kept.stored.photo))))
  }

  setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    const kept = this.#find(owner, id, ifVersion)
    if (!kept) return Promise.resolve(undefined)
    const book = this.#book(owner)
    if (photo) book.photos.set(id, copyOfPhoto(photo))
    else book.photos.delete(id)
    return Promise.resolve(copy(this.#replace(book, kept, kept.stored.entry, kept.stored.card, photo ? { etag: photo.etag } : undefined)))
  }

  getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined> {
    const photo = this.#books.get(owner)?.photos.get(id)
    return Promise.resolve(photo && { etag: photo.etag, contentType: photo.contentType, data: photo[which].slice() })
  }

  /** Stores the entry's next version in the book, with this card data and photo; returns it, the book's own. */
  #replace(book: Book, kept: Kept, entry: AddressEntry, card: CardData | undefined, photo: PhotoStamp | undefined): StoredEntry {
    const { id, owner } = kept.stored
    const updated: StoredEntry = {
      id,
      owner,
      version: kept.stored.version + 1,
      createdAt: kept.stored.createdAt,
      updatedAt: this.clock().toISOString(),
      entry: copyOfJson(entry),
      ...(card ? { card } : {}),
      ...(photo ? { photo } : {}),
    }
    if (kept.stored.card?.name !== undefined) book.names.delete(kept.stored.card.name)
    if (card?.name !== undefined) book.names.set(card.name, id)
    book.entries.set(id, { stored: updated, index: indexEntry(entry), createdSeq: kept.createdSeq, changedSeq: ++book.latest })
    return updated
  }

  delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    const kept = this.#find(owner, id, ifVersion)
    if (!kept) return Promise.resolve(false)
    const book = this.#book(owner)
    const name = kept.stored.card?.name
    book.entries.delete(id)
    book.photos.delete(id)
    if (name !== undefined) book.names.delete(name)
    book.tombstones.set(id, { id, seq: ++book.latest, deletedAt: this.clock().toISOString(), name })
    return Promise.resolve(true)
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
