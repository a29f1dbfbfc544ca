import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe } from 'node:test'
import { Registry } from 'prom-client'
import { InstrumentedStore } from '../../src/storage/instrumented-store.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js'
import { describeCardContract } from './card-contract.js'
import { describeStampsContract } from './stamps-contract.js'
import { describeStoreContract, type MakeStore } from './store-contract.js'

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

// The card data passes through the wrapper both ways: its options, findByName and listStamps.
describe('InstrumentedStore over a MemoryStore', () => {
  const makeStore: MakeStore = (t, clock) => {
    const store = new InstrumentedStore(new MemoryStore(clock), new Registry())
    t.after(() => store.close())
    return store
  }
  describeCardContract(makeStore)
  describeStampsContract(makeStore)
})
