import type { Store } from './store.js'
import { MemoryStore } from './memory/memory-store.js'
import type { PostgresStoreOptions } from './postgres/postgres-store.js'
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js'
import type { StoreConfig } from './store-config.js'

/**
 * Builds the configured store. PostgreSQL connects lazily (see PostgresStore.open), and its
 * module (with pg) is loaded only when it is the store, to keep start-up short.
 */
export async function createStore(config: StoreConfig, postgres: PostgresStoreOptions = {}, sqlite: SqliteStoreOptions = {}): Promise<Store> {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore()
    case 'sqlite':
      return new SqliteStore(config.path, sqlite)
    case 'postgres': {
      const { PostgresStore } = await import('./postgres/postgres-store.js')
      return new PostgresStore(config.url, postgres)
    }
  }
}
