import { Readable } from 'node:stream'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import type { Principal } from '../../src/domain/principal.js'
import type {
  AddressBook,
  ChangesRequest,
  ChangesResult,
  CreatedEntry,
  ExportedEntry,
  ExportRequest,
  ImportedEntry,
  ImportItem,
  ListRequest,
  ListResult,
  PhotoImage,
  PhotoSize,
  Preconditions,
  Replayable,
  VersionedEntry,
  WriteRequest,
} from '../../src/service/address-book-service.js'

interface Call {
  method: keyof AddressBook
  args: unknown[]
}

/**
 * An AddressBook whose answers the test decides: each method resolves with the configured
 * value or rejects with the configured error, and every call is recorded (the principal apart,
 * in `principals`).
 */
export class StubAddressBook implements AddressBook {
  readonly calls: Call[] = []
  readonly principals: Principal[] = []
  failure: Error | undefined
  createdId = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'
  version = 1
  entry: AddressEntry = { full_name: 'Stubbed Entry' }
  entries: Record<string, AddressEntry> = {}
  /** What list resolves beside the entries: the next cursor and the total. */
  page: Omit<ListResult, 'entries'> = {}

  constructor(
    overrides: Partial<Pick<StubAddressBook, 'failure' | 'createdId' | 'entry' | 'entries' | 'notReady' | 'hangs' | 'version' | 'page'>> = {},
  ) {
    Object.assign(this, overrides)
  }

  /** When the stubbed entries were last changed. */
  updatedAt = '2026-11-25T10:00:00.000Z'

  create(principal: Principal, value: unknown, request: WriteRequest = {}): Promise<CreatedEntry> {
    const args = request.idempotencyKey === undefined ? [value] : [value, request]
    return this.#answer(principal, 'create', args, { id: this.createdId, version: 1, entry: value as AddressEntry, replayed: false })
  }

  importEntries(principal: Principal, items: Iterable<ImportItem>, request: WriteRequest = {}): Promise<Replayable<readonly ImportedEntry[]>> {
    let read: ImportItem[]
    try {
      read = [...items]
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
    const result = read.map(({ id, line, card }, index) => ({
      id: id ?? `${this.createdId.slice(0, -4)}${String(index).padStart(4, '0')}`,
      version: 1,
      ...(line === undefined ? {} : { line }),
      ...(card === undefined ? {} : { card }),
    }))
    return this.#answer(principal, 'importEntries', [read, request], { result, replayed: false })
  }

  exportEntries(principal: Principal, request: ExportRequest): Promise<AsyncIterable<ExportedEntry>> {
    const entries = Object.entries(this.entries).map(([id, entry]) => ({ id, version: 1, entry, updatedAt: this.updatedAt }))
    return this.#answer(principal, 'exportEntries', [request], Readable.from(entries))
  }

  changes(principal: Principal, request: ChangesRequest): Promise<ChangesResult> {
    return this.#answer(principal, 'changes', [request], { changes: [], next: 'stubbed-token', more: false })
  }

  get(principal: Principal, id: string): Promise<ExportedEntry> {
    return this.#answer(principal, 'get', [id], { id, version: this.version, entry: this.entry, updatedAt: this.updatedAt })
  }

  update(principal: Principal, id: string, value: unknown, preconditions?: Preconditions): Promise<number> {
    return this.#answer(principal, 'update', preconditions === undefined ? [id, value] : [id, value, preconditions], this.version + 1)
  }

  patch(principal: Principal, id: string, patch: unknown, preconditions?: Preconditions): Promise<number> {
    return this.#answer(principal, 'patch', preconditions === undefined ? [id, patch] : [id, patch, preconditions], this.version + 1)
  }

  delete(principal: Principal, id: string, preconditions?: Preconditions): Promise<void> {
    return this.#answer(principal, 'delete', preconditions === undefined ? [id] : [id, preconditions], undefined)
  }

  setPhoto(principal: Principal, id: string, bytes: Uint8Array, preconditions?: Preconditions): Promise<VersionedEntry> {
    return this.#answer(principal, 'setPhoto', preconditions === undefined ? [id, bytes] : [id, bytes, preconditions], { id, version: this.version, entry: this.entry, photo: { etag: 'stubbed' } })
  }

  removePhoto(principal: Principal, id: string, preconditions?: Preconditions): Promise<VersionedEntry> {
    return this.#answer(principal, 'removePhoto', preconditions === undefined ? [id] : [id, preconditions], { id, version: this.version, entry: this.entry })
  }

  photo(principal: Principal, id: string, size: PhotoSize): Promise<PhotoImage> {
    return this.#answer(principal, 'photo', [id, size], { etag: 'stubbed', contentType: 'image/jpeg', data: new Uint8Array([0xff, 0xd8, 0xff]) })
  }

  list(principal: Principal, request: ListRequest): Promise<ListResult> {
    const entries = Object.entries(this.entries).map(([id, entry]) => ({ id, version: 1, entry }))
    return this.#answer(principal, 'list', [request], { entries, ...this.page })
  }

  /** Ready unless `notReady` says otherwise; not recorded, since probes are not address book calls. */
  notReady: Error | undefined
  /** When set, readiness never settles: a store that hangs. */
  hangs = false

  ready(): Promise<void> {
    if (this.hangs) return new Promise(() => undefined)
    return this.notReady ? Promise.reject(this.notReady) : Promise.resolve()
  }

  #answer<T>(principal: Principal, method: keyof AddressBook, args: unknown[], value: T): Promise<T> {
    this.principals.push(principal)
    this.calls.push({ method, args })
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(value)
  }
}
