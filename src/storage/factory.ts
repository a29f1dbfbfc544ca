import type { Store } from './store.js'
import { MemoryStore } from './memory/memory-store.js'
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js'
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js'
import type { StoreConfig } from './store-config.js'

/** Builds the configured store. PostgreSQL connects lazily: see PostgresStore.open. */
export function createStore(config: StoreConfig, postgres: PostgresStoreOptions = {}, sqlite: SqliteStoreOptions = {}): Store {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore()
    case 'sqlite':
      return new SqliteStore(config.path, sqlite)
    case 'postgres':
      return new PostgresStore(config.url, postgres)
  }
}
