import type { AddressEntry } from '../domain/address-entry.js'

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
}
