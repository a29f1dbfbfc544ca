import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiKeys, parseApiKey, type ApiKeysOptions } from '../../src/auth/api-keys.js'
import type { Verdict } from '../../src/auth/verdict.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { ApiKeyRecord, CredentialStore, NewApiKey } from '../../src/storage/store.js'

const KEY_SHAPE = /^addr_[0-9a-f]{16}_[0-9A-Za-z]{43}$/

/** A credential store that counts reads and can be made to fail; it keeps keys in a MemoryStore. */
class CountingStore implements CredentialStore {
  readonly inner = new MemoryStore()
  finds = 0
  touches: string[] = []
  failure: Error | undefined

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.inner.createApiKey(key)
  }

  findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    this.finds++
    return this.failure ? Promise.reject(this.failure) : this.inner.findApiKey(id)
  }

  listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    return this.inner.listApiKeys(owner)
  }

  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    return this.inner.revokeApiKey(id, at)
  }

  touchApiKey(id: string, at: string): Promise<void> {
    this.touches.push(at)
    return this.inner.touchApiKey(id, at)
  }
}

function someKeys(t: TestContext, options: ApiKeysOptions = {}) {
  const store = new CountingStore()
  t.after(() => store.inner.close())
  return { store, keys: new ApiKeys(store, options) }
}

function ownerOf(verdict: Verdict): string | undefined {
  return 'principal' in verdict ? verdict.principal.owner : undefined
}

function reasonOf(verdict: Verdict): string | undefined {
  return 'reason' in verdict ? verdict.reason : undefined
}

describe('ApiKeys', () => {
  test('when a key is created, then it has the addr_<id>_<secret> shape and the store keeps only the hash of the secret', async (t) => {
    const { keys, store } = someKeys(t)

    const { key, record } = await keys.create('alice', 'write', 'phone')

    assert.match(key, KEY_SHAPE)
    const parsed = parseApiKey(key)
    assert.equal(parsed?.id, record.id)
    const stored = await store.inner.findApiKey(record.id)
    assert.equal(stored?.secretHash, createHash('sha256').update(parsed.secret).digest('hex'))
    assert.ok(!JSON.stringify(stored).includes(parsed.secret))
    assert.deepEqual([stored.owner, stored.scope, stored.label], ['alice', 'write', 'phone'])
  })

  test('when many keys are created, then no two share an id or a secret', async (t) => {
    const { keys } = someKeys(t)

    const created = await Promise.all(Array.from({ length: 200 }, () => keys.create('alice', 'read', null)))

    assert.equal(new Set(created.map(({ key }) => key)).size, 200)
    assert.equal(new Set(created.map(({ record }) => record.id)).size, 200)
  })

  test('when a created key is presented, then its owner with its scope, by api key', async (t) => {
    const { keys } = someKeys(t)
    const { key } = await keys.create('alice', 'read', null)

    assert.deepEqual(await keys.authenticate(key), { principal: { owner: 'alice', scopes: ['read'], method: 'api-key' } })
  })

  for (const [name, mangle, reason] of [
    ['not shaped like a key', () => 'hunter2', 'malformed api key'],
    ['an unknown id', (key: string) => key.replace(/^addr_[0-9a-f]{16}/, 'addr_0000000000000000'), 'unknown api key'],
    ['the right id with a wrong secret', (key: string) => `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`, 'wrong api key secret'],
    ['a secret one character short', (key: string) => key.slice(0, -1), 'malformed api key'],
  ] as const) {
    test(`when a key with ${name} is presented, then it is refused: ${reason}`, async (t) => {
      const { keys } = someKeys(t)
      const { key } = await keys.create('alice', 'write', null)

      assert.equal(reasonOf(await keys.authenticate(mangle(key))), reason)
    })
  }

  test('when a key is revoked here, then it is refused at once', async (t) => {
    const { keys } = someKeys(t)
    const { key, record } = await keys.create('alice', 'write', null)
    assert.equal(ownerOf(await keys.authenticate(key)), 'alice')

    const revoked = await keys.revoke(record.id)

    assert.ok(revoked?.revokedAt)
    assert.equal(reasonOf(await keys.authenticate(key)), 'revoked api key')
  })

  test('when a key is revoked elsewhere, then this instance refuses it once its cache time has passed, and not before', async (t) => {
    const { keys, store } = someKeys(t, { cacheMs: 100 })
    const elsewhere = new ApiKeys(store)
    const { key, record } = await keys.create('alice', 'write', null)
    assert.equal(ownerOf(await keys.authenticate(key)), 'alice')

    await elsewhere.revoke(record.id)

    assert.equal(ownerOf(await keys.authenticate(key)), 'alice', 'the cached key still works within the cache time')
    await sleep(150)
    assert.equal(reasonOf(await keys.authenticate(key)), 'revoked api key')
  })

  test('when a key is presented again and again, then the store is read once per cache time, not per request', async (t) => {
    const { keys, store } = someKeys(t, { cacheMs: 60_000 })
    const { key } = await keys.create('alice', 'write', null)

    for (let count = 0; count < 50; count++) await keys.authenticate(key)

    assert.equal(store.finds, 1)
  })

  test('when the cache time is 0, then every request reads the store', async (t) => {
    const { keys, store } = someKeys(t, { cacheMs: 0 })
    const { key } = await keys.create('alice', 'write', null)

    for (let count = 0; count < 3; count++) await keys.authenticate(key)

    assert.equal(store.finds, 3)
  })

  test('when a key is used, then its last use is recorded once, and not again within a minute', async (t) => {
    const { keys, store } = someKeys(t, { cacheMs: 1 })
    const { key, record } = await keys.create('alice', 'write', null)

    for (let count = 0; count < 5; count++) {
      await keys.authenticate(key)
      await sleep(3)
    }

    assert.equal(store.touches.length, 1)
    assert.ok((await store.inner.findApiKey(record.id))?.lastUsedAt)
  })

  test('when a wrong secret is presented for a real id, then no use is recorded', async (t) => {
    const { keys, store } = someKeys(t)
    const { key } = await keys.create('alice', 'write', null)

    await keys.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)

    assert.deepEqual(store.touches, [])
  })

  test('when recording the last use fails, then authentication still succeeds and the failure is reported', async (t) => {
    const reported: unknown[] = []
    const { keys, store } = someKeys(t, { onBackgroundError: (error) => reported.push(error) })
    const { key } = await keys.create('alice', 'write', null)
    const failure = new Error('disk full')
    store.touchApiKey = () => Promise.reject(failure)

    assert.equal(ownerOf(await keys.authenticate(key)), 'alice')
    await sleep(1)
    assert.deepEqual(reported, [failure])
  })

  test('when the store cannot be read, then authenticate rejects, and the next request reads it again', async (t) => {
    const { keys, store } = someKeys(t, { cacheMs: 60_000 })
    const { key } = await keys.create('alice', 'write', null)
    const failure = new Error('store down')
    store.failure = failure

    await assert.rejects(keys.authenticate(key), (error) => error === failure)
    store.failure = undefined

    assert.equal(ownerOf(await keys.authenticate(key)), 'alice')
    assert.equal(store.finds, 2)
  })

  test('when more keys are seen than the cache holds, then the oldest is forgotten and read again', async (t) => {
    const { keys, store } = someKeys(t, { cacheMs: 60_000, cacheSize: 2 })
    const created = [await keys.create('a', 'write', null), await keys.create('b', 'write', null), await keys.create('c', 'write', null)]

    for (const { key } of created) await keys.authenticate(key)
    await keys.authenticate(created[2]?.key ?? '')
    await keys.authenticate(created[0]?.key ?? '')

    assert.equal(store.finds, 4)
  })

  test('when keys are listed, then they come from the store, an owner at a time if asked', async (t) => {
    const { keys } = someKeys(t)
    await keys.create('alice', 'write', null)
    await keys.create('bob', 'read', 'laptop')

    assert.deepEqual((await keys.list()).map((key) => key.owner).sort(), ['alice', 'bob'])
    assert.deepEqual((await keys.list('bob')).map((key) => key.label), ['laptop'])
  })

  test('when a key id that does not exist is revoked, then undefined', async (t) => {
    const { keys } = someKeys(t)

    assert.equal(await keys.revoke('0000000000000000'), undefined)
  })
})
