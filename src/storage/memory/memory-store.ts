import { EntryExistsError } from '../../domain/errors.js'
import type { AddressEntry } from '../../domain/address-entry.js'
import { systemClock, type AddressBookStore, type Clock, type StoredEntry } from '../store.js'

/** Keeps entries in process memory: for tests and throwaway runs. Nothing survives a restart. */
export class MemoryStore implements AddressBookStore {
  readonly description = 'memory'
  /** Ids are unique across owners, as they are in the SQL stores. */
  readonly #entries = new Map<string, StoredEntry>()
  #closed = false

  constructor(private readonly clock: Clock = systemClock) {}

  ready(): Promise<void> {
    return this.#closed ? Promise.reject(new Error('the memory store is closed')) : Promise.resolve()
  }

  create(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry> {
    if (this.#entries.has(id)) return Promise.reject(new EntryExistsError(id))
    const now = this.clock().toISOString()
    const stored = { id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry) }
    this.#entries.set(id, stored)
    return Promise.resolve(copy(stored))
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    const stored = this.#find(owner, id)
    return Promise.resolve(stored && copy(stored))
  }

  update(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry | undefined> {
    const current = this.#find(owner, id)
    if (!current) return Promise.resolve(undefined)
    const updated = {
      ...current,
      version: current.version + 1,
      updatedAt: this.clock().toISOString(),
      entry: structuredClone(entry),
    }
    this.#entries.set(id, updated)
    return Promise.resolve(copy(updated))
  }

  delete(owner: string, id: string): Promise<boolean> {
    return Promise.resolve(this.#find(owner, id) !== undefined && this.#entries.delete(id))
  }

  list(owner: string): Promise<StoredEntry[]> {
    const entries = [...this.#entries.values()].filter((stored) => stored.owner === owner)
    entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return Promise.resolve(entries.map(copy))
  }

  close(): Promise<void> {
    this.#closed = true
    this.#entries.clear()
    return Promise.resolve()
  }

  #find(owner: string, id: string): StoredEntry | undefined {
    const stored = this.#entries.get(id)
    return stored?.owner === owner ? stored : undefined
  }
}

function copy(stored: StoredEntry): StoredEntry {
  return { ...stored, entry: structuredClone(stored.entry) }
}
