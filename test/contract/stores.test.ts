import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js'
import { describeStoreContract } from './store-contract.js'

describeStoreContract('MemoryStore', (t, clock) => {
  const store = new MemoryStore(clock)
  t.after(() => store.close())
  return store
})

describeStoreContract('SqliteStore', (t, clock) => {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-contract-'))
  const store = new SqliteStore(join(dir, 'address-book.db'), clock ? { clock } : {})
  t.after(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return store
})
