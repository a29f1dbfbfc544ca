import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js'
import { SqliteStore, type SqliteStoreOptions } from '../../src/storage/sqlite/sqlite-store.js'
import { DEFAULT_SORT } from '../../src/domain/listing.js'
import type { AddressBookStore, Clock, Store, StoredEntry } from '../../src/storage/store.js'
import { POSTGRES_SKIP, useTestPostgres, type TestPostgres } from './postgres.js'

/** A SQLite store on a file in a fresh temporary directory, both removed when the test ends. */
export function aSqliteStore(t: TestContext, options: SqliteStoreOptions = {}): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-test-'))
  const store = new SqliteStore(join(dir, 'addressbook.db'), options)
  t.after(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return store
}

/** Builds an empty store of one kind for one test, on the clock given or the system's; closed (and removed) when the test ends. */
export type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store>

/**
 * The stores that keep data: SQLite always, PostgreSQL when a server is configured (a schema
 * of its own per test). Call at the top level of a test file: it sets up the file's database.
 */
export function durableStores(): { name: string; make: MakeStore; skip: string | false }[] {
  let postgres: TestPostgres | undefined
  if (!POSTGRES_SKIP) postgres = useTestPostgres()
  return [
    { name: 'SQLite', make: (t, clock) => Promise.resolve(aSqliteStore(t, clock ? { clock } : {})), skip: false },
    {
      name: 'PostgreSQL',
      skip: POSTGRES_SKIP,
      make: async (t, clock) => {
        if (!postgres) throw new Error(String(POSTGRES_SKIP))
        const store = new PostgresStore(await postgres.freshSchemaUrl(t), clock ? { clock } : {})
        t.after(() => store.close())
        return store
      },
    },
  ]
}

/** Every entry of the owner as the store keeps them, in creation order: for checking what is stored. */
export function storedEntries(store: AddressBookStore, owner: string): Promise<StoredEntry[]> {
  return store.list(owner, { filter: { terms: [] }, sort: DEFAULT_SORT, limit: 1_000_000 })
}
