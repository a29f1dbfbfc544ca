import { performance } from 'node:perf_hooks'
import { Counter, Gauge, type Registry } from 'prom-client'
import { SeriesHistogram } from '../metric-series.js'
import type { AddressEntry } from '../domain/address-entry.js'
import type { EntryFilter } from '../domain/listing.js'
import type {
  ApiKeyRecord,
  BookRestore,
  ChangeOptions,
  ChangePage,
  ChangePosition,
  EntryStamp,
  EntryUpdate,
  IdempotencyClaim,
  LabelCount,
  PhotoData,
  PhotoImage,
  ListQuery,
  NewApiKey,
  NewEntry,
  Store,
  StoredEntry,
  StoredVersion,
  TrashedEntry,
  TrashQuery,
  UpdateOptions,
  WriteOptions,
} from './store.js'

type Operation =
  | 'ready'
  | 'create'
  | 'create_many'
  | 'get'
  | 'find_by_name'
  | 'update'
  | 'update_many'
  | 'history'
  | 'restore_version'
  | 'list_trash'
  | 'restore_from_trash'
  | 'empty_trash'
  | 'restore_book'
  | 'forget_history'
  | 'set_photo'
  | 'get_photo'
  | 'delete'
  | 'list'
  | 'list_stamps'
  | 'count'
  | 'label_counts'
  | 'change_position'
  | 'changes_since'
  | 'forget_deletions'
  | 'claim_idempotency_key'
  | 'release_idempotency_key'
  | 'forget_idempotency_keys'
  | 'create_api_key'
  | 'find_api_key'
  | 'list_api_keys'
  | 'revoke_api_key'
  | 'touch_api_key'

interface PooledStore {
  poolStats(): { total: number; idle: number; waiting: number }
}

function hasPool(store: Store): store is Store & PooledStore {
  return typeof (store as Partial<PooledStore>).poolStats === 'function'
}

/**
 * Wraps a store to measure it: how long each operation takes and how often it fails, and, for
 * a pooled store, how its connections are used. Behaviour is the wrapped store's, unchanged.
 */
export class InstrumentedStore implements Store {
  readonly description: string
  readonly #store: Store
  readonly #duration: SeriesHistogram<'operation' | 'outcome'>
  readonly #errors: Counter<'operation'>

  constructor(store: Store, registry: Registry) {
    this.#store = store
    this.description = store.description
    this.#duration = new SeriesHistogram({
      name: 'addrservice_store_operation_duration_seconds',
      help: 'Time taken by store operations',
      labelNames: ['operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
    this.#errors = new Counter({
      name: 'addrservice_store_errors_total',
      help: 'Store operations that failed',
      labelNames: ['operation'],
      registers: [registry],
    })
    if (hasPool(store)) {
      new Gauge({
        name: 'addrservice_store_pool_connections',
        help: 'Connections in the store pool, by state (total, idle, waiting callers)',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const stats = store.poolStats()
          this.set({ state: 'total' }, stats.total)
          this.set({ state: 'idle' }, stats.idle)
          this.set({ state: 'waiting' }, stats.waiting)
        },
      })
    }
  }

  ready(): Promise<void> {
    return this.#measure('ready', () => this.#store.ready())
  }

  create(owner: string, id: string, entry: AddressEntry, options?: WriteOptions): Promise<StoredEntry> {
    return this.#measure('create', () => this.#store.create(owner, id, entry, options))
  }

  createMany(owner: string, entries: readonly NewEntry[], options?: WriteOptions): Promise<void> {
    return this.#measure('create_many', () => this.#store.createMany(owner, entries, options))
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    return this.#measure('get', () => this.#store.get(owner, id))
  }

  findByName(owner: string, name: string): Promise<StoredEntry | undefined> {
    return this.#measure('find_by_name', () => this.#store.findByName(owner, name))
  }

  update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[], options?: UpdateOptions): Promise<StoredEntry | undefined> {
    return this.#measure('update', () => this.#store.update(owner, id, entry, ifVersion, options))
  }

  updateMany(owner: string, updates: readonly EntryUpdate[], options?: ChangeOptions): Promise<StoredEntry[] | undefined> {
    return this.#measure('update_many', () => this.#store.updateMany(owner, updates, options))
  }

  setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[], options?: ChangeOptions): Promise<StoredEntry | undefined> {
    return this.#measure('set_photo', () => this.#store.setPhoto(owner, id, photo, ifVersion, options))
  }

  getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined> {
    return this.#measure('get_photo', () => this.#store.getPhoto(owner, id, which))
  }

  delete(owner: string, id: string, ifVersion?: readonly number[], options?: ChangeOptions): Promise<boolean> {
    return this.#measure('delete', () => this.#store.delete(owner, id, ifVersion, options))
  }

  history(owner: string, id: string, limit: number, before?: number): Promise<StoredVersion[]> {
    return this.#measure('history', () => this.#store.history(owner, id, limit, before))
  }

  restoreVersion(owner: string, id: string, seq: number, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    return this.#measure('restore_version', () => this.#store.restoreVersion(owner, id, seq, ifVersion))
  }

  listTrash(owner: string, query: TrashQuery): Promise<TrashedEntry[]> {
    return this.#measure('list_trash', () => this.#store.listTrash(owner, query))
  }

  restoreFromTrash(owner: string, id: string): Promise<StoredEntry | undefined> {
    return this.#measure('restore_from_trash', () => this.#store.restoreFromTrash(owner, id))
  }

  emptyTrash(owner: string, id?: string): Promise<number> {
    return this.#measure('empty_trash', () => this.#store.emptyTrash(owner, id))
  }

  restoreBook(owners: readonly string[], at: string, options?: { readonly preview?: boolean }): Promise<BookRestore[]> {
    return this.#measure('restore_book', () => this.#store.restoreBook(owners, at, options))
  }

  forgetHistoryBefore(before: string, keep: number): Promise<number> {
    return this.#measure('forget_history', () => this.#store.forgetHistoryBefore(before, keep))
  }

  list(owner: string, query: ListQuery): Promise<StoredEntry[]> {
    return this.#measure('list', () => this.#store.list(owner, query))
  }

  listStamps(owner: string, limit: number, after?: { readonly createdAt: string; readonly id: string }): Promise<EntryStamp[]> {
    return this.#measure('list_stamps', () => this.#store.listStamps(owner, limit, after))
  }

  count(owner: string, filter: EntryFilter): Promise<number> {
    return this.#measure('count', () => this.#store.count(owner, filter))
  }

  labelCounts(owner: string): Promise<LabelCount[]> {
    return this.#measure('label_counts', () => this.#store.labelCounts(owner))
  }

  changePosition(owner: string): Promise<ChangePosition> {
    return this.#measure('change_position', () => this.#store.changePosition(owner))
  }

  changesSince(owner: string, since: number, limit: number): Promise<ChangePage> {
    return this.#measure('changes_since', () => this.#store.changesSince(owner, since, limit))
  }

  forgetDeletionsBefore(before: string): Promise<number> {
    return this.#measure('forget_deletions', () => this.#store.forgetDeletionsBefore(before))
  }

  claimIdempotencyKey(
    owner: string,
    key: string,
    fingerprint: string,
    times: { now: string; leaseUntil: string; expiresAt: string },
  ): Promise<IdempotencyClaim> {
    return this.#measure('claim_idempotency_key', () => this.#store.claimIdempotencyKey(owner, key, fingerprint, times))
  }

  releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    return this.#measure('release_idempotency_key', () => this.#store.releaseIdempotencyKey(owner, key))
  }

  forgetIdempotencyKeysBefore(now: string): Promise<number> {
    return this.#measure('forget_idempotency_keys', () => this.#store.forgetIdempotencyKeysBefore(now))
  }

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.#measure('create_api_key', () => this.#store.createApiKey(key))
  }

  findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#measure('find_api_key', () => this.#store.findApiKey(id))
  }

  listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    return this.#measure('list_api_keys', () => this.#store.listApiKeys(owner))
  }

  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    return this.#measure('revoke_api_key', () => this.#store.revokeApiKey(id, at))
  }

  touchApiKey(id: string, at: string): Promise<void> {
    return this.#measure('touch_api_key', () => this.#store.touchApiKey(id, at))
  }

  close(): Promise<void> {
    return this.#store.close()
  }

  #measure<T>(operation: Operation, run: () => Promise<T>): Promise<T> {
    const started = performance.now()
    let running: Promise<T>
    try {
      running = run()
    } catch (error) {
      // A store that throws rather than rejects fails the same way to its callers.
      running = Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
    return running.then(
      (result) => {
        this.#duration.series({ operation, outcome: 'ok' }).observe((performance.now() - started) / 1000)
        return result
      },
      (failure: unknown) => {
        this.#duration.series({ operation, outcome: 'error' }).observe((performance.now() - started) / 1000)
        this.#errors.inc({ operation })
        throw failure
      },
    )
  }
}
