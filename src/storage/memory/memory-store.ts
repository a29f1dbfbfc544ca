import { EntryExistsError } from '../../domain/errors.js'
import type { AddressEntry } from '../../domain/address-entry.js'
import { compareCodePoints, indexEntry, matchesFilter, sortValueOf, type EntryFilter, type EntryIndex } from '../../domain/listing.js'
import { systemClock, type ApiKeyRecord, type Clock, type ListQuery, type NewApiKey, type Store, type StoredEntry } from '../store.js'

interface Kept {
  readonly stored: StoredEntry
  readonly index: EntryIndex
}

/**
 * Keeps entries (and API keys) in process memory: for tests and throwaway runs. Nothing survives
 * a restart, which is why the service refuses API-key authentication on it.
 */
export class MemoryStore implements Store {
  readonly description = 'memory'
  /** Ids are unique across owners, as they are in the SQL stores. */
  readonly #entries = new Map<string, Kept>()
  readonly #keys = new Map<string, ApiKeyRecord>()
  #closed = false

  constructor(private readonly clock: Clock = systemClock) {}

  ready(): Promise<void> {
    return this.#closed ? Promise.reject(new Error('the memory store is closed')) : Promise.resolve()
  }

  create(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry> {
    if (this.#entries.has(id)) return Promise.reject(new EntryExistsError(id))
    const now = this.clock().toISOString()
    const stored = { id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry) }
    this.#entries.set(id, { stored, index: indexEntry(entry) })
    return Promise.resolve(copy(stored))
  }

  createMany(owner: string, entries: readonly { readonly id: string; readonly entry: AddressEntry }[]): Promise<StoredEntry[]> {
    const ids = new Set<string>()
    for (const { id } of entries) {
      if (this.#entries.has(id) || ids.has(id)) return Promise.reject(new EntryExistsError(id))
      ids.add(id)
    }
    const now = this.clock().toISOString()
    return Promise.resolve(
      entries.map(({ id, entry }) => {
        const stored = { id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry) }
        this.#entries.set(id, { stored, index: indexEntry(entry) })
        return copy(stored)
      }),
    )
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    const kept = this.#find(owner, id)
    return Promise.resolve(kept && copy(kept.stored))
  }

  update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    const current = this.#find(owner, id, ifVersion)?.stored
    if (!current) return Promise.resolve(undefined)
    const updated = {
      ...current,
      version: current.version + 1,
      updatedAt: this.clock().toISOString(),
      entry: structuredClone(entry),
    }
    this.#entries.set(id, { stored: updated, index: indexEntry(entry) })
    return Promise.resolve(copy(updated))
  }

  delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    return Promise.resolve(this.#find(owner, id, ifVersion) !== undefined && this.#entries.delete(id))
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

  count(owner: string, filter: EntryFilter): Promise<number> {
    return Promise.resolve(this.#matching(owner, filter).length)
  }

  close(): Promise<void> {
    this.#closed = true
    this.#entries.clear()
    this.#keys.clear()
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

  #find(owner: string, id: string, ifVersion?: readonly number[]): Kept | undefined {
    const kept = this.#entries.get(id)
    if (kept?.stored.owner !== owner) return undefined
    return ifVersion === undefined || ifVersion.includes(kept.stored.version) ? kept : undefined
  }

  #matching(owner: string, filter: EntryFilter): Kept[] {
    return [...this.#entries.values()].filter((kept) => kept.stored.owner === owner && matchesFilter(kept.index, filter))
  }
}

function copy(stored: StoredEntry): StoredEntry {
  return { ...stored, entry: structuredClone(stored.entry) }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
