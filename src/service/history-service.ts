import type { AddressEntry } from '../domain/address-entry.js'
import { EntryNotFoundError, InvalidCursorError, InvalidRestoreTimeError, PreconditionFailedError } from '../domain/errors.js'
import { foldCase } from '../domain/listing.js'
import { isEntryId } from '../domain/ids.js'
import type { Principal } from '../domain/principal.js'
import type { ChangeSource } from '../domain/vocabulary.js'
import { CURRENT_VERSION_SEQ, systemClock, type AddressBookStore, type BookRestore, type Clock, type PhotoStamp, type StoredVersion } from '../storage/store.js'
import { versioned, type Preconditions, type VersionedEntry } from './address-book-service.js'
import { requireScope } from './gate.js'
import { decodeOpaque, encodeOpaque } from './opaque-token.js'

/**
 * Nothing a person does is final: an entry's earlier versions, the trash of deleted entries, and
 * a whole book put back as it was at a time. The store keeps what every write replaced, in the
 * same transaction; this is what the owner may see and do with it, within the retention.
 */

/** A version of an entry, as its history lists it. */
export interface EntryVersion {
  readonly id: string
  readonly version: number
  /** When the version was made (ISO 8601, UTC, with milliseconds). */
  readonly changedAt: string
  /** When the next version, or the deletion, replaced it; absent for the current version. */
  readonly replacedAt?: string | undefined
  readonly source: ChangeSource
  /** Whether this is the entry's version now. */
  readonly current: boolean
  /** Whether the entry's deletion ended this version. */
  readonly deleted: boolean
  readonly entry: AddressEntry
  readonly photo?: PhotoStamp | undefined
}

export interface HistoryPage {
  /** Newest first; each version's predecessor is the one after it (or on the next page). */
  readonly versions: readonly EntryVersion[]
  /**
   * The version before the page's last one, when there is one: what the last one changed is told
   * against it. Not part of the page.
   */
  readonly previous?: EntryVersion | undefined
  /** The cursor of the next page, while older versions remain. */
  readonly next?: string | undefined
}

/** An entry in the trash, as listed. */
export interface TrashItem {
  readonly id: string
  /** The version it was at when deleted. */
  readonly version: number
  readonly deletedAt: string
  readonly entry: AddressEntry
  readonly photo?: PhotoStamp | undefined
}

export interface TrashPage {
  readonly entries: readonly TrashItem[]
  readonly next?: string | undefined
}

/** The standard times to put a book back to, as Google Contacts offers them, and a time of one's own. */
export const RESTORE_CHOICES = { '10m': 10 * 60_000, '1h': 3_600_000, yesterday: 86_400_000, '1w': 7 * 86_400_000 } as const
export type RestoreChoice = keyof typeof RESTORE_CHOICES

export interface BookRestoreResult extends BookRestore {
  /** The time the book was put back to (ISO 8601). */
  readonly at: string
  /** Whether this was only a preview: nothing was changed. */
  readonly preview: boolean
  /** What was done, in the same transaction, to the owner's other books (see HistoryOptions.booksOf). */
  readonly others: BookRestore
}

export interface HistoryOptions {
  /**
   * How long deleted entries stay in the trash and replaced versions are kept (and how far back a
   * book can be put): 30 days by default. 0 turns the trash off: a deleted entry is gone at once.
   */
  retentionMs?: number
  /** Versions of each entry kept beyond the retention (10 by default). */
  keepVersions?: number
  /**
   * The store's books of an owner that a restore puts back together, in one transaction: the
   * owner's entries, and what else the service keeps under keys of its own (CardDAV's group
   * cards). Just the owner's entries by default.
   */
  booksOf?: (owner: string) => readonly string[]
  clock?: Clock
}

export interface HistoryBook {
  /** The entry's versions, newest first, `limit` a page; EntryNotFoundError when the id has none. */
  history(principal: Principal, id: string, request: { limit: number; cursor?: string | undefined }): Promise<HistoryPage>
  /**
   * Gives the entry the content, card and photo of an earlier version, as a new version. Rejects
   * with EntryNotFoundError (no such entry or version), PreconditionFailedError, EntryExistsError
   * (the version's card name is another entry's now).
   */
  restoreVersion(principal: Principal, id: string, version: number, preconditions?: Preconditions): Promise<VersionedEntry>
  trash(principal: Principal, request: { q?: string | undefined; limit: number; cursor?: string | undefined }): Promise<TrashPage>
  /** Brings an entry back from the trash under its id; EntryNotFoundError when it is not there, EntryExistsError when its id or card name is taken. */
  restoreFromTrash(principal: Principal, id: string): Promise<VersionedEntry>
  /** Deletes an entry in the trash for good; EntryNotFoundError when it is not there. */
  deleteFromTrash(principal: Principal, id: string): Promise<void>
  /** Empties the trash for good; resolves how many entries went. */
  emptyTrash(principal: Principal): Promise<number>
  /**
   * Puts the book back as it was at a time (ISO 8601) or a standard choice; with preview, only
   * says what it would do. InvalidRestoreTimeError for a time outside the retention window.
   */
  restoreBook(principal: Principal, at: string, options?: { preview?: boolean }): Promise<BookRestoreResult>
  /** Forgets the history and trash older than the retention; run now and then. Resolves how many versions went. */
  forgetExpired(): Promise<number>
}

const CURSOR_VERSION = 1
const NOTHING: BookRestore = { restored: [], trashed: [], recreated: [] }
const DAY_MS = 86_400_000

export class HistoryService implements HistoryBook {
  readonly #store: AddressBookStore
  readonly #retentionMs: number
  readonly #keepVersions: number
  readonly #booksOf: (owner: string) => readonly string[]
  readonly #clock: Clock

  constructor(store: AddressBookStore, options: HistoryOptions = {}) {
    this.#store = store
    this.#retentionMs = options.retentionMs ?? 30 * DAY_MS
    this.#keepVersions = options.keepVersions ?? 10
    this.#booksOf = options.booksOf ?? ((owner) => [owner])
    this.#clock = options.clock ?? systemClock
  }

  /** Whether deleted entries go to the trash (a retention of 0 turns it off). */
  get trashKept(): boolean {
    return this.#retentionMs > 0
  }

  async history(principal: Principal, id: string, { limit, cursor }: { limit: number; cursor?: string | undefined }): Promise<HistoryPage> {
    requireScope(principal, 'read')
    const before = cursor === undefined ? undefined : decodeHistoryCursor(cursor, id)
    // One more than the page: the version before the page's last, which its change is told against.
    const versions = isEntryId(id) ? await this.#store.history(principal.owner, id, limit + 1, before) : []
    if (versions.length === 0 && before === undefined) throw new EntryNotFoundError(id)
    const page = versions.slice(0, limit).map(versionOf)
    const previous = versions[limit]
    const last = versions[limit - 1]
    return {
      versions: page,
      ...(previous ? { previous: versionOf(previous) } : {}),
      ...(previous && last ? { next: encodeOpaque(CURSOR_VERSION, [id, last.seq]) } : {}),
    }
  }

  async restoreVersion(principal: Principal, id: string, version: number, preconditions: Preconditions = {}): Promise<VersionedEntry> {
    requireScope(principal, 'write')
    const found = isEntryId(id) ? await this.#versionOf(principal.owner, id, version) : undefined
    if (!found) throw new EntryNotFoundError(id)
    const current = await this.#store.get(principal.owner, id)
    if (!current) throw new EntryNotFoundError(id)
    const named = preconditions.ifMatch === 'any' ? undefined : preconditions.ifMatch
    if (named && !named.includes(current.version)) throw new PreconditionFailedError(id)
    // The version it is at now: restoring it would change nothing.
    if (found.seq === CURRENT_VERSION_SEQ) return versioned(current)
    const restored = await this.#store.restoreVersion(principal.owner, id, found.seq, named ?? [current.version])
    if (!restored) throw new PreconditionFailedError(id)
    return versioned(restored)
  }

  /** The entry's newest version with this number (numbers run on across a deletion and a restore). */
  async #versionOf(owner: string, id: string, version: number): Promise<StoredVersion | undefined> {
    let before: number | undefined
    for (;;) {
      const page = await this.#store.history(owner, id, 100, before)
      const found = page.find((each) => each.version === version)
      if (found) return found
      const last = page.at(-1)
      if (page.length < 100 || !last) return undefined
      before = last.seq
    }
  }

  async trash(principal: Principal, { q, limit, cursor }: { q?: string | undefined; limit: number; cursor?: string | undefined }): Promise<TrashPage> {
    requireScope(principal, 'read')
    if (!this.trashKept) return { entries: [] }
    const folded = q === undefined || q.trim() === '' ? undefined : foldCase(q.trim())
    const after = cursor === undefined ? undefined : decodeTrashCursor(cursor, folded)
    const found = await this.#store.listTrash(principal.owner, { q: folded, limit: limit + 1, after })
    const entries = found.slice(0, limit).map(({ id, version, deletedAt, entry, photo }): TrashItem => ({ id, version, deletedAt, entry, ...(photo ? { photo } : {}) }))
    const last = entries.at(-1)
    return { entries, ...(found.length > limit && last ? { next: encodeOpaque(CURSOR_VERSION, [folded ?? null, last.deletedAt, last.id]) } : {}) }
  }

  async restoreFromTrash(principal: Principal, id: string): Promise<VersionedEntry> {
    requireScope(principal, 'write')
    const restored = isEntryId(id) && this.trashKept ? await this.#store.restoreFromTrash(principal.owner, id) : undefined
    if (!restored) throw new EntryNotFoundError(id)
    return versioned(restored)
  }

  async deleteFromTrash(principal: Principal, id: string): Promise<void> {
    requireScope(principal, 'write')
    const emptied = isEntryId(id) ? await this.#store.emptyTrash(principal.owner, id) : 0
    if (emptied === 0) throw new EntryNotFoundError(id)
  }

  async emptyTrash(principal: Principal): Promise<number> {
    requireScope(principal, 'write')
    return this.#store.emptyTrash(principal.owner)
  }

  async restoreBook(principal: Principal, at: string, { preview = false }: { preview?: boolean } = {}): Promise<BookRestoreResult> {
    requireScope(principal, 'write')
    const now = this.#clock().getTime()
    const time = at in RESTORE_CHOICES ? now - RESTORE_CHOICES[at as RestoreChoice] : Date.parse(at)
    const earliest = now - this.#retentionMs
    if (Number.isNaN(time) || time < earliest || time > now) {
      throw new InvalidRestoreTimeError(at, this.#retentionMs > 0 ? { from: new Date(earliest).toISOString(), to: new Date(now).toISOString() } : undefined)
    }
    const iso = new Date(time).toISOString()
    const others = this.#booksOf(principal.owner).filter((book) => book !== principal.owner)
    const [own = NOTHING, ...rest] = await this.#store.restoreBook([principal.owner, ...others], iso, { preview })
    const merged = (key: keyof BookRestore) => rest.flatMap((done) => done[key])
    return { at: iso, preview, ...own, others: { restored: merged('restored'), trashed: merged('trashed'), recreated: merged('recreated') } }
  }

  async forgetExpired(): Promise<number> {
    const before = new Date(this.#clock().getTime() - this.#retentionMs).toISOString()
    return this.#store.forgetHistoryBefore(before, this.#keepVersions)
  }
}

function versionOf({ id, version, updatedAt, replacedAt, source, deleted, entry, photo, seq }: StoredVersion): EntryVersion {
  return {
    id,
    version,
    changedAt: updatedAt,
    ...(replacedAt === undefined ? {} : { replacedAt }),
    source,
    current: seq === CURRENT_VERSION_SEQ,
    deleted,
    entry,
    ...(photo ? { photo } : {}),
  }
}

/** The seq a history page continues below; the cursor must be for this entry. */
function decodeHistoryCursor(cursor: string, id: string): number {
  const [madeFor, seq] = decodeOpaque(cursor, CURSOR_VERSION, 2) ?? []
  if (madeFor !== id) throw new InvalidCursorError(madeFor === undefined ? 'is malformed' : 'was made for another entry')
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new InvalidCursorError('is malformed')
  return seq
}

/** Where a page of the trash continues; the cursor must be for the same search. */
function decodeTrashCursor(cursor: string, q: string | undefined): { deletedAt: string; id: string } {
  const parts = decodeOpaque(cursor, CURSOR_VERSION, 3)
  if (!parts) throw new InvalidCursorError('is malformed')
  const [madeFor, deletedAt, id] = parts
  if (madeFor !== (q ?? null)) throw new InvalidCursorError('was made for another search')
  if (typeof deletedAt !== 'string' || Number.isNaN(Date.parse(deletedAt)) || typeof id !== 'string' || !isEntryId(id)) throw new InvalidCursorError('is malformed')
  return { deletedAt, id }
}
