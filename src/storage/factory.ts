import type { AddressBookStore } from './store.js'
import { MemoryStore } from './memory/memory-store.js'
import { SqliteStore } from './sqlite/sqlite-store.js'

/** Which store to use, as the `addr-db` section of the config names it. */
export type StoreConfig = { kind: 'memory' } | { kind: 'sqlite'; path: string }

export function createStore(config: StoreConfig): AddressBookStore {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore()
    case 'sqlite':
      return new SqliteStore(config.path)
  }
}
