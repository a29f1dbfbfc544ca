import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createStore } from '../../src/storage/factory.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js'

describe('createStore', () => {
  test('when the config names memory, then a memory store', (t) => {
    const store = createStore({ kind: 'memory' })
    t.after(() => store.close())

    assert.ok(store instanceof MemoryStore)
    assert.equal(store.description, 'memory')
  })

  test('when the config names a SQLite path, then a SQLite store on that file', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-factory-'))
    const path = join(dir, 'book.db')
    const store = createStore({ kind: 'sqlite', path })
    t.after(async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    })

    assert.ok(store instanceof SqliteStore)
    assert.equal(store.description, `sqlite:${path}`)
    assert.ok(existsSync(path))
  })
})
