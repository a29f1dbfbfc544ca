import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AddressEntry, FieldError } from '../../src/domain/address-entry.js'
import {
  EntryNotFoundError,
  InsufficientScopeError,
  InvalidCursorError,
  InvalidEntryError,
  InvalidImportError,
  PreconditionFailedError,
  PreconditionRequiredError,
  StoreUnavailableError,
} from '../../src/domain/errors.js'
import { ANONYMOUS_PRINCIPAL, DEFAULT_OWNER, type Principal } from '../../src/domain/principal.js'
import {
  AddressBookService,
  IMPORT_ERROR_LIMIT,
  type AddressBook,
  type AddressBookServiceOptions,
  type ImportItem,
  type ListRequest,
} from '../../src/service/address-book-service.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type {
  AddressBookStore,
  ChangePage,
  ChangePosition,
  IdempotencyClaim,
  ListQuery,
  StoredEntry,
  EntryStamp,
  EntryUpdate,
  LabelCount,
  PhotoData,
  PhotoImage,
  WriteOptions,
  BookRestore,
  StoredVersion,
  TrashedEntry,
  TrashQuery,
} from '../../src/storage/store.js'
import { DEFAULT_SORT, type EntryFilter } from '../../src/domain/listing.js'
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
  /** Its clock moves a millisecond at every write, so that creation order is never a tie. */
  readonly #inner = new MemoryStore(tickingClock())
  readonly #failure: Error | undefined

  constructor(options: { failure?: Error } = {}) {
    this.#failure = options.failure
  }

  ready(): Promise<void> {
    return this.#call('ready', [], () => this.#inner.ready())
  }

  create(owner: string, id: string, entry: AddressEntry, options: WriteOptions = {}): Promise<StoredEntry> {
    const args = options.idempotency === undefined ? [owner, id, entry] : [owner, id, entry, options]
    return this.#call('create', args, () => this.#inner.create(owner, id, entry, options))
  }

  createMany(owner: string, entries: readonly { id: string; entry: AddressEntry }[], options: WriteOptions = {}): Promise<void> {
    const args = options.idempotency === undefined ? [owner, entries] : [owner, entries, options]
    return this.#call('createMany', args, () => this.#inner.createMany(owner, entries, options))
  }

  changePosition(owner: string): Promise<ChangePosition> {
    return this.#call('changePosition', [owner], () => this.#inner.changePosition(owner))
  }

  changesSince(owner: string, since: number, limit: number): Promise<ChangePage> {
    return this.#call('changesSince', [owner, since, limit], () => this.#inner.changesSince(owner, since, limit))
  }

  forgetDeletionsBefore(before: string): Promise<number> {
    return this.#call('forgetDeletionsBefore', [before], () => this.#inner.forgetDeletionsBefore(before))
  }

  claimIdempotencyKey(owner: string, key: string, fingerprint: string, times: { now: string; leaseUntil: string; expiresAt: string }): Promise<IdempotencyClaim> {
    return this.#call('claimIdempotencyKey', [owner, key, fingerprint, times], () => this.#inner.claimIdempotencyKey(owner, key, fingerprint, times))
  }

  releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    return this.#call('releaseIdempotencyKey', [owner, key], () => this.#inner.releaseIdempotencyKey(owner, key))
  }

  forgetIdempotencyKeysBefore(now: string): Promise<number> {
    return this.#call('forgetIdempotencyKeysBefore', [now], () => this.#inner.forgetIdempotencyKeysBefore(now))
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    return this.#call('get', [owner, id], () => this.#inner.get(owner, id))
  }

  listStamps(owner: string, limit: number, after?: { readonly createdAt: string; readonly id: string }): Promise<EntryStamp[]> {
    return this.#call('listStamps', [owner, limit, after], () => this.#inner.listStamps(owner, limit, after))
  }

  findByName(owner: string, name: string): Promise<StoredEntry | undefined> {
    return this.#call('findByName', [owner, name], () => this.#inner.findByName(owner, name))
  }

  update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    const args = ifVersion === undefined ? [owner, id, entry] : [owner, id, entry, ifVersion]
    return this.#call('update', args, () => this.#inner.update(owner, id, entry, ifVersion))
  }

  updateMany(owner: string, updates: readonly EntryUpdate[]): Promise<StoredEntry[] | undefined> {
    return this.#call('updateMany', [owner, updates], () => this.#inner.updateMany(owner, updates))
  }

  setPhoto(owner: string, id: string, photo: PhotoData | null, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    return this.#call('setPhoto', [owner, id, photo, ifVersion], () => this.#inner.setPhoto(owner, id, photo, ifVersion))
  }

  getPhoto(owner: string, id: string, which: 'image' | 'thumbnail'): Promise<PhotoImage | undefined> {
    return this.#call('getPhoto', [owner, id, which], () => this.#inner.getPhoto(owner, id, which))
  }

  labelCounts(owner: string): Promise<LabelCount[]> {
    return this.#call('labelCounts', [owner], () => this.#inner.labelCounts(owner))
  }

  delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    const args = ifVersion === undefined ? [owner, id] : [owner, id, ifVersion]
    return this.#call('delete', args, () => this.#inner.delete(owner, id, ifVersion))
  }

  list(owner: string, query: ListQuery): Promise<StoredEntry[]> {
    return this.#call('list', [owner, query], () => this.#inner.list(owner, query))
  }

  count(owner: string, filter: EntryFilter): Promise<number> {
    return this.#call('count', [owner, filter], () => this.#inner.count(owner, filter))
  }

  history(owner: string, id: string, limit: number, before?: number): Promise<StoredVersion[]> {
    return this.#call('history', [owner, id, limit, before], () => this.#inner.history(owner, id, limit, before))
  }

  restoreVersion(owner: string, id: string, seq: number, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    return this.#call('restoreVersion', [owner, id, seq, ifVersion], () => this.#inner.restoreVersion(owner, id, seq, ifVersion))
  }

  listTrash(owner: string, query: TrashQuery): Promise<TrashedEntry[]> {
    return this.#call('listTrash', [owner, query], () => this.#inner.listTrash(owner, query))
  }

  restoreFromTrash(owner: string, id: string): Promise<StoredEntry | undefined> {
    return this.#call('restoreFromTrash', [owner, id], () => this.#inner.restoreFromTrash(owner, id))
  }

  emptyTrash(owner: string, id?: string): Promise<number> {
    return this.#call('emptyTrash', [owner, id], () => this.#inner.emptyTrash(owner, id))
  }

  restoreBook(owners: readonly string[], at: string, options?: { readonly preview?: boolean }): Promise<BookRestore[]> {
    return this.#call('restoreBook', [owners, at, options], () => this.#inner.restoreBook(owners, at, options))
  }

  forgetHistoryBefore(before: string, keep: number): Promise<number> {
    return this.#call('forgetHistoryBefore', [before, keep], () => this.#inner.forgetHistoryBefore(before, keep))
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

/** An entry as read, without the time it was written (which the ticking clock decides). */
function withoutTime<T extends { updatedAt: string }>(read: T): Omit<T, 'updatedAt'> {
  const { updatedAt, ...rest } = read
  assert.match(updatedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  return rest
}

function tickingClock(): () => Date {
  let now = Date.parse('2024-05-06T07:08:09.000Z')
  return () => new Date(now++)
}

function aService(t: TestContext, options: AddressBookServiceOptions & { failure?: Error } = {}) {
  const { failure, ...serviceOptions } = options
  const store = new FakeStore(failure ? { failure } : {})
  t.after(() => store.close())
  return { store, service: new AddressBookService(store, serviceOptions) }
}

/** A listing large enough for any book these tests make, in the default order. */
const EVERYTHING: ListRequest = { limit: 1000, sort: DEFAULT_SORT }

/** The principal's whole book as the original API showed it: entries keyed by id, in order. */
async function bookOf(service: AddressBook, principal: Principal): Promise<Record<string, AddressEntry>> {
  const { entries } = await service.list(principal, EVERYTHING)
  return Object.fromEntries(entries.map(({ id, entry }) => [id, entry]))
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
  describe('labels', () => {
    test('when an entry comes with labels, then each is trimmed and kept once, whatever its case, the first spelling in order', async (t) => {
      const { service } = aService(t)

      const { id, entry } = await service.create(CALLER, anEntry({ labels: ['  Family ', 'Work', 'FAMILY', 'work ', 'Ｆａｍｉｌｙ'] }))

      assert.deepEqual(entry.labels, ['Family', 'Work'])
      assert.deepEqual((await service.get(CALLER, id)).entry.labels, ['Family', 'Work'])
    })
  })

  describe('create', () => {
    test('when an entry is created, then it resolves a UUIDv7 id as 32 lowercase hex characters', async (t) => {
      const { service } = aService(t)

      const { id: id } = await service.create(CALLER, anEntry())

      assert.match(id, UUID_V7_HEX)
    })

    test('when an entry is created, then the store receives it under the default owner and the new id', async (t) => {
      const { service, store } = aService(t)

      const { id: id } = await service.create(CALLER, aFullEntry())

      assert.deepEqual(store.calls, [{ method: 'create', args: [DEFAULT_OWNER, id, aFullEntry()] }])
    })

    test('when entries are created one after another, then every id is new and greater than the one before', async (t) => {
      const { service } = aService(t)

      const ids: string[] = []
      for (let count = 0; count < 100; count++) ids.push((await service.create(CALLER, anEntry())).id)

      assert.deepEqual([...ids].sort(), ids)
      assert.equal(new Set(ids).size, ids.length)
    })

    test('when time passes between two creates, then the later id is greater and carries the later time', async (t) => {
      const { service } = aService(t)
      const before = Date.now()

      const { id: first } = await service.create(CALLER, anEntry())
      await sleep(5)
      const { id: second } = await service.create(CALLER, anEntry())

      const after = Date.now()
      assert.ok(second > first, `${second} is not greater than ${first}`)
      assert.ok(timeOf(first) >= before && timeOf(second) - timeOf(first) >= 4 && timeOf(second) <= after)
    })

    test('when a newId option is given, then the entry is stored under the id it makes', async (t) => {
      const { service, store } = aService(t, { newId: () => 'made-by-the-test' })

      const { id: id } = await service.create(CALLER, anEntry())

      assert.equal(id, 'made-by-the-test')
      assert.deepEqual(store.calls, [{ method: 'create', args: [DEFAULT_OWNER, 'made-by-the-test', anEntry()] }])
    })
  })

  describe('get', () => {
    test('when the entry exists, then it resolves the entry exactly as created', async (t) => {
      const { service } = aService(t)
      const { id: id } = await service.create(CALLER, aFullEntry())

      const found = await service.get(CALLER, id)

      assert.deepEqual(withoutTime(found), { id, version: 1, entry: aFullEntry() })
    })

    test('when the id is unknown, then it rejects with EntryNotFoundError for that id', async (t) => {
      const { service } = aService(t)

      await assert.rejects(service.get(CALLER, ID), isNotFound(ID))
    })
  })

  describe('update', () => {
    test('when an entry is updated, then it is replaced by the new entry', async (t) => {
      const { service } = aService(t)
      const { id: id } = await service.create(CALLER, aFullEntry())

      await service.update(CALLER, id, anEntry({ full_name: 'Replaced' }))

      assert.deepEqual((await service.get(CALLER, id)).entry, anEntry({ full_name: 'Replaced' }))
    })

    test('when the id is unknown, then it rejects with EntryNotFoundError and creates nothing', async (t) => {
      const { service, store } = aService(t)

      await assert.rejects(service.update(CALLER, ID, anEntry()), isNotFound(ID))

      assert.deepEqual(store.calls, [{ method: 'update', args: [DEFAULT_OWNER, ID, anEntry()] }])
      assert.deepEqual(await bookOf(service, CALLER), {})
    })

    test('when the new entry is invalid, then it rejects with InvalidEntryError and the stored entry is unchanged', async (t) => {
      const { service, store } = aService(t)
      const { id: id } = await service.create(CALLER, aFullEntry())

      await assert.rejects(service.update(CALLER, id, { full_name: '' }), InvalidEntryError)

      assert.deepEqual(
        store.calls.map((call) => call.method),
        ['create'],
      )
      assert.deepEqual((await service.get(CALLER, id)).entry, aFullEntry())
    })
  })

  describe('delete', () => {
    test('when an entry is deleted, then it can no longer be read', async (t) => {
      const { service } = aService(t)
      const { id: id } = await service.create(CALLER, anEntry())

      await service.delete(CALLER, id)

      await assert.rejects(service.get(CALLER, id), isNotFound(id))
    })

    test('when an entry is deleted twice, then the second delete rejects with EntryNotFoundError', async (t) => {
      const { service } = aService(t)
      const { id: id } = await service.create(CALLER, anEntry())
      await service.delete(CALLER, id)

      await assert.rejects(service.delete(CALLER, id), isNotFound(id))
    })
  })

  describe('list', () => {
    test('when the address book is empty, then it resolves an empty record', async (t) => {
      const { service } = aService(t)

      assert.deepEqual(await bookOf(service, CALLER), {})
    })

    test('when entries exist, then it resolves them keyed by id in creation order, whatever their ids', async (t) => {
      const ids = ['c-entry', 'a-entry', 'b-entry']
      const { service } = aService(t, { newId: () => ids.shift() ?? 'exhausted' })
      await service.create(CALLER, anEntry({ full_name: 'C' }))
      await service.create(CALLER, anEntry({ full_name: 'A' }))
      await service.create(CALLER, anEntry({ full_name: 'B' }))

      const entries = await bookOf(service, CALLER)

      assert.deepEqual(Object.entries(entries), [
        ['c-entry', anEntry({ full_name: 'C' })],
        ['a-entry', anEntry({ full_name: 'A' })],
        ['b-entry', anEntry({ full_name: 'B' })],
      ])
    })
  })

  describe('invalid entries', () => {
    const cases: { when: string; value: unknown; errors: FieldError[] }[] = [
      { when: 'full_name is missing', value: {}, errors: [{ path: '/full_name', message: 'is required' }] },
      { when: 'full_name is blank', value: { full_name: ' \t ' }, errors: [{ path: '/full_name', message: 'must not be blank' }] },
      {
        when: 'it has an unknown field',
        value: anEntry({ middle_name: 'Augusta' } as Partial<AddressEntry>),
        errors: [{ path: '/middle_name', message: 'is not allowed' }],
      },
      {
        when: 'a kind is none of home, work and other',
        value: aFullEntry({ emails: [{ kind: 'mobile' as 'home', email: 'ada@example.org' }] }),
        errors: [{ path: '/emails/0/kind', message: 'must be one of: home, work, other' }],
      },
      { when: 'it is not an object', value: null, errors: [{ path: '', message: 'must be object' }] },
      { when: 'a label is blank', value: anEntry({ labels: ['Family', ' \t'] }), errors: [{ path: '/labels/1', message: 'must not be blank or hold control characters' }] },
      { when: 'a label holds a line break', value: anEntry({ labels: ['Family\nWork'] }), errors: [{ path: '/labels/0', message: 'must not be blank or hold control characters' }] },
      {
        when: 'there are too many labels',
        value: anEntry({ labels: Array.from({ length: 51 }, (_, index) => `Label ${String(index)}`) }),
        errors: [{ path: '/labels', message: 'must not have more than 50 items' }],
      },
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
        assert.deepEqual(await bookOf(service, CALLER), {})
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
      { method: 'list', act: (service) => service.list(CALLER, EVERYTHING) },
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
      const { id: id } = await service.create(alice, aFullEntry())
      store.calls.length = 0

      await assert.rejects(service.get(bob, id), isNotFound(id))
      await assert.rejects(service.update(bob, id, anEntry()), isNotFound(id))
      await assert.rejects(service.delete(bob, id), isNotFound(id))

      assert.deepEqual((await service.get(alice, id)).entry, aFullEntry())
      assert.deepEqual(await bookOf(service, bob), {})
      assert.deepEqual(
        store.calls.slice(0, 3).map((call) => [call.method, call.args[0]]),
        [['get', 'bob'], ['update', 'bob'], ['delete', 'bob']],
      )
    })

    test('when two owners create entries, then each lists only their own', async (t) => {
      const { service } = aService(t)
      const { id: mine } = await service.create(alice, anEntry({ full_name: 'Mine' }))
      const { id: theirs } = await service.create(bob, anEntry({ full_name: 'Theirs' }))

      assert.deepEqual(Object.keys(await bookOf(service, alice)), [mine])
      assert.deepEqual(Object.keys(await bookOf(service, bob)), [theirs])
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
      const { id: id } = await service.create({ ...reader, scopes: ['write'] }, anEntry())

      assert.deepEqual((await service.get(reader, id)).entry, anEntry())
      assert.deepEqual(Object.keys(await bookOf(service, reader)), [id])
    })

    test('when a caller has no scope at all, then even reading is refused with InsufficientScopeError for read', async (t) => {
      const { service, store } = aService(t)

      await assert.rejects(service.get(nobody, ID), (error) => error instanceof InsufficientScopeError && error.needed === 'read')
      await assert.rejects(service.list(nobody, EVERYTHING), InsufficientScopeError)

      assert.deepEqual(store.calls, [])
    })
  })

  describe('conditional writes', () => {
    test('when an update names the current version, then it applies and resolves the next version', async (t) => {
      const { service } = aService(t)
      const { id } = await service.create(CALLER, anEntry())

      const version = await service.update(CALLER, id, anEntry({ full_name: 'Second' }), { ifMatch: [1] })

      assert.equal(version, 2)
      assert.deepEqual(withoutTime(await service.get(CALLER, id)), { id, version: 2, entry: anEntry({ full_name: 'Second' }) })
    })

    test('when an update names another version, then PreconditionFailedError and nothing changes', async (t) => {
      const { service } = aService(t)
      const { id } = await service.create(CALLER, anEntry())

      await assert.rejects(service.update(CALLER, id, anEntry({ full_name: 'Lost' }), { ifMatch: [2, 3] }), PreconditionFailedError)
      await assert.rejects(service.delete(CALLER, id, { ifMatch: [] }), PreconditionFailedError)

      assert.deepEqual(withoutTime(await service.get(CALLER, id)), { id, version: 1, entry: anEntry() })
    })

    test('when a conditional write targets an entry that does not exist, then PreconditionFailedError, not not-found', async (t) => {
      const { service } = aService(t)

      await assert.rejects(service.update(CALLER, ID, anEntry(), { ifMatch: 'any' }), PreconditionFailedError)
      await assert.rejects(service.delete(CALLER, ID, { ifMatch: [1] }), PreconditionFailedError)
      await assert.rejects(service.patch(CALLER, ID, { full_name: 'X' }, { ifMatch: 'any' }), PreconditionFailedError)
    })

    test('when If-None-Match is any, then an existing entry fails the precondition and a missing one is not found', async (t) => {
      const { service } = aService(t)
      const { id } = await service.create(CALLER, anEntry())

      await assert.rejects(service.update(CALLER, id, anEntry({ full_name: 'X' }), { ifNoneMatch: 'any' }), PreconditionFailedError)
      await assert.rejects(service.update(CALLER, ID, anEntry(), { ifNoneMatch: 'any' }), isNotFound(ID))
      assert.equal((await service.get(CALLER, id)).version, 1)
    })

    test('when writes must be conditional, then one without If-Match is refused before anything is read; with it, it applies', async (t) => {
      const { service, store } = aService(t, { requireIfMatch: true })
      const { id } = await service.create(CALLER, anEntry())
      store.calls.length = 0

      await assert.rejects(service.update(CALLER, id, anEntry()), PreconditionRequiredError)
      await assert.rejects(service.patch(CALLER, id, {}), PreconditionRequiredError)
      await assert.rejects(service.delete(CALLER, id), PreconditionRequiredError)
      assert.deepEqual(store.calls, [])
      assert.equal(await service.update(CALLER, id, anEntry(), { ifMatch: 'any' }), 2)
    })
  })

  describe('patch', () => {
    test('when a merge patch changes, adds and removes fields, then the merged entry is stored at the next version', async (t) => {
      const { service } = aService(t)
      const { id } = await service.create(CALLER, aFullEntry())

      const version = await service.patch(CALLER, id, { full_name: 'Grace Brewster Hopper', fax_numbers: null, emails: [{ kind: 'home', email: 'g@example.org' }] })

      const expected: Partial<AddressEntry> = { ...aFullEntry(), full_name: 'Grace Brewster Hopper', emails: [{ kind: 'home', email: 'g@example.org' }] }
      delete expected.fax_numbers
      assert.equal(version, 2)
      assert.deepEqual((await service.get(CALLER, id)).entry, expected)
    })

    for (const [name, patch, path] of [
      ['removes full_name', { full_name: null }, '/full_name'],
      ['adds an unknown field', { middle_name: 'Augusta' }, '/middle_name'],
      ['adds a __proto__ member', JSON.parse('{"__proto__": {"isAdmin": true}}') as unknown, '/__proto__'],
      ['replaces the entry with an array', [1, 2], ''],
    ] as const) {
      test(`when a patch ${name}, then InvalidEntryError naming ${path || 'the entry'} and nothing changes`, async (t) => {
        const { service } = aService(t)
        const { id } = await service.create(CALLER, aFullEntry())

        await assert.rejects(service.patch(CALLER, id, patch), (error) => error instanceof InvalidEntryError && error.errors.some((e) => e.path === path))

        assert.deepEqual(withoutTime(await service.get(CALLER, id)), { id, version: 1, entry: aFullEntry() })
        assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
      })
    }

    test('when the entry is missing, then not found', async (t) => {
      const { service } = aService(t)

      await assert.rejects(service.patch(CALLER, ID, { full_name: 'X' }), isNotFound(ID))
      await assert.rejects(service.patch(CALLER, '../x', { full_name: 'X' }), isNotFound('../x'))
    })

    test('when the entry changes between reading and writing, then the patch is merged into the newer version', async (t) => {
      const { service, store } = aService(t)
      const { id } = await service.create(CALLER, anEntry({ full_name: 'Ada' }))
      const read = store.get.bind(store)
      let raced = false
      store.get = async (owner, entryId) => {
        const found = await read(owner, entryId)
        if (!raced) {
          raced = true
          await store.update(owner, entryId, anEntry({ full_name: 'Ada', emails: [{ kind: 'work', email: 'ada@example.org' }] }))
        }
        return found
      }

      const version = await service.patch(CALLER, id, { full_name: 'Ada King' })

      assert.equal(version, 3)
      assert.deepEqual((await service.get(CALLER, id)).entry, anEntry({ full_name: 'Ada King', emails: [{ kind: 'work', email: 'ada@example.org' }] }))
    })

    test('when the entry changes between reading and writing a patch conditional on the old version, then PreconditionFailedError', async (t) => {
      const { service, store } = aService(t)
      const { id } = await service.create(CALLER, anEntry({ full_name: 'Ada' }))
      const read = store.get.bind(store)
      store.get = async (owner, entryId) => {
        const found = await read(owner, entryId)
        await store.update(owner, entryId, anEntry({ full_name: 'Someone else' }))
        return found
      }

      await assert.rejects(service.patch(CALLER, id, { full_name: 'Ada King' }, { ifMatch: [1] }), PreconditionFailedError)
    })

    test('when the entry keeps changing under every attempt, then StoreUnavailableError (retry later) and the last writer stands', async (t) => {
      const { service, store } = aService(t)
      const { id } = await service.create(CALLER, anEntry({ full_name: 'Ada' }))
      const read = store.get.bind(store)
      store.get = async (owner, entryId) => {
        const found = await read(owner, entryId)
        await store.update(owner, entryId, anEntry({ full_name: 'Busy' }))
        return found
      }

      await assert.rejects(service.patch(CALLER, id, { full_name: 'Ada King' }), StoreUnavailableError)
      assert.equal((await read(DEFAULT_OWNER, id))?.entry.full_name, 'Busy')
    })
  })

  describe('pages', () => {
    async function aBookOf(t: TestContext, count: number) {
      const { service, store } = aService(t)
      const ids: string[] = []
      for (let index = 0; index < count; index++) ids.push((await service.create(CALLER, anEntry({ full_name: `Person ${String(index)}` }))).id)
      return { service, store, ids }
    }

    test('when a book is read a page at a time, then each page gives the cursor of the next until the last', async (t) => {
      const { service, ids } = await aBookOf(t, 7)

      const seen: string[] = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = await service.list(CALLER, { limit: 3, sort: DEFAULT_SORT, cursor })
        seen.push(...page.entries.map((entry) => entry.id))
        cursor = page.next
        pages++
      } while (cursor !== undefined)

      assert.equal(pages, 3)
      assert.deepEqual(seen, ids)
    })

    test('when a page ends exactly at the end of the book, then it has no next cursor', async (t) => {
      const { service } = await aBookOf(t, 3)

      assert.equal((await service.list(CALLER, { limit: 3, sort: DEFAULT_SORT })).next, undefined)
    })

    test('when the count is asked for, then it counts every match, not only the page', async (t) => {
      const { service, store } = await aBookOf(t, 5)
      store.calls.length = 0

      const page = await service.list(CALLER, { limit: 2, sort: DEFAULT_SORT, count: true, q: 'person' })
      const uncounted = await service.list(CALLER, { limit: 2, sort: DEFAULT_SORT })

      assert.equal(page.total, 5)
      assert.equal(uncounted.total, undefined)
      assert.deepEqual(store.calls.map((call) => call.method), ['list', 'count', 'list'])
    })

    test('when a cursor is used with other filters or another order, then InvalidCursorError', async (t) => {
      const { service } = await aBookOf(t, 5)
      const { next } = await service.list(CALLER, { limit: 2, sort: DEFAULT_SORT, q: 'person' })
      assert.ok(next)

      await assert.rejects(service.list(CALLER, { limit: 2, sort: DEFAULT_SORT, q: 'other', cursor: next }), InvalidCursorError)
      await assert.rejects(service.list(CALLER, { limit: 2, sort: { key: 'created', descending: true }, q: 'person', cursor: next }), InvalidCursorError)
      assert.equal((await service.list(CALLER, { limit: 2, sort: DEFAULT_SORT, q: 'PERSON', cursor: next })).entries.length, 2, 'the same search in another case is the same listing')
    })

    for (const [name, cursor] of [
      ['not base64url JSON', '!!!'],
      ['JSON of another shape', Buffer.from('{"a":1}').toString('base64url')],
      ['of another version', Buffer.from('[2,"x","y","z"]').toString('base64url')],
      ['holding a time that does not exist', 'TIME'],
      ['holding an id that cannot exist', 'ID'],
    ] as const) {
      test(`when the cursor is ${name}, then InvalidCursorError and the store is not asked`, async (t) => {
        const { service, store } = await aBookOf(t, 3)
        const { next } = await service.list(CALLER, { limit: 1, sort: DEFAULT_SORT })
        const [version, fingerprint, value, id] = JSON.parse(Buffer.from(String(next), 'base64url').toString()) as [number, string, string, string]
        const forged =
          cursor === 'TIME'
            ? Buffer.from(JSON.stringify([version, fingerprint, '2024-02-31T25:00:00.000Z', id])).toString('base64url')
            : cursor === 'ID'
              ? Buffer.from(JSON.stringify([version, fingerprint, value, '../x'])).toString('base64url')
              : cursor
        store.calls.length = 0

        await assert.rejects(service.list(CALLER, { limit: 1, sort: DEFAULT_SORT, cursor: forged }), InvalidCursorError)
        assert.deepEqual(store.calls, [])
      })
    }
  })

  describe('imports', () => {
    /** Items as a parser yields them, counting how many were read. */
    function counted(items: Iterable<ImportItem>): { items: Iterable<ImportItem>; read: () => number } {
      let read = 0
      return {
        items: (function* () {
          for (const item of items) {
            read++
            yield item
          }
        })(),
        read: () => read,
      }
    }

    function* lines(count: number, entry: (line: number) => unknown): Generator<ImportItem> {
      for (let line = 1; line <= count; line++) yield { line, entry: entry(line) }
    }

    test('when an import has more failing fields than the limit, then it names the first of them and reads no further', async (t) => {
      const { service, store } = aService(t)
      const source = counted(lines(1_000_000, () => 0))

      await assert.rejects(service.importEntries(CALLER, source.items), (error) => {
        assert.ok(error instanceof InvalidImportError)
        assert.equal(error.fieldErrors.length, IMPORT_ERROR_LIMIT)
        assert.deepEqual(error.fieldErrors[0], { line: 1, path: '', message: 'must be object' })
        assert.match(String(error.detail), /first 100 errors/)
        return true
      })
      assert.equal(source.read(), IMPORT_ERROR_LIMIT)
      assert.deepEqual(store.calls, [])
    })

    test('when an item has more failing fields than the limit leaves room for, then only those fit are named', async (t) => {
      const { service } = aService(t)
      const wide = { full_name: '', ...Object.fromEntries(Array.from({ length: 7 }, (_, index) => [`x${String(index)}`, 1])) }

      await assert.rejects(service.importEntries(CALLER, lines(50, () => wide)), (error) => {
        assert.ok(error instanceof InvalidImportError)
        assert.equal(error.fieldErrors.length, IMPORT_ERROR_LIMIT)
        assert.ok(Number(error.fieldErrors.at(-1)?.line) < 50, 'checking stopped before the last item')
        return true
      })
    })

    test('when a few items fail, then every failing field is named, the detail is the usual one, and nothing is stored', async (t) => {
      const { service, store } = aService(t)

      await assert.rejects(service.importEntries(CALLER, lines(10, (line) => (line % 5 === 0 ? { full_name: '' } : anEntry()))), (error) => {
        assert.ok(error instanceof InvalidImportError)
        assert.deepEqual(error.fieldErrors, [
          { line: 5, path: '/full_name', message: 'must not be blank' },
          { line: 10, path: '/full_name', message: 'must not be blank' },
        ])
        assert.equal(error.detail, undefined)
        return true
      })
      assert.deepEqual(store.calls, [])
    })

    test('when reading the source throws, then the import rejects with that error and stores nothing', async (t) => {
      const { service, store } = aService(t)
      const unreadable = new Error('the body is not what it claims')
      function* failing(): Generator<ImportItem> {
        yield { line: 1, entry: anEntry() }
        throw unreadable
      }

      await assert.rejects(service.importEntries(CALLER, failing()), (error) => error === unreadable)
      assert.deepEqual(store.calls, [])
    })

    test('when a big import is checked, then the event loop runs other work before it ends', async (t) => {
      const { service } = aService(t)
      let ranMeanwhile = false
      setImmediate(() => {
        ranMeanwhile = true
      })

      const { result } = await service.importEntries(CALLER, lines(20_000, (line) => anEntry({ full_name: `Person ${String(line)}` })))

      assert.equal(result.length, 20_000)
      assert.equal(result[19_999]?.line, 20_000)
      assert.ok(ranMeanwhile, 'nothing else ran while 20,000 items were checked')
    })

    test('when a big book is exported, then the event loop runs other work before the export ends', async (t) => {
      const { service } = aService(t)
      await service.importEntries(CALLER, lines(5_000, (line) => aFullEntry({ full_name: `Person ${String(line)}` })))
      let turns = 0
      const counting = setInterval(() => turns++, 0)
      t.after(() => {
        clearInterval(counting)
      })

      let exported = 0
      for await (const entry of await service.exportEntries(CALLER, { sort: DEFAULT_SORT })) exported += entry.entry.full_name === '' ? 0 : 1

      assert.equal(exported, 5_000)
      assert.ok(turns > 0, 'no timer ran while 5,000 entries were exported')
    })
  })
})
