import { validateAddressEntry, type AddressEntry } from '../domain/address-entry.js'
import { EntryNotFoundError, InvalidEntryError } from '../domain/errors.js'
import { DEFAULT_OWNER, isEntryId, newEntryId } from '../domain/ids.js'
import type { AddressBookStore } from '../storage/store.js'

/** The address book as its callers see it; AddressBookService is the implementation. */
export interface AddressBook {
  /** Stores a new entry and returns its id; rejects with InvalidEntryError. */
  create(value: unknown): Promise<string>
  /** Rejects with EntryNotFoundError. */
  get(id: string): Promise<AddressEntry>
  /** Replaces an existing entry; rejects with InvalidEntryError or EntryNotFoundError. */
  update(id: string, value: unknown): Promise<void>
  /** Rejects with EntryNotFoundError. */
  delete(id: string): Promise<void>
  /** Every entry, keyed by id, in id order. */
  list(): Promise<Record<string, AddressEntry>>
  /** Resolves when the address book can serve (its store reachable and migrated). */
  ready(): Promise<void>
}

export interface AddressBookServiceOptions {
  /** Makes ids; UUIDv7 hex by default. */
  newId?: () => string
}

/**
 * The address book's business rules: entries are validated before they are stored, ids are
 * made here, an id that cannot exist is simply not found. It knows nothing of HTTP and
 * nothing of how the store keeps its data.
 */
export class AddressBookService implements AddressBook {
  readonly #store: AddressBookStore
  readonly #newId: () => string
  readonly #owner = DEFAULT_OWNER

  constructor(store: AddressBookStore, options: AddressBookServiceOptions = {}) {
    this.#store = store
    this.#newId = options.newId ?? newEntryId
  }

  /** Stores a new entry and returns its id. */
  async create(value: unknown): Promise<string> {
    const entry = checkedEntry(value)
    const stored = await this.#store.create(this.#owner, this.#newId(), entry)
    return stored.id
  }

  async get(id: string): Promise<AddressEntry> {
    const stored = isEntryId(id) ? await this.#store.get(this.#owner, id) : undefined
    if (!stored) throw new EntryNotFoundError(id)
    return stored.entry
  }

  /** Replaces an existing entry; never creates one. */
  async update(id: string, value: unknown): Promise<void> {
    const entry = checkedEntry(value)
    const updated = isEntryId(id) ? await this.#store.update(this.#owner, id, entry) : undefined
    if (!updated) throw new EntryNotFoundError(id)
  }

  async delete(id: string): Promise<void> {
    const deleted = isEntryId(id) && (await this.#store.delete(this.#owner, id))
    if (!deleted) throw new EntryNotFoundError(id)
  }

  ready(): Promise<void> {
    return this.#store.ready()
  }

  /** Every entry, keyed by id, in id (creation) order. */
  async list(): Promise<Record<string, AddressEntry>> {
    const entries: Record<string, AddressEntry> = {}
    for (const stored of await this.#store.list(this.#owner)) entries[stored.id] = stored.entry
    return entries
  }
}

function checkedEntry(value: unknown): AddressEntry {
  const errors = validateAddressEntry(value)
  if (errors.length > 0) throw new InvalidEntryError(errors)
  return value as AddressEntry
}
