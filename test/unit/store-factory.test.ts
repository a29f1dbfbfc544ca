import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createStore } from '../../src/storage/factory.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js'

describe('createStore', () => {
  test('when the config names memory, then a memory store', async (t) => {
    const store = await createStore({ kind: 'memory' })
    t.after(() => store.close())

    assert.ok(store instanceof MemoryStore)
    assert.equal(store.description, 'memory')
  })

  test('when the config names a SQLite path, then a SQLite store on that file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-factory-'))
    const path = join(dir, 'book.db')
    const store = await createStore({ kind: 'sqlite', path })
    t.after(async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    })

    assert.ok(store instanceof SqliteStore)
    assert.equal(store.description, `sqlite:${path}`)
    assert.ok(existsSync(path))
  })

  test('when the config names a PostgreSQL URL, then a PostgreSQL store that has not connected yet', async (t) => {
    const store = await createStore({ kind: 'postgres', url: 'postgres://nobody@127.0.0.1:9/none' })
    t.after(() => store.close())

    assert.equal(store.description, 'postgres:postgres://nobody@127.0.0.1:9/none')
  })
})
