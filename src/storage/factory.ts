import type { AddressBookStore } from './store.js'
import { MemoryStore } from './memory/memory-store.js'
import { PostgresStore, redactPassword, type PostgresStoreOptions } from './postgres/postgres-store.js'
import { SqliteStore } from './sqlite/sqlite-store.js'

/** Which store to use, as the `addr-db` section of the config names it. */
export type StoreConfig = { kind: 'memory' } | { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string }

/** Builds the configured store. PostgreSQL connects lazily: see PostgresStore.open. */
export function createStore(config: StoreConfig, postgres: PostgresStoreOptions = {}): AddressBookStore {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore()
    case 'sqlite':
      return new SqliteStore(config.path)
    case 'postgres':
      return new PostgresStore(config.url, postgres)
  }
}

/** The store as logs show it: no password. */
export function describeStoreConfig(config: StoreConfig): string {
  switch (config.kind) {
    case 'memory':
      return 'memory'
    case 'sqlite':
      return `sqlite:${config.path}`
    case 'postgres':
      return `postgres:${redactPassword(config.url)}`
  }
}
