import type { AddressEntry } from '../domain/address-entry.js'

/** An address entry with the metadata the store keeps beside it (never inside it). */
export interface StoredEntry {
  readonly id: string
  readonly owner: string
  /** 1 on create, incremented by every update. */
  readonly version: number
  /** ISO 8601 timestamps in UTC, with milliseconds. */
  readonly createdAt: string
  readonly updatedAt: string
  readonly entry: AddressEntry
}

/**
 * What the address book needs from storage. Adapters keep entries per owner; an id belongs to
 * one owner. Every method resolves only once its effect is durable for that adapter, and a
 * method that rejects has changed nothing. Returned objects are copies: mutating them does not
 * change what is stored.
 */
export interface AddressBookStore {
  /** A short name for logs: `memory`, `sqlite:/path/to.db`, `postgres://host/db`. */
  readonly description: string
  /**
   * Resolves once the store can serve: reachable, schema migrated. Rejects (with
   * StoreUnavailableError when it may come back by itself) otherwise. Cheap enough to call often.
   */
  ready(): Promise<void>
  /** Rejects with EntryExistsError when the id is taken. */
  create(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry>
  get(owner: string, id: string): Promise<StoredEntry | undefined>
  /** Replaces the entry; resolves undefined when there is no such entry (no upsert). */
  update(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry | undefined>
  /** Resolves false when there was no such entry. */
  delete(owner: string, id: string): Promise<boolean>
  /** Every entry of the owner, ordered by id. */
  list(owner: string): Promise<StoredEntry[]>
  close(): Promise<void>
}

export type Clock = () => Date
export const systemClock: Clock = () => new Date()
