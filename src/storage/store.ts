import type { AddressEntry } from '../domain/address-entry.js'
import type { EntryFilter, PagePosition, Sort } from '../domain/listing.js'
import type { Scope } from '../domain/principal.js'
import type { ChangeKind, ChangeSource } from '../domain/vocabulary.js'

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
  /** Absent when the entry has none (never an empty object). */
  readonly card?: CardData | undefined
  /** What the entry says of its photo, when it has one: never the photo itself. */
  readonly photo?: PhotoStamp | undefined
}

/** An entry's photo as a listing knows it: its entity tag alone. */
export interface PhotoStamp {
  readonly etag: string
}

/** A photo as the store keeps it, already normalized: the image, a thumbnail, and their type. */
export interface PhotoData {
  readonly etag: string
  /** The media type of both images. */
  readonly contentType: string
  readonly image: Uint8Array
  readonly thumbnail: Uint8Array
}

/** One of an entry's photo's images, as read back. */
export interface PhotoImage {
  readonly etag: string
  readonly contentType: string
  readonly data: Uint8Array
}

/** What a listing of versions needs of an entry, without the entry: its id, version, times and card name. */
export interface EntryStamp {
  readonly id: string
  readonly version: number
  /** ISO 8601 timestamps in UTC, with milliseconds. */
  readonly createdAt: string
  readonly updatedAt: string
  /** The card name of its card data, when it has one. */
  readonly name?: string | undefined
}

/** What a CardDAV card held beyond its entry: kept so that the card can be served back. Opaque to the store. */
export interface CardData {
  /**
   * The resource name the client chose, e.g. `3F2504E0-4F89.vcf`; absent when the name is derived
   * from the id. At most 255 characters. Unique within the owner's book, so that a client's
   * request for the name finds one entry (see findByName).
   */
  readonly name?: string | undefined
  /** The card's UID, when it is not the entry's id. */
  readonly uid?: string | undefined
  /**
   * The card's properties the entry has no place for, as the format wrote them (text, opaque
   * here; may be large: up to ~1 MiB, e.g. photos).
   */
  readonly kept?: string | undefined
}

/**
 * What a write may carry besides its entries: the result of the request it answers, recorded
 * under the idempotency key the request was claimed with, in the same transaction as the write,
 * so that a retry can never repeat a write that was made.
 */
export interface WriteOptions {
  /** Through what the write was made, as the entries' history tells it; `api` when not given. */
  readonly source?: ChangeSource | undefined
  readonly idempotency?: { readonly key: string; readonly result: string } | undefined
  /** The card data of the entry a create stores, kept beside it. */
  readonly card?: CardData | undefined
  /** The photo of the entry a create stores, in the same transaction. */
  readonly photo?: PhotoData | undefined
}

/** What an update may carry besides the entry. */
export interface UpdateOptions {
  /** Through what the write was made, as the entry's history tells it; `api` when not given. */
  readonly source?: ChangeSource | undefined
  /**
   * The entry's card data: undefined keeps it as it is (an edit through the JSON API must not
   * lose what a phone stored with the card, its photo say), an object replaces it, null removes it.
   */
  readonly card?: CardData | null | undefined
  /** The entry's photo, in the same transaction: undefined keeps it, an object replaces it, null removes it. */
  readonly photo?: PhotoData | null | undefined
}

/** A new entry of createMany, with its card data and its photo when it has them. */
export interface NewEntry {
  readonly id: string
  readonly entry: AddressEntry
  readonly card?: CardData | undefined
  readonly photo?: PhotoData | undefined
}

/** One entry of updateMany: its new content, conditional on its version. */
export interface EntryUpdate {
  readonly id: string
  readonly entry: AddressEntry
  /** The versions the entry may be at for the update to apply. */
  readonly ifVersion: readonly number[]
}

/** What any other write may carry: through what it was made, `api` when not given. */
export interface ChangeOptions {
  readonly source?: ChangeSource | undefined
}

/**
 * A version of an entry as its history keeps it: what it held (its content, card data and
 * photo), when and through what it was made, and when it was replaced.
 */
export interface StoredVersion {
  /**
   * Where the version stands in the store's record, later versions higher: the position a page
   * of history continues from. The entry's current version is CURRENT_VERSION_SEQ.
   */
  readonly seq: number
  readonly id: string
  readonly version: number
  /** ISO 8601 timestamps in UTC, with milliseconds: when the entry was created, and this version made. */
  readonly createdAt: string
  readonly updatedAt: string
  /** When the next version, or the entry's deletion, replaced it; absent for the current version. */
  readonly replacedAt?: string | undefined
  /** Whether the entry's deletion ended this version (it is then what the trash holds). */
  readonly deleted: boolean
  readonly source: ChangeSource
  readonly entry: AddressEntry
  readonly card?: CardData | undefined
  readonly photo?: PhotoStamp | undefined
}

/** An entry in the owner's trash: its last version before it was deleted, and when that was. */
export interface TrashedEntry {
  readonly id: string
  /** The version it was at when deleted. */
  readonly version: number
  readonly createdAt: string
  readonly updatedAt: string
  /** ISO 8601 in UTC, with milliseconds. */
  readonly deletedAt: string
  readonly entry: AddressEntry
  readonly card?: CardData | undefined
  readonly photo?: PhotoStamp | undefined
}

/** A page of the owner's trash, most recently deleted first. */
export interface TrashQuery {
  /** Folded text (see `foldCase`) that the entry's search text must contain. */
  readonly q?: string | undefined
  readonly limit: number
  /** The deletion time and id of the previous page's last entry. */
  readonly after?: { readonly deletedAt: string; readonly id: string } | undefined
}

/** What undoing a book's changes since a time did, or (as a preview) would do: ids, each list in id order. */
export interface BookRestore {
  /** Entries changed since, given their content of then again, as a new version. */
  readonly restored: readonly string[]
  /** Entries created since, moved to the trash. */
  readonly trashed: readonly string[]
  /** Entries deleted since, created again under their ids, with their content of then. */
  readonly recreated: readonly string[]
}

/** The seq (StoredVersion.seq) of an entry's current version in its history: above every version it replaced. */
export const CURRENT_VERSION_SEQ = Number.MAX_SAFE_INTEGER

/** A label as entries of a book write it, and how many entries write it so. */
export interface LabelCount {
  readonly label: string
  readonly count: number
}

/** One change of an owner's book, at its place in the owner's sequence of changes. */
export interface StoredChange {
  /** Where the change is in its owner's sequence: 1 for the owner's first write, then 2, 3, … */
  readonly seq: number
  readonly id: string
  readonly kind: ChangeKind
  /** The entry as it is now; absent for a deletion. */
  readonly stored?: StoredEntry | undefined
  /**
   * For a deletion: the name the entry's card data had, if any, so that a CardDAV client is told
   * which of its resources went.
   */
  readonly name?: string | undefined
}

export interface ChangePage {
  readonly changes: readonly StoredChange[]
  /** Whether changes remain after the last one on this page. */
  readonly more: boolean
}

/** Where an owner's sequence of changes stands. */
export interface ChangePosition {
  /** The seq of the owner's latest change; 0 before the first. */
  readonly latest: number
  /** Deletions at or before this seq have been forgotten (their tombstones pruned); 0 when none has. */
  readonly forgottenThrough: number
}

/** An idempotency key as the store keeps it. */
export interface IdempotencyRecord {
  /** What the request was (a hash of its body): a retry must be the same request. */
  readonly fingerprint: string
  /** The result recorded with the write; absent while the first request is still running. */
  readonly result?: string | undefined
}

export interface IdempotencyClaim {
  /** The key is this request's now (it was free, expired, or its first request's lease ran out). */
  readonly claimed: boolean
  /** When not claimed: the record that holds the key. */
  readonly record?: IdempotencyRecord | undefined
}

/**
 * What the address book needs from storage. Adapters keep entries per owner; an id is unique
 * within its owner's book (two owners may use the same id, and neither can tell). Every method
 * resolves only once its effect is durable for that adapter, and a method that rejects has
 * changed nothing. Returned objects are copies: mutating them does not change what is stored.
 *
 * Every write (create, createMany, update, delete) records a change in the owner's sequence, in
 * the same transaction: seqs are given in commit order, so that a reader who sees change n has
 * seen every change before it, also across instances of a shared database.
 *
 * Every write that replaces or deletes an entry keeps what it replaced, in the same transaction:
 * the version's content, card data and photo, when and through what it was made, and when it was
 * replaced. That history is what restores a version, the trash, and a whole book as it was.
 */
export interface AddressBookStore {
  /** A short name for logs: `memory`, `sqlite:/path/to.db`, `postgres://host/db`. */
  readonly description: string
  /**
   * Resolves once the store can serve: reachable, schema migrated. Rejects (with
   * StoreUnavailableError when it may come back by itself) otherwise. Cheap enough to call often.
   */
  ready(): Promise<void>
  /**
   * Rejects with EntryExistsError when the owner has an entry with this id, or one whose card data
   * has this card data's name (the error then names that entry).
   */
  create(owner: string, id: string, entry: AddressEntry, options?: WriteOptions): Promise<StoredEntry>
  /**
   * Stores several new entries as one, each at version 1: all or none. Rejects with
   * EntryExistsError (and stores nothing) when any id or card name is taken or given twice. An
   * import may hold hundreds of thousands: what the adapter does on the event loop for them it
   * does a slice of time at a time, and it resolves nothing to copy back.
   */
  createMany(owner: string, entries: readonly NewEntry[], options?: WriteOptions): Promise<void>
  get(owner: string, id: string): Promise<StoredEntry | undefined>
  /**
   * The owner's entry whose card data has exactly this name (case-sensitive): how a CardDAV
   * request for a resource the client named finds its entry. An indexed lookup.
   */
  findByName(owner: string, name: string): Promise<StoredEntry | undefined>
  /**
   * Replaces the entry; resolves undefined when there is no such entry (no upsert), or when
   * `ifVersion` is given and the stored version is not one of them. The check and the write are
   * one atomic step: no concurrent writer, through any instance, can slip between them. Rejects
   * with EntryExistsError when the new card data's name is another entry's of the owner.
   */
  update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[], options?: UpdateOptions): Promise<StoredEntry | undefined>
  /**
   * Replaces several entries as one, each as `update` does (a new version, a change recorded,
   * card data kept): all or none. Resolves the entries as stored, in the order given, or
   * undefined, having changed nothing, when any is missing or not at one of its versions. The
   * checks and the writes are one atomic step, as for `update`.
   */
  updateMany(owner: string, updates: readonly EntryUpdate[], options?: ChangeOptions): Promise<StoredEntry[] | undefined>
  /**
   * Gives the entry this photo, or none (null), as a change of the entry: a new version and a
   * change recorded, its content and card data kept, in one transaction with the photo's bytes.
   * Resolves the entry as stored, or undefined when there is no such entry or (with `ifVersion`)
   * it is not at one of those versions.
   */
  setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[], options?: ChangeOptions): Promise<StoredEntry | undefined>
  /** One image of the entry's photo (the photo, or its thumbnail); undefined when it has none. */
  getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined>
  /**
   * Resolves false when there was no such entry, or (with `ifVersion`) not at one of those
   * versions. The entry goes to the trash: its history, last version and photo are kept until
   * emptyTrash or forgetHistoryBefore forgets them.
   */
  delete(owner: string, id: string, ifVersion?: readonly number[], options?: ChangeOptions): Promise<boolean>
  /**
   * The owner's entries that pass the filter, in the query's order (ties by id), starting after
   * `after`, at most `limit`. The cost does not grow with how deep the page is.
   */
  list(owner: string, query: ListQuery): Promise<StoredEntry[]>
  /**
   * The owner's entries' stamps in creation order (ties by id), after `after` (the createdAt and
   * id of the last stamp of the previous page), at most `limit`. Reads neither the entries nor
   * their card data beyond the name: a listing of a whole book's versions costs little.
   */
  listStamps(owner: string, limit: number, after?: { readonly createdAt: string; readonly id: string }): Promise<EntryStamp[]>
  /**
   * The entry's versions, newest first: its current one (unless it is deleted), then those it
   * replaced, also before a deletion (an id's history runs on across its deletion and its
   * restore), with seq below `before` when given, at most `limit`. Empty when the id has none.
   */
  history(owner: string, id: string, limit: number, before?: number): Promise<StoredVersion[]>
  /**
   * Gives the entry the content, card data and photo of its version at `seq` (see history) as a
   * new version made through `restore`, a change recorded. Resolves the entry as stored, or
   * undefined when there is no such entry or version, or (with `ifVersion`) the entry is not at
   * one of them. Rejects with EntryExistsError when the version's card name is another entry's now.
   */
  restoreVersion(owner: string, id: string, seq: number, ifVersion?: readonly number[]): Promise<StoredEntry | undefined>
  /** The owner's deleted entries whose history is still kept, most recently deleted first. */
  listTrash(owner: string, query: TrashQuery): Promise<TrashedEntry[]>
  /**
   * Creates a deleted entry again under its id, with what it held when deleted, at the version
   * after that one, a change recorded as a creation. Resolves undefined when it is not in the
   * trash; rejects with EntryExistsError when its id, or its card name, is taken meanwhile.
   */
  restoreFromTrash(owner: string, id: string): Promise<StoredEntry | undefined>
  /**
   * Forgets deleted entries for good, with all their history and photos: this one, or (without
   * an id) every one in the owner's trash. Resolves how many.
   */
  emptyTrash(owner: string, id?: string): Promise<number>
  /**
   * Puts books back as they were at `at` (ISO time): each of `owners` (an owner's entries, and
   * any other book the service keeps for the owner under a key of its own, its group cards say),
   * all in one transaction that no other write to any of them interleaves with. In each book,
   * entries created since are deleted (to the trash), entries changed since get their content of
   * then as a new version, and entries deleted since are created again; each write made through
   * `restore`. With `preview`, changes nothing and resolves the same. Resolves what was done in
   * each book, in the order of `owners`. Rejects with EntryExistsError, having changed nothing,
   * when an entry to create again has a card name that another entry holds.
   */
  restoreBook(owners: readonly string[], at: string, options?: { readonly preview?: boolean }): Promise<BookRestore[]>
  /**
   * Forgets history made before `before` (ISO time), for every owner: deleted entries deleted
   * before it, for good, and versions replaced before it, except the `keep` latest of each entry.
   * Photos no version refers to any more go too. Resolves how many versions were forgotten.
   */
  forgetHistoryBefore(before: string, keep: number): Promise<number>
  /** How many of the owner's entries pass the filter. */
  count(owner: string, filter: EntryFilter): Promise<number>
  /**
   * The owner's labels, each spelling as entries write it with how many entries write it so, in
   * no particular order. Read from the index (`indexEntry`'s label names): no entry is read.
   */
  labelCounts(owner: string): Promise<LabelCount[]>
  /** Where the owner's sequence of changes stands, as of one consistent moment. */
  changePosition(owner: string): Promise<ChangePosition>
  /**
   * The owner's changes after seq `since`, oldest first, at most `limit`. Each entry appears once,
   * at its latest change: `created` when it was created after `since`, else `updated`; a deleted
   * entry appears as `deleted` (its tombstone, with the name its card data had) until the
   * tombstone is forgotten.
   */
  changesSince(owner: string, since: number, limit: number): Promise<ChangePage>
  /** Forgets the tombstones of deletions made before `before` (ISO time), for every owner; resolves how many. */
  forgetDeletionsBefore(before: string): Promise<number>
  /**
   * Claims an idempotency key for a request with this fingerprint: a key nobody holds, or whose
   * record expired (`expiresAt` is when a new record will), or whose first request left it
   * pending past its lease, becomes this request's, pending until `leaseUntil`. Otherwise
   * resolves the record that holds it. Atomic across instances.
   */
  claimIdempotencyKey(owner: string, key: string, fingerprint: string, times: { now: string; leaseUntil: string; expiresAt: string }): Promise<IdempotencyClaim>
  /** Gives up a pending claim (its request failed and wrote nothing), so that a retry runs again. */
  releaseIdempotencyKey(owner: string, key: string): Promise<void>
  /** Forgets idempotency records that expired before `now`; resolves how many. */
  forgetIdempotencyKeysBefore(now: string): Promise<number>
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
