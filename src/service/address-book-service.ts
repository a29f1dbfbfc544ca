import { createHash } from 'node:crypto'
import type { AddressEntry, UnmappedProperty } from '../domain/address-entry.js'
import {
  EntryExistsError,
  EntryNotFoundError,
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  InvalidImportError,
  InvalidPhotoError,
  PhotoNotFoundError,
  PhotoTooLargeError,
  PreconditionFailedError,
  PreconditionRequiredError,
  StoreUnavailableError,
  SyncTokenExpiredError,
  type ImportItemErrors,
} from '../domain/errors.js'
import { isEntryId, newEntryId } from '../domain/ids.js'
import { normalizeFilter, sortValueOf, type FilterRequest, type PagePosition, type Sort } from '../domain/listing.js'
import { mergePatch } from '../domain/merge-patch.js'
import type { Principal } from '../domain/principal.js'
import type { ChangeKind } from '../domain/vocabulary.js'
import { systemClock, type AddressBookStore, type Clock, type NewEntry, type PhotoData, type PhotoImage, type PhotoStamp, type StoredEntry, type WriteOptions } from '../storage/store.js'
import { checkedEntry, judgedEntry, requireScope } from './gate.js'
import { decodeCursor, encodeCursor, fingerprintOf } from './cursor.js'
import { decodeSyncToken, encodeSyncToken } from './sync-token.js'
import { inBatches } from './batches.js'
import { TimeSlice } from '../lib/time-slice.js'

/** A photo's image as the service answers it, and what an entry says of its photo. */
export type { PhotoImage, PhotoStamp } from '../storage/store.js'

/** An entry with the version it is at: 1 when created, one more with every change. */
export interface VersionedEntry {
  readonly id: string
  readonly version: number
  readonly entry: AddressEntry
  /** What the entry says of its photo, when it has one. */
  readonly photo?: PhotoStamp | undefined
}

/** Reads a photo's bytes and makes them what the book keeps; rejects with InvalidPhotoError or PhotoTooLargeError. */
export type PhotoProcessor = (bytes: Uint8Array) => Promise<PhotoData>

/** Which image of a photo: the photo itself, or its thumbnail. */
export type PhotoSize = 'image' | 'thumbnail'

/**
 * What a write is conditional on (RFC 9110 §13.1): `ifMatch` the versions the entry must be at
 * (`any`: it must exist); `ifNoneMatch: any` that it must not exist.
 */
export interface Preconditions {
  readonly ifMatch?: 'any' | readonly number[] | undefined
  readonly ifNoneMatch?: 'any' | undefined
}

/** One page of a listing, as a caller asks for it. */
export interface ListRequest extends FilterRequest {
  readonly limit: number
  /** Where the previous page ended, as its `next` said. */
  readonly cursor?: string | undefined
  readonly sort: Sort
  /** Also count every entry that passes the filters. */
  readonly count?: boolean | undefined
}

export interface ListResult {
  readonly entries: readonly VersionedEntry[]
  /** The cursor of the next page, while more remain. */
  readonly next?: string | undefined
  readonly total?: number | undefined
}

/** One entry of an import, as its format was read: not yet validated. */
export interface ImportItem {
  /** The id the source gives it, if any; otherwise the service makes one. */
  readonly id?: string | undefined
  readonly entry: unknown
  /** Why the item could not be read at all (a line that is not JSON): it fails with this. */
  readonly unreadable?: string | undefined
  readonly unmapped?: readonly UnmappedProperty[] | undefined
  /** Where the item is in its source, to name it in errors: its line, or its card. */
  readonly line?: number | undefined
  readonly card?: number | undefined
  /**
   * The photo the source gives it, as it came, and the name it has there (PHOTO, photo): judged
   * and normalized with the entry; one the service cannot read is listed as unmapped instead.
   */
  readonly photo?: { readonly bytes: Uint8Array; readonly property: string } | undefined
}

/** A new entry of an import, and where its item was in the source. */
export interface ImportedEntry {
  readonly id: string
  readonly version: number
  readonly line?: number | undefined
  readonly card?: number | undefined
  readonly unmapped?: readonly UnmappedProperty[] | undefined
}

/** A new entry, and whether this is the recorded answer to an earlier request with the same idempotency key. */
export interface CreatedEntry extends VersionedEntry {
  readonly replayed: boolean
}

/** What a create was: made now, or the recorded answer to an earlier request with the same idempotency key. */
export interface Replayable<T> {
  readonly result: T
  readonly replayed: boolean
}

export interface WriteRequest {
  /** The client's idempotency key: a retry with it gets the first request's result and writes nothing. */
  readonly idempotencyKey?: string | undefined
}

/** An entry with the time of its last change, as a read or an export hands it out. */
export interface ExportedEntry extends VersionedEntry {
  /** ISO 8601, UTC, with milliseconds. */
  readonly updatedAt: string
  /** The photo's image, when the export asked for photos and the entry has one. */
  readonly image?: PhotoImage | undefined
}

export interface ExportRequest extends FilterRequest {
  readonly sort: Sort
  /** Read each entry's photo too (an export that carries them); one entry's photo is held at a time. */
  readonly photos?: boolean | undefined
}

export interface Change {
  readonly id: string
  readonly change: ChangeKind
  /** The entry and its version, for a creation or an update. */
  readonly current?: VersionedEntry | undefined
}

export interface ChangesRequest {
  /** The token of the previous sync (its `next`); none to start at the current position. */
  readonly since?: string | undefined
  readonly limit: number
}

export interface ChangesResult {
  readonly changes: readonly Change[]
  /** The token to send next time. */
  readonly next: string
  /** Whether more changes follow (the page was cut at the limit). */
  readonly more: boolean
}

/**
 * The address book as its callers see it; AddressBookService is the implementation. Every
 * operation acts on the principal's own book only, and checks its scope first (rejecting with
 * InsufficientScopeError). An entry of another owner is not found, exactly like a missing one.
 */
export interface AddressBook {
  /**
   * Stores a new entry; rejects with InvalidEntryError, and with an idempotency key that an
   * unfinished request holds (IdempotencyKeyInUseError) or a different request used (IdempotencyKeyReusedError).
   */
  create(principal: Principal, value: unknown, request?: WriteRequest): Promise<CreatedEntry>
  /**
   * Stores every item as a new entry, all or none; rejects with InvalidImportError naming each
   * item that is not a valid entry or whose id is not free (the first IMPORT_ERROR_LIMIT errors:
   * checking stops there), and as create does for idempotency keys. The items are read as they
   * are checked, a slice at a time, so a source may parse lazily; what reading an item throws
   * rejects the import.
   */
  importEntries(principal: Principal, items: Iterable<ImportItem>, request?: WriteRequest): Promise<Replayable<readonly ImportedEntry[]>>
  /**
   * Every entry that passes the filters, in the order asked for, read a batch at a time as the
   * caller consumes them (not a snapshot: entries written meanwhile may or may not appear).
   * The first batch is read before this resolves, so that a store that cannot answer rejects here.
   */
  exportEntries(principal: Principal, request: ExportRequest): Promise<AsyncIterable<ExportedEntry>>
  /**
   * What changed in the book since a token, oldest first, each entry once at its latest change;
   * rejects with InvalidSyncTokenError, or SyncTokenExpiredError when the token is older than the
   * changes kept.
   */
  changes(principal: Principal, request: ChangesRequest): Promise<ChangesResult>
  /** Rejects with EntryNotFoundError. */
  get(principal: Principal, id: string): Promise<ExportedEntry>
  /**
   * Replaces an existing entry and resolves its new version; rejects with InvalidEntryError,
   * EntryNotFoundError, PreconditionFailedError or PreconditionRequiredError.
   */
  update(principal: Principal, id: string, value: unknown, preconditions?: Preconditions): Promise<number>
  /** Merges a JSON Merge Patch into an entry and resolves its new version; rejects as update does. */
  patch(principal: Principal, id: string, patch: unknown, preconditions?: Preconditions): Promise<number>
  /** Rejects with EntryNotFoundError, PreconditionFailedError or PreconditionRequiredError. */
  delete(principal: Principal, id: string, preconditions?: Preconditions): Promise<void>
  /**
   * Gives the entry this photo (its bytes judged and normalized first), as a write of the entry:
   * a new version and a change, conditional as any write. Resolves the entry as it is now.
   * Rejects with InvalidPhotoError, PhotoTooLargeError, and as update does.
   */
  setPhoto(principal: Principal, id: string, bytes: Uint8Array, preconditions?: Preconditions): Promise<VersionedEntry>
  /** Takes the entry's photo away, as a write of the entry; rejects with PhotoNotFoundError when it has none. */
  removePhoto(principal: Principal, id: string, preconditions?: Preconditions): Promise<VersionedEntry>
  /** One image of the entry's photo; rejects with EntryNotFoundError, or PhotoNotFoundError when it has none. */
  photo(principal: Principal, id: string, size: PhotoSize): Promise<PhotoImage>
  /** A page of the principal's book; rejects with InvalidCursorError. */
  list(principal: Principal, request: ListRequest): Promise<ListResult>
  /** Resolves when the address book can serve (its store reachable and migrated). */
  ready(): Promise<void>
}

export interface AddressBookServiceOptions {
  /** Makes ids; UUIDv7 hex by default. */
  newId?: () => string
  /** Refuse writes that are not conditional on a version (If-Match), with PreconditionRequiredError. */
  requireIfMatch?: boolean
  /** Judges and normalizes photos; without one, setPhoto rejects every photo as unreadable. */
  photos?: PhotoProcessor
  /** How long deletions are remembered for sync, and sync tokens stay good (30 days by default). */
  syncRetentionMs?: number
  /** How long an idempotency key keeps its result (24 hours by default). */
  idempotencyExpiryMs?: number
  /** Whether deleted entries go to the trash (true by default); without it, a deletion is for good at once. */
  trashKept?: boolean
  clock?: Clock
}

/**
 * The most failing fields an import's refusal names. Past them checking stops: a body of a million
 * bad lines costs what a hundred do, and the answer stays small.
 */
export const IMPORT_ERROR_LIMIT = 100

/** How often a patch is merged again when another writer changed the entry in between. */
const PATCH_ATTEMPTS = 5
/** Entries an export reads from the store at a time. */
const EXPORT_BATCH = 500
/**
 * The same for an export with photos: about 65 KB each as sent, so that a batch is sent before
 * the garbage collector has moved it to the old generation, where it would wait for a full
 * collection (500 at a time grew the server by 10 MiB more over 10,000 photos).
 */
const PHOTO_EXPORT_BATCH = 50
const DAY_MS = 86_400_000
/**
 * How long a request holds its idempotency key before a retry may take it over: far longer than
 * any write takes, short enough that a key whose request died with its process comes free.
 */
const IDEMPOTENCY_LEASE_MS = 60_000

/**
 * The address book's business rules: entries are validated before they are stored, ids are
 * made here, an id that cannot exist is simply not found, each owner's book is apart from every
 * other, and conditional writes change nothing unless the entry is at a version the caller
 * named. It knows nothing of HTTP and nothing of how the store keeps its data.
 */
export class AddressBookService implements AddressBook {
  readonly #store: AddressBookStore
  readonly #newId: () => string
  readonly #requireIfMatch: boolean
  readonly #photos: PhotoProcessor
  readonly #syncRetentionMs: number
  readonly #idempotencyExpiryMs: number
  readonly #trashKept: boolean
  readonly #clock: Clock

  constructor(store: AddressBookStore, options: AddressBookServiceOptions = {}) {
    this.#store = store
    this.#newId = options.newId ?? newEntryId
    this.#requireIfMatch = options.requireIfMatch ?? false
    this.#photos = options.photos ?? noPhotos
    this.#syncRetentionMs = options.syncRetentionMs ?? 30 * DAY_MS
    this.#idempotencyExpiryMs = options.idempotencyExpiryMs ?? DAY_MS
    this.#trashKept = options.trashKept ?? true
    this.#clock = options.clock ?? systemClock
  }

  async create(principal: Principal, value: unknown, request: WriteRequest = {}): Promise<CreatedEntry> {
    requireScope(principal, 'write')
    const entry = checkedEntry(value)
    const id = this.#newId()
    const fingerprint = request.idempotencyKey === undefined ? '' : requestFingerprint(['create', value])
    const outcome = await this.#idempotent(principal.owner, request, fingerprint, { id, version: 1 }, async (options) => {
      await this.#store.create(principal.owner, id, entry, options)
    })
    return { ...outcome.result, entry, replayed: outcome.replayed }
  }

  async importEntries(principal: Principal, items: Iterable<ImportItem>, request: WriteRequest = {}): Promise<Replayable<readonly ImportedEntry[]>> {
    requireScope(principal, 'write')
    const { entries, fingerprint } = await checkedImport(items, this.#newId, request.idempotencyKey !== undefined)
    const imported: ImportedEntry[] = []
    const created: NewEntry[] = []
    const slice = new TimeSlice()
    for (const { id, entry, item } of entries) {
      const { line, card } = item
      const { photo, refused } = await this.#importedPhoto(item)
      const unmapped = [...(item.unmapped ?? []), ...(refused ? [refused] : [])]
      created.push({ id, entry, ...(photo ? { photo } : {}) })
      imported.push({
        id,
        version: 1,
        ...(line === undefined ? {} : { line }),
        ...(card === undefined ? {} : { card }),
        ...(unmapped.length > 0 ? { unmapped } : {}),
      })
      if (slice.due()) await slice.pause()
    }
    try {
      return await this.#idempotent(principal.owner, request, fingerprint, imported, async (options) => {
        if (created.length > 0) await this.#store.createMany(principal.owner, created, { ...options, source: 'import' })
      })
    } catch (error) {
      if (!(error instanceof EntryExistsError)) throw error
      const index = entries.findIndex((item) => item.id === error.id)
      const { line, card } = entries[index]?.item ?? {}
      throw new InvalidImportError([{ index, line, card, errors: [{ path: '/id', message: 'is the id of an entry already in the book' }] }])
    }
  }

  /** An imported item's photo as the book keeps it; one that cannot be read is listed, with why, and the entry comes without it. */
  async #importedPhoto({ photo }: ImportItem): Promise<{ photo?: PhotoData; refused?: UnmappedProperty }> {
    if (!photo) return {}
    try {
      return { photo: await this.#photos(photo.bytes) }
    } catch (error) {
      if (!(error instanceof InvalidPhotoError || error instanceof PhotoTooLargeError)) throw error
      const size = `${photo.bytes.byteLength.toLocaleString('en')} bytes`
      return { refused: { property: photo.property, value: size, reason: error.detail ?? error.message } }
    }
  }

  async exportEntries(principal: Principal, request: ExportRequest): Promise<AsyncIterable<ExportedEntry>> {
    requireScope(principal, 'read')
    const { owner } = principal
    const { sort } = request
    const filter = normalizeFilter(request)
    const batch = request.photos === true ? PHOTO_EXPORT_BATCH : EXPORT_BATCH
    const read = (after?: PagePosition) => this.#store.list(owner, { filter, sort, limit: batch, after })
    const entries = inBatches(read, batch, (last) => ({ value: sortValueOf(sort.key, last), id: last.id }), await read())
    const store = this.#store
    async function* exports(): AsyncGenerator<ExportedEntry> {
      for await (const stored of entries) {
        // A photo deleted since the page was read is simply not there.
        const image = request.photos === true && stored.photo ? await store.getPhoto(owner, stored.id, 'image') : undefined
        yield image ? { ...exported(stored), image } : exported(stored)
      }
    }
    return exports()
  }

  async changes(principal: Principal, request: ChangesRequest): Promise<ChangesResult> {
    requireScope(principal, 'read')
    const { owner } = principal
    const issuedAt = this.#clock().getTime()
    if (request.since === undefined) {
      const { latest } = await this.#store.changePosition(owner)
      return { changes: [], next: encodeSyncToken(owner, { seq: latest, issuedAt }), more: false }
    }
    const since = decodeSyncToken(owner, request.since)
    if (issuedAt - since.issuedAt > this.#syncRetentionMs) throw new SyncTokenExpiredError()
    const page = await this.#store.changesSince(owner, since.seq, request.limit)
    // Read after the page: deletions forgotten while it was read make the page incomplete, and
    // this position shows them. A token ahead of the book comes from a store that lost its
    // history (a memory store restarted): the client must start again too.
    const { latest, forgottenThrough } = await this.#store.changePosition(owner)
    if (since.seq < forgottenThrough || since.seq > latest) throw new SyncTokenExpiredError()
    const changes = page.changes.map(({ id, kind, stored }): Change => (stored ? { id, change: kind, current: versioned(stored) } : { id, change: kind }))
    const seq = page.changes.at(-1)?.seq ?? since.seq
    return { changes, next: encodeSyncToken(owner, { seq, issuedAt }), more: page.more }
  }

  /**
   * Forgets what has expired: deletions older than the sync retention (tokens from before them
   * get SyncTokenExpiredError) and idempotency keys past their time. Run now and then.
   */
  async forgetExpired(): Promise<{ deletions: number; idempotencyKeys: number }> {
    const now = this.#clock().getTime()
    const deletions = await this.#store.forgetDeletionsBefore(new Date(now - this.#syncRetentionMs).toISOString())
    const idempotencyKeys = await this.#store.forgetIdempotencyKeysBefore(new Date(now).toISOString())
    return { deletions, idempotencyKeys }
  }

  async get(principal: Principal, id: string): Promise<ExportedEntry> {
    requireScope(principal, 'read')
    const stored = isEntryId(id) ? await this.#store.get(principal.owner, id) : undefined
    if (!stored) throw new EntryNotFoundError(id)
    return exported(stored)
  }

  /** Replaces an existing entry; never creates one. */
  async update(principal: Principal, id: string, value: unknown, preconditions: Preconditions = {}): Promise<number> {
    requireScope(principal, 'write')
    const entry = checkedEntry(value)
    this.#checkWrite(principal, preconditions)
    await this.#refuseExisting(principal, id, preconditions)
    const updated = isEntryId(id) ? await this.#store.update(principal.owner, id, entry, versionsOf(preconditions)) : undefined
    if (!updated) throw failedWrite(id, preconditions)
    return updated.version
  }

  /**
   * Merges the patch into the entry as it is now and stores the result on condition that it has
   * not changed meanwhile; if it has (and the caller named no version), merges again.
   */
  async patch(principal: Principal, id: string, patch: unknown, preconditions: Preconditions = {}): Promise<number> {
    this.#checkWrite(principal, preconditions)
    await this.#refuseExisting(principal, id, preconditions)
    const named = versionsOf(preconditions)
    for (let attempt = 0; attempt < PATCH_ATTEMPTS; attempt++) {
      const current = isEntryId(id) ? await this.#store.get(principal.owner, id) : undefined
      if (!current || (named && !named.includes(current.version))) throw failedWrite(id, preconditions)
      const entry = checkedEntry(mergePatch(current.entry, patch))
      const updated = await this.#store.update(principal.owner, id, entry, [current.version])
      if (updated) return updated.version
      if (named) throw new PreconditionFailedError(id)
    }
    throw new StoreUnavailableError({ cause: new Error(`entry ${id} kept changing while it was being patched`) })
  }

  async delete(principal: Principal, id: string, preconditions: Preconditions = {}): Promise<void> {
    this.#checkWrite(principal, preconditions)
    await this.#refuseExisting(principal, id, preconditions)
    const deleted = isEntryId(id) && (await this.#store.delete(principal.owner, id, versionsOf(preconditions)))
    if (!deleted) throw failedWrite(id, preconditions)
    if (!this.#trashKept) await this.#store.emptyTrash(principal.owner, id)
  }

  async setPhoto(principal: Principal, id: string, bytes: Uint8Array, preconditions: Preconditions = {}): Promise<VersionedEntry> {
    this.#checkWrite(principal, preconditions)
    if (!isEntryId(id)) throw new EntryNotFoundError(id)
    await this.#refuseExisting(principal, id, preconditions)
    if (!(await this.#store.get(principal.owner, id))) throw failedWrite(id, preconditions)
    const photo = await this.#photos(bytes)
    const stored = await this.#store.setPhoto(principal.owner, id, photo, versionsOf(preconditions))
    if (!stored) throw failedWrite(id, preconditions)
    return versioned(stored)
  }

  async removePhoto(principal: Principal, id: string, preconditions: Preconditions = {}): Promise<VersionedEntry> {
    this.#checkWrite(principal, preconditions)
    await this.#refuseExisting(principal, id, preconditions)
    const current = isEntryId(id) ? await this.#store.get(principal.owner, id) : undefined
    if (!current) throw failedWrite(id, preconditions)
    if (!current.photo) throw new PhotoNotFoundError(id)
    const stored = await this.#store.setPhoto(principal.owner, id, null, versionsOf(preconditions) ?? [current.version])
    if (!stored) throw new PreconditionFailedError(id)
    return versioned(stored)
  }

  async photo(principal: Principal, id: string, size: PhotoSize): Promise<PhotoImage> {
    requireScope(principal, 'read')
    const image = isEntryId(id) ? await this.#store.getPhoto(principal.owner, id, size) : undefined
    if (image) return image
    if (!isEntryId(id) || !(await this.#store.get(principal.owner, id))) throw new EntryNotFoundError(id)
    throw new PhotoNotFoundError(id)
  }

  ready(): Promise<void> {
    return this.#store.ready()
  }

  /** A page in the requested order (ties by id), after the cursor's position. */
  async list(principal: Principal, request: ListRequest): Promise<ListResult> {
    requireScope(principal, 'read')
    const { sort, limit } = request
    const filter = normalizeFilter(request)
    const fingerprint = fingerprintOf(sort, filter)
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, fingerprint, sort)
    // One more than asked tells whether another page follows.
    const found = await this.#store.list(principal.owner, { filter, sort, limit: limit + 1, after })
    const page = found.slice(0, limit)
    const last = page.at(-1)
    const next = found.length > limit && last ? encodeCursor(fingerprint, { value: sortValueOf(sort.key, last), id: last.id }) : undefined
    const total = request.count === true ? await this.#store.count(principal.owner, filter) : undefined
    return { entries: page.map(versioned), next, total }
  }

  /**
   * Runs a write once per idempotency key: the first request with a key claims it and records
   * its result with the write, in the same transaction; a retry with the same request gets that
   * result and writes nothing. The result is known before the write (ids are made here); the
   * fingerprint tells a retry of the same request from a different request with the same key.
   */
  async #idempotent<T>(owner: string, { idempotencyKey: key }: WriteRequest, fingerprint: string, result: T, write: (options: WriteOptions) => Promise<void>): Promise<Replayable<T>> {
    if (key === undefined) {
      await write({})
      return { result, replayed: false }
    }
    const now = this.#clock().getTime()
    const times = {
      now: new Date(now).toISOString(),
      leaseUntil: new Date(now + IDEMPOTENCY_LEASE_MS).toISOString(),
      expiresAt: new Date(now + this.#idempotencyExpiryMs).toISOString(),
    }
    const claim = await this.#store.claimIdempotencyKey(owner, key, fingerprint, times)
    if (!claim.claimed) {
      if (claim.record?.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError()
      if (claim.record.result === undefined) throw new IdempotencyKeyInUseError()
      return { result: JSON.parse(claim.record.result) as T, replayed: true }
    }
    try {
      await write({ idempotency: { key, result: JSON.stringify(result) } })
    } catch (error) {
      await this.#store.releaseIdempotencyKey(owner, key).catch(() => undefined)
      throw error
    }
    return { result, replayed: false }
  }

  #checkWrite(principal: Principal, preconditions: Preconditions): void {
    requireScope(principal, 'write')
    if (this.#requireIfMatch && preconditions.ifMatch === undefined) throw new PreconditionRequiredError()
  }

  /** `If-None-Match: *` on a write: there must be no such entry (and writes other than create need one). */
  async #refuseExisting(principal: Principal, id: string, preconditions: Preconditions): Promise<void> {
    if (preconditions.ifNoneMatch !== 'any') return
    const exists = isEntryId(id) && (await this.#store.get(principal.owner, id)) !== undefined
    throw exists ? new PreconditionFailedError(id) : new EntryNotFoundError(id)
  }
}

/** The versions a write is conditional on; none when any existing version will do. */
function versionsOf(preconditions: Preconditions): readonly number[] | undefined {
  return preconditions.ifMatch === 'any' ? undefined : preconditions.ifMatch
}

/** A conditional write that changed nothing failed its condition; an unconditional one found nothing. */
function failedWrite(id: string, preconditions: Preconditions): Error {
  return preconditions.ifMatch === undefined ? new EntryNotFoundError(id) : new PreconditionFailedError(id)
}


/** An entry as the service hands out what it stored: its id, version, content and photo stamp. */
export function versioned(stored: StoredEntry): VersionedEntry {
  return { id: stored.id, version: stored.version, entry: stored.entry, ...(stored.photo ? { photo: stored.photo } : {}) }
}

/** Without a processor, no bytes are a photo this service reads. */
function noPhotos(): Promise<PhotoData> {
  return Promise.reject(new InvalidPhotoError('this service has no image decoder'))
}

function exported(stored: StoredEntry): ExportedEntry {
  return { ...versioned(stored), updatedAt: stored.updatedAt }
}

/** What identifies a request for its idempotency key: a hash of what it asked for. */
function requestFingerprint(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('base64url')
}

interface CheckedImport {
  /** Every item, valid, with the id it is stored under. */
  readonly entries: readonly { readonly id: string; readonly entry: AddressEntry; readonly item: ImportItem }[]
  /** The import's fingerprint for its idempotency key; empty when it has none. */
  readonly fingerprint: string
}

/**
 * Reads and checks every item of an import, a slice of time at a time; rejects with
 * InvalidImportError naming each item that cannot be stored (not a valid entry, an id that cannot
 * be one, an id given twice), its first IMPORT_ERROR_LIMIT failing fields at most.
 */
async function checkedImport(items: Iterable<ImportItem>, newId: () => string, fingerprinted: boolean): Promise<CheckedImport> {
  const slice = new TimeSlice()
  const hash = fingerprinted ? createHash('sha256').update('import') : undefined
  const entries: { id: string; entry: AddressEntry; item: ImportItem }[] = []
  const problems: ImportItemErrors[] = []
  const firstWithId = new Map<string, number>()
  let errorCount = 0
  let index = 0
  for (const item of items) {
    const { photo, ...described } = item
    hash?.update(JSON.stringify(described))
    if (photo) hash?.update(photo.bytes)
    const judged = item.unreadable === undefined ? judgedEntry(item.entry) : { errors: [{ path: '', message: item.unreadable }] }
    const { errors } = judged
    if (item.id !== undefined) {
      const earlier = firstWithId.get(item.id)
      if (!isEntryId(item.id)) errors.push({ path: '/id', message: 'must be 1 to 64 letters, digits and dashes, and not "changes"' })
      else if (earlier !== undefined) errors.push({ path: '/id', message: 'is the id of an earlier item too' })
      else firstWithId.set(item.id, index)
    }
    if (errors.length > 0) {
      const named = errors.slice(0, IMPORT_ERROR_LIMIT - errorCount)
      problems.push({ index, line: item.line, card: item.card, errors: named })
      errorCount += named.length
      if (errorCount >= IMPORT_ERROR_LIMIT) throw new InvalidImportError(problems, { complete: false })
    } else if (problems.length === 0 && judged.entry) {
      entries.push({ id: item.id ?? newId(), entry: judged.entry, item })
    }
    index++
    if (slice.due()) await slice.pause()
  }
  if (problems.length > 0) throw new InvalidImportError(problems)
  return { entries, fingerprint: hash?.digest('base64url') ?? '' }
}
