import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AddressEntry, FieldError } from '../../src/domain/address-entry.js'
import { EntryNotFoundError, InsufficientScopeError, InvalidEntryError } from '../../src/domain/errors.js'
import { ANONYMOUS_PRINCIPAL, DEFAULT_OWNER, type Principal } from '../../src/domain/principal.js'
import { AddressBookService, type AddressBookServiceOptions } from '../../src/service/address-book-service.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { AddressBookStore, StoredEntry } from '../../src/storage/store.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'

/** UUIDv7 without dashes: version nibble 7, variant bits 10. */
const UUID_V7_HEX = /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/
const ID = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'
/** Authentication off: the default owner with every scope. */
const CALLER = ANONYMOUS_PRINCIPAL

type StoreMethod = Exclude<keyof AddressBookStore, 'description'>

interface StoreCall {
  method: StoreMethod
  args: unknown[]
}

/**
 * A store that records every call. It hands each call on to a MemoryStore, or, when given a
 * failure, rejects every data call with exactly that error.
 */
class FakeStore implements AddressBookStore {
  readonly description = 'fake'
  readonly calls: StoreCall[] = []
  readonly #inner = new MemoryStore()
  readonly #failure: Error | undefined

  constructor(options: { failure?: Error } = {}) {
    this.#failure = options.failure
  }

  ready(): Promise<void> {
    return this.#call('ready', [], () => this.#inner.ready())
  }

  create(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry> {
    return this.#call('create', [owner, id, entry], () => this.#inner.create(owner, id, entry))
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    return this.#call('get', [owner, id], () => this.#inner.get(owner, id))
  }

  update(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry | undefined> {
    return this.#call('update', [owner, id, entry], () => this.#inner.update(owner, id, entry))
  }

  delete(owner: string, id: string): Promise<boolean> {
    return this.#call('delete', [owner, id], () => this.#inner.delete(owner, id))
  }

  list(owner: string): Promise<StoredEntry[]> {
    return this.#call('list', [owner], () => this.#inner.list(owner))
  }

  /** Recorded, but never fails: the service does not close stores, the test does. */
  close(): Promise<void> {
    this.calls.push({ method: 'close', args: [] })
    return this.#inner.close()
  }

  #call<T>(method: StoreMethod, args: unknown[], forward: () => Promise<T>): Promise<T> {
    this.calls.push({ method, args: structuredClone(args) })
    return this.#failure ? Promise.reject(this.#failure) : forward()
  }
}

function aService(t: TestContext, options: AddressBookServiceOptions & { failure?: Error } = {}) {
  const { failure, ...serviceOptions } = options
  const store = new FakeStore(failure ? { failure } : {})
  t.after(() => store.close())
  return { store, service: new AddressBookService(store, serviceOptions) }
}

/** The milliseconds since the epoch that a UUIDv7 carries in its first 48 bits. */
function timeOf(id: string): number {
  return Number.parseInt(id.slice(0, 12), 16)
}

function isNotFound(id: string) {
  return (error: unknown) => {
    assert.ok(error instanceof EntryNotFoundError)
    assert.equal(error.id, id)
    return true
  }
}

describe('AddressBookService', () => {
  describe('create', () => {
    test('when an entry is created, then it resolves a UUIDv7 id as 32 lowercase hex characters', async (t) => {
      const { service } = aService(t)

      const id = await service.create(CALLER, anEntry())

      assert.match(id, UUID_V7_HEX)
    })

    test('when an entry is created, then the store receives it under the default owner and the new id', async (t) => {
      const { service, store } = aService(t)

      const id = await service.create(CALLER, aFullEntry())

      assert.deepEqual(store.calls, [{ method: 'create', args: [DEFAULT_OWNER, id, aFullEntry()] }])
    })

    test('when entries are created one after another, then every id is new and greater than the one before', async (t) => {
      const { service } = aService(t)

      const ids: string[] = []
      for (let count = 0; count < 100; count++) ids.push(await service.create(CALLER, anEntry()))

      assert.deepEqual([...ids].sort(), ids)
      assert.equal(new Set(ids).size, ids.length)
    })

    test('when time passes between two creates, then the later id is greater and carries the later time', async (t) => {
      const { service } = aService(t)
      const before = Date.now()

      const first = await service.create(CALLER, anEntry())
      await sleep(5)
      const second = await service.create(CALLER, anEntry())

      const after = Date.now()
      assert.ok(second > first, `${second} is not greater than ${first}`)
      assert.ok(timeOf(first) >= before && timeOf(second) - timeOf(first) >= 4 && timeOf(second) <= after)
    })

    test('when a newId option is given, then the entry is stored under the id it makes', async (t) => {
      const { service, store } = aService(t, { newId: () => 'made-by-the-test' })

      const id = await service.create(CALLER, anEntry())

      assert.equal(id, 'made-by-the-test')
      assert.deepEqual(store.calls, [{ method: 'create', args: [DEFAULT_OWNER, 'made-by-the-test', anEntry()] }])
    })
  })

  describe('get', () => {
    test('when the entry exists, then it resolves the entry exactly as created', async (t) => {
      const { service } = aService(t)
      const id = await service.create(CALLER, aFullEntry())

      const entry = await service.get(CALLER, id)

      assert.deepEqual(entry, aFullEntry())
    })

    test('when the id is unknown, then it rejects with EntryNotFoundError for that id', async (t) => {
      const { service } = aService(t)

      await assert.rejects(service.get(CALLER, ID), isNotFound(ID))
    })
  })

  describe('update', () => {
    test('when an entry is updated, then it is replaced by the new entry', async (t) => {
      const { service } = aService(t)
      const id = await service.create(CALLER, aFullEntry())

      await service.update(CALLER, id, anEntry({ full_name: 'Replaced' }))

      assert.deepEqual(await service.get(CALLER, id), anEntry({ full_name: 'Replaced' }))
    })

    test('when the id is unknown, then it rejects with EntryNotFoundError and creates nothing', async (t) => {
      const { service, store } = aService(t)

      await assert.rejects(service.update(CALLER, ID, anEntry()), isNotFound(ID))

      assert.deepEqual(store.calls, [{ method: 'update', args: [DEFAULT_OWNER, ID, anEntry()] }])
      assert.deepEqual(await service.list(CALLER), {})
    })

    test('when the new entry is invalid, then it rejects with InvalidEntryError and the stored entry is unchanged', async (t) => {
      const { service, store } = aService(t)
      const id = await service.create(CALLER, aFullEntry())

      await assert.rejects(service.update(CALLER, id, { full_name: '' }), InvalidEntryError)

      assert.deepEqual(
        store.calls.map((call) => call.method),
        ['create'],
      )
      assert.deepEqual(await service.get(CALLER, id), aFullEntry())
    })
  })

  describe('delete', () => {
    test('when an entry is deleted, then it can no longer be read', async (t) => {
      const { service } = aService(t)
      const id = await service.create(CALLER, anEntry())

      await service.delete(CALLER, id)

      await assert.rejects(service.get(CALLER, id), isNotFound(id))
    })

    test('when an entry is deleted twice, then the second delete rejects with EntryNotFoundError', async (t) => {
      const { service } = aService(t)
      const id = await service.create(CALLER, anEntry())
      await service.delete(CALLER, id)

      await assert.rejects(service.delete(CALLER, id), isNotFound(id))
    })
  })

  describe('list', () => {
    test('when the address book is empty, then it resolves an empty record', async (t) => {
      const { service } = aService(t)

      assert.deepEqual(await service.list(CALLER), {})
    })

    test('when entries exist, then it resolves them keyed by id in id order', async (t) => {
      const ids = ['c-entry', 'a-entry', 'b-entry']
      const { service } = aService(t, { newId: () => ids.shift() ?? 'exhausted' })
      await service.create(CALLER, anEntry({ full_name: 'C' }))
      await service.create(CALLER, anEntry({ full_name: 'A' }))
      await service.create(CALLER, anEntry({ full_name: 'B' }))

      const entries = await service.list(CALLER)

      assert.deepEqual(Object.entries(entries), [
        ['a-entry', anEntry({ full_name: 'A' })],
        ['b-entry', anEntry({ full_name: 'B' })],
        ['c-entry', anEntry({ full_name: 'C' })],
      ])
    })
  })

  describe('invalid entries', () => {
    const cases: { when: string; value: unknown; errors: FieldError[] }[] = [
      { when: 'full_name is missing', value: {}, errors: [{ path: '/full_name', message: 'is required' }] },
      { when: 'full_name is blank', value: { full_name: ' \t ' }, errors: [{ path: '/full_name', message: 'must not be blank' }] },
      {
        when: 'it has an unknown field',
        value: anEntry({ nickname: 'Ada' } as Partial<AddressEntry>),
        errors: [{ path: '/nickname', message: 'is not allowed' }],
      },
      {
        when: 'a kind is neither home nor work',
        value: aFullEntry({ emails: [{ kind: 'other' as 'home', email: 'ada@example.org' }] }),
        errors: [{ path: '/emails/0/kind', message: 'must be one of: home, work' }],
      },
      { when: 'it is not an object', value: null, errors: [{ path: '', message: 'must be object' }] },
      {
        when: "an email's quoted local part holds a NUL",
        value: anEntry({ emails: [{ kind: 'home', email: '"\u0000"@example.com' }] }),
        errors: [{ path: '/emails/0/email', message: 'must not contain NUL characters or unpaired surrogates' }],
      },
    ]

    for (const { when, value, errors } of cases) {
      test(`when ${when}, then create rejects with InvalidEntryError naming the field and stores nothing`, async (t) => {
        const { service, store } = aService(t)

        await assert.rejects(service.create(CALLER, value), (error) => {
          assert.ok(error instanceof InvalidEntryError)
          assert.deepEqual(error.errors, errors)
          return true
        })

        assert.deepEqual(store.calls, [])
        assert.deepEqual(await service.list(CALLER), {})
      })
    }
  })

  describe('ids that cannot exist', () => {
    const oddIds = [
      { label: 'a path traversal', id: '../x' },
      { label: 'SQL-looking', id: "1' OR '1'='1" },
      { label: '5,000 characters long', id: 'x'.repeat(5000) },
      { label: 'one character too long', id: 'a'.repeat(65) },
      { label: 'empty', id: '' },
      { label: 'followed by a newline', id: `${ID}\n` },
    ]

    for (const { label, id } of oddIds) {
      test(`when the id is ${label}, then get, update and delete reject with EntryNotFoundError and never ask the store`, async (t) => {
        const { service, store } = aService(t)

        await assert.rejects(service.get(CALLER, id), isNotFound(id))
        await assert.rejects(service.update(CALLER, id, anEntry()), isNotFound(id))
        await assert.rejects(service.delete(CALLER, id), isNotFound(id))

        assert.deepEqual(store.calls, [])
      })
    }

    test('when the id is 5,000 characters long, then the error message stays short', async (t) => {
      const { service } = aService(t)

      await assert.rejects(service.get(CALLER, 'x'.repeat(5000)), (error) => {
        assert.ok(error instanceof Error)
        assert.ok(error.message.length <= 200, `the message is ${String(error.message.length)} characters long`)
        return true
      })
    })

    test('when the id is exactly 64 characters, then the store is asked', async (t) => {
      const { service, store } = aService(t)
      const id = 'a'.repeat(64)

      await assert.rejects(service.get(CALLER, id), isNotFound(id))

      assert.deepEqual(store.calls, [{ method: 'get', args: [DEFAULT_OWNER, id] }])
    })
  })

  describe('when the store fails', () => {
    const operations: { method: StoreMethod; act: (service: AddressBookService) => Promise<unknown> }[] = [
      { method: 'create', act: (service) => service.create(CALLER, anEntry()) },
      { method: 'get', act: (service) => service.get(CALLER, ID) },
      { method: 'update', act: (service) => service.update(CALLER, ID, anEntry()) },
      { method: 'delete', act: (service) => service.delete(CALLER, ID) },
      { method: 'list', act: (service) => service.list(CALLER) },
    ]

    for (const { method, act } of operations) {
      test(`when the store's ${method} rejects, then the service rejects with that same error after that one call`, async (t) => {
        const failure = new Error('disk on fire')
        const { service, store } = aService(t, { failure })

        await assert.rejects(act(service), (error) => {
          assert.equal(error, failure)
          assert.equal(failure.message, 'disk on fire')
          return true
        })

        assert.deepEqual(
          store.calls.map((call) => call.method),
          [method],
        )
      })
    }

    test('when the store fails and the entry is invalid, then InvalidEntryError wins and the store is not asked', async (t) => {
      const { service, store } = aService(t, { failure: new Error('disk on fire') })

      await assert.rejects(service.create(CALLER, {}), InvalidEntryError)

      assert.deepEqual(store.calls, [])
    })
  })

  describe('owners', () => {
    const alice: Principal = { owner: 'alice', scopes: ['write'], method: 'api-key' }
    const bob: Principal = { owner: 'bob', scopes: ['write'], method: 'jwt' }

    test("when another owner asks for an entry, then it is not found, the entry is unchanged, and the store was asked in that owner's name", async (t) => {
      const { service, store } = aService(t)
      const id = await service.create(alice, aFullEntry())
      store.calls.length = 0

      await assert.rejects(service.get(bob, id), isNotFound(id))
      await assert.rejects(service.update(bob, id, anEntry()), isNotFound(id))
      await assert.rejects(service.delete(bob, id), isNotFound(id))

      assert.deepEqual(await service.get(alice, id), aFullEntry())
      assert.deepEqual(await service.list(bob), {})
      assert.deepEqual(
        store.calls.slice(0, 3).map((call) => [call.method, call.args[0]]),
        [['get', 'bob'], ['update', 'bob'], ['delete', 'bob']],
      )
    })

    test('when two owners create entries, then each lists only their own', async (t) => {
      const { service } = aService(t)
      const mine = await service.create(alice, anEntry({ full_name: 'Mine' }))
      const theirs = await service.create(bob, anEntry({ full_name: 'Theirs' }))

      assert.deepEqual(Object.keys(await service.list(alice)), [mine])
      assert.deepEqual(Object.keys(await service.list(bob)), [theirs])
    })
  })

  describe('scopes', () => {
    const reader: Principal = { owner: 'alice', scopes: ['read'], method: 'api-key' }
    const nobody: Principal = { owner: 'alice', scopes: [], method: 'jwt' }

    test('when a read-only caller writes, then InsufficientScopeError for write and the store is not asked', async (t) => {
      const { service, store } = aService(t)

      for (const write of [() => service.create(reader, anEntry()), () => service.update(reader, ID, anEntry()), () => service.delete(reader, ID)]) {
        await assert.rejects(write(), (error) => error instanceof InsufficientScopeError && error.needed === 'write')
      }

      assert.deepEqual(store.calls, [])
    })

    test('when a read-only caller reads, then it may', async (t) => {
      const { service } = aService(t)
      const id = await service.create({ ...reader, scopes: ['write'] }, anEntry())

      assert.deepEqual(await service.get(reader, id), anEntry())
      assert.deepEqual(Object.keys(await service.list(reader)), [id])
    })

    test('when a caller has no scope at all, then even reading is refused with InsufficientScopeError for read', async (t) => {
      const { service, store } = aService(t)

      await assert.rejects(service.get(nobody, ID), (error) => error instanceof InsufficientScopeError && error.needed === 'read')
      await assert.rejects(service.list(nobody), InsufficientScopeError)

      assert.deepEqual(store.calls, [])
    })
  })
})
