import { validateAddressEntry, type AddressEntry } from '../domain/address-entry.js'
import {
  EntryNotFoundError,
  InsufficientScopeError,
  InvalidEntryError,
  PreconditionFailedError,
  PreconditionRequiredError,
  StoreUnavailableError,
} from '../domain/errors.js'
import { isEntryId, newEntryId } from '../domain/ids.js'
import { normalizeFilter, sortValueOf, type FilterRequest, type Sort } from '../domain/listing.js'
import { mergePatch } from '../domain/merge-patch.js'
import { hasScope, type Principal, type Scope } from '../domain/principal.js'
import type { AddressBookStore } from '../storage/store.js'
import { decodeCursor, encodeCursor, fingerprintOf } from './cursor.js'

/** An entry with the version it is at: 1 when created, one more with every change. */
export interface VersionedEntry {
  readonly id: string
  readonly version: number
  readonly entry: AddressEntry
}

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

/**
 * The address book as its callers see it; AddressBookService is the implementation. Every
 * operation acts on the principal's own book only, and checks its scope first (rejecting with
 * InsufficientScopeError). An entry of another owner is not found, exactly like a missing one.
 */
export interface AddressBook {
  /** Stores a new entry; rejects with InvalidEntryError. */
  create(principal: Principal, value: unknown): Promise<VersionedEntry>
  /** Rejects with EntryNotFoundError. */
  get(principal: Principal, id: string): Promise<VersionedEntry>
  /**
   * Replaces an existing entry and resolves its new version; rejects with InvalidEntryError,
   * EntryNotFoundError, PreconditionFailedError or PreconditionRequiredError.
   */
  update(principal: Principal, id: string, value: unknown, preconditions?: Preconditions): Promise<number>
  /** Merges a JSON Merge Patch into an entry and resolves its new version; rejects as update does. */
  patch(principal: Principal, id: string, patch: unknown, preconditions?: Preconditions): Promise<number>
  /** Rejects with EntryNotFoundError, PreconditionFailedError or PreconditionRequiredError. */
  delete(principal: Principal, id: string, preconditions?: Preconditions): Promise<void>
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
}

/** How often a patch is merged again when another writer changed the entry in between. */
const PATCH_ATTEMPTS = 5

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

  constructor(store: AddressBookStore, options: AddressBookServiceOptions = {}) {
    this.#store = store
    this.#newId = options.newId ?? newEntryId
    this.#requireIfMatch = options.requireIfMatch ?? false
  }

  async create(principal: Principal, value: unknown): Promise<VersionedEntry> {
    requireScope(principal, 'write')
    const entry = checkedEntry(value)
    const stored = await this.#store.create(principal.owner, this.#newId(), entry)
    return { id: stored.id, version: stored.version, entry: stored.entry }
  }

  async get(principal: Principal, id: string): Promise<VersionedEntry> {
    requireScope(principal, 'read')
    const stored = isEntryId(id) ? await this.#store.get(principal.owner, id) : undefined
    if (!stored) throw new EntryNotFoundError(id)
    return { id, version: stored.version, entry: stored.entry }
  }

  /** Replaces an existing entry; never creates one. */
  async update(principal: Principal, id: string, value: unknown, preconditions: Preconditions = {}): Promise<number> {
    this.#checkWrite(principal, preconditions)
    const entry = checkedEntry(value)
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
    return { entries: page.map((stored) => ({ id: stored.id, version: stored.version, entry: stored.entry })), next, total }
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

function requireScope(principal: Principal, needed: Scope): void {
  if (!hasScope(principal, needed)) throw new InsufficientScopeError(needed)
}

function checkedEntry(value: unknown): AddressEntry {
  const errors = validateAddressEntry(value)
  if (errors.length > 0) throw new InvalidEntryError(errors)
  return value as AddressEntry
}
