import type { AddressEntry } from '../domain/address-entry.js'
import type { EntryFilter, PagePosition, Sort } from '../domain/listing.js'
import type { Scope } from '../domain/principal.js'

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
  /**
   * Stores several new entries as one: all or none. Rejects with EntryExistsError (and stores
   * nothing) when any id is taken or given twice.
   */
  createMany(owner: string, entries: readonly { readonly id: string; readonly entry: AddressEntry }[]): Promise<StoredEntry[]>
  get(owner: string, id: string): Promise<StoredEntry | undefined>
  /**
   * Replaces the entry; resolves undefined when there is no such entry (no upsert), or when
   * `ifVersion` is given and the stored version is not one of them. The check and the write are
   * one atomic step: no concurrent writer, through any instance, can slip between them.
   */
  update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[]): Promise<StoredEntry | undefined>
  /** Resolves false when there was no such entry, or (with `ifVersion`) not at one of those versions. */
  delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean>
  /**
   * The owner's entries that pass the filter, in the query's order (ties by id), starting after
   * `after`, at most `limit`. The cost does not grow with how deep the page is.
   */
  list(owner: string, query: ListQuery): Promise<StoredEntry[]>
  /** How many of the owner's entries pass the filter. */
  count(owner: string, filter: EntryFilter): Promise<number>
  close(): Promise<void>
}

/** One page of a listing, as a store reads it. */
export interface ListQuery {
  readonly filter: EntryFilter
  readonly sort: Sort
  readonly limit: number
  /** The position of the previous page's last entry; none for the first page. */
  readonly after?: PagePosition | undefined
}

export type Clock = () => Date
export const systemClock: Clock = () => new Date()

/** An API key as the store keeps it: never the secret, only its hash. */
export interface ApiKeyRecord {
  /** The id embedded in the key (`addr_<id>_<secret>`), so that it is found without a scan. */
  readonly id: string
  readonly owner: string
  readonly scope: Scope
  readonly label: string | null
  /** SHA-256 of the secret, hex. */
  readonly secretHash: string
  /** ISO 8601 timestamps in UTC, with milliseconds. */
  readonly createdAt: string
  readonly lastUsedAt: string | null
  readonly revokedAt: string | null
}

export type NewApiKey = Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>

/**
 * What authentication by API key needs from storage. Keys live beside the address books, so
 * that every instance over one database accepts a key as soon as it is created.
 */
export interface CredentialStore {
  /** Rejects when the id is taken (ids are random: it does not happen). */
  createApiKey(key: NewApiKey): Promise<ApiKeyRecord>
  findApiKey(id: string): Promise<ApiKeyRecord | undefined>
  /** Every key (or an owner's), oldest first. */
  listApiKeys(owner?: string): Promise<ApiKeyRecord[]>
  /** Marks the key revoked at `at` unless it already is; resolves the key as stored, or undefined when there is none. */
  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined>
  /** Records that the key was used at `at`. */
  touchApiKey(id: string, at: string): Promise<void>
}

/** A store that keeps both: what every adapter implements. */
export type Store = AddressBookStore & CredentialStore
