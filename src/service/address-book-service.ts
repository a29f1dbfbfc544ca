import { validateAddressEntry, type AddressEntry } from '../domain/address-entry.js'
import { EntryNotFoundError, InsufficientScopeError, InvalidEntryError } from '../domain/errors.js'
import { isEntryId, newEntryId } from '../domain/ids.js'
import { hasScope, type Principal, type Scope } from '../domain/principal.js'
import type { AddressBookStore } from '../storage/store.js'

/**
 * The address book as its callers see it; AddressBookService is the implementation. Every
 * operation acts on the principal's own book only, and checks its scope first (rejecting with
 * InsufficientScopeError). An entry of another owner is not found, exactly like a missing one.
 */
export interface AddressBook {
  /** Stores a new entry and returns its id; rejects with InvalidEntryError. */
  create(principal: Principal, value: unknown): Promise<string>
  /** Rejects with EntryNotFoundError. */
  get(principal: Principal, id: string): Promise<AddressEntry>
  /** Replaces an existing entry; rejects with InvalidEntryError or EntryNotFoundError. */
  update(principal: Principal, id: string, value: unknown): Promise<void>
  /** Rejects with EntryNotFoundError. */
  delete(principal: Principal, id: string): Promise<void>
  /** Every entry of the principal's book, keyed by id, in id order. */
  list(principal: Principal): Promise<Record<string, AddressEntry>>
  /** Resolves when the address book can serve (its store reachable and migrated). */
  ready(): Promise<void>
}

export interface AddressBookServiceOptions {
  /** Makes ids; UUIDv7 hex by default. */
  newId?: () => string
}

/**
 * The address book's business rules: entries are validated before they are stored, ids are
 * made here, an id that cannot exist is simply not found, and each owner's book is apart from
 * every other. It knows nothing of HTTP and nothing of how the store keeps its data.
 */
export class AddressBookService implements AddressBook {
  readonly #store: AddressBookStore
  readonly #newId: () => string

  constructor(store: AddressBookStore, options: AddressBookServiceOptions = {}) {
    this.#store = store
    this.#newId = options.newId ?? newEntryId
  }

  /** Stores a new entry and returns its id. */
  async create(principal: Principal, value: unknown): Promise<string> {
    requireScope(principal, 'write')
    const entry = checkedEntry(value)
    const stored = await this.#store.create(principal.owner, this.#newId(), entry)
    return stored.id
  }

  async get(principal: Principal, id: string): Promise<AddressEntry> {
    requireScope(principal, 'read')
    const stored = isEntryId(id) ? await this.#store.get(principal.owner, id) : undefined
    if (!stored) throw new EntryNotFoundError(id)
    return stored.entry
  }

  /** Replaces an existing entry; never creates one. */
  async update(principal: Principal, id: string, value: unknown): Promise<void> {
    requireScope(principal, 'write')
    const entry = checkedEntry(value)
    const updated = isEntryId(id) ? await this.#store.update(principal.owner, id, entry) : undefined
    if (!updated) throw new EntryNotFoundError(id)
  }

  async delete(principal: Principal, id: string): Promise<void> {
    requireScope(principal, 'write')
    const deleted = isEntryId(id) && (await this.#store.delete(principal.owner, id))
    if (!deleted) throw new EntryNotFoundError(id)
  }

  ready(): Promise<void> {
    return this.#store.ready()
  }

  /** Every entry, keyed by id, in id (creation) order. */
  async list(principal: Principal): Promise<Record<string, AddressEntry>> {
    requireScope(principal, 'read')
    const entries: Record<string, AddressEntry> = {}
    for (const stored of await this.#store.list(principal.owner)) entries[stored.id] = stored.entry
    return entries
  }
}

function requireScope(principal: Principal, needed: Scope): void {
  if (!hasScope(principal, needed)) throw new InsufficientScopeError(needed)
}

function checkedEntry(value: unknown): AddressEntry {
  const errors = validateAddressEntry(value)
  if (errors.length > 0) throw new InvalidEntryError(errors)
  return value as AddressEntry
}
