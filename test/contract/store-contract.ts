import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import { EntryExistsError } from '../../src/domain/errors.js'
import { DEFAULT_SORT, normalizeFilter } from '../../src/domain/listing.js'
import type { ApiKeyRecord, Clock, NewApiKey, Store, StoredEntry } from '../../src/storage/store.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'
import { describeCardContract } from './card-contract.js'
import { describeLabelsContract } from './labels-contract.js'
import { describeListingContract } from './listing-contract.js'
import { describeHistoryContract } from './history-contract.js'
import { describePhotosContract } from './photos-contract.js'
import { describeStampsContract } from './stamps-contract.js'
import { describeSyncContract } from './sync-contract.js'

/**
 * Builds a fresh, empty store for one test and registers its own cleanup on `t`. The store
 * reads the time from `clock` when one is given, and from the system clock otherwise.
 */
export type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'
const ISO_UTC_WITH_MILLISECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** A clock that stands still until the test moves it. */
function aManualClock(start = '2024-05-06T07:08:09.123Z') {
  let now = new Date(start).getTime()
  return {
    clock: (() => new Date(now)) satisfies Clock,
    now: () => new Date(now).toISOString(),
    advance(milliseconds: number) {
      now += milliseconds
    },
  }
}

/** Text that breaks naive encodings: several scripts, combining marks, astral and control characters. */
function aUnicodeEntry(): AddressEntry {
  return aFullEntry({
    full_name: 'Zoë Ångström-Łukasiewicz 山田太郎 محمد 👩🏽‍🚀 e\u0301',
    addresses: [
      {
        kind: 'home',
        building_name: 'quote " backslash \\ bell \u0007 tab \t newline \n',
        street_number: '½',
        street_name: 'Straße der Einheit',
        locality: 'Ελληνικά',
        city: 'Zürich',
        province: 'line\u2028separator\u2029paragraph',
        pincode: '〒100-0001',
        country: '日本 🇯🇵',
      },
    ],
  })
}

/** Every field present, every string and list at the schema's maximum, every number at its maximum. */
function aMaximalEntry(): AddressEntry {
  const text = (length: number) => 'é語a'.repeat(Math.ceil(length / 3)).slice(0, length)
  const phone = { kind: 'work', country_code: 999, area_code: 99_999, local_number: 99_999_999_999_999 } as const
  return {
    full_name: text(200),
    addresses: Array.from({ length: 20 }, (_, index) => ({
      kind: 'home' as const,
      building_name: text(200),
      unit_number: 999_999,
      street_number: text(32),
      street_name: text(200),
      locality: text(100),
      city: text(100),
      province: text(100),
      pincode: index % 2 === 0 ? 9_999_999_999 : text(32),
      country: text(100),
    })),
    phone_numbers: Array.from({ length: 20 }, () => ({ ...phone })),
    fax_numbers: Array.from({ length: 20 }, () => ({ ...phone })),
    emails: Array.from({ length: 20 }, () => ({
      kind: 'work' as const,
      email: `${'a'.repeat(64)}@${`${'b'.repeat(61)}.`.repeat(3)}org`,
    })),
  }
}

/** Changes a returned or input entry in place, at the top and deep inside. */
function tamperWith(entry: AddressEntry): void {
  entry.full_name = 'Mallory'
  const address = entry.addresses?.[0]
  if (address) address.street_name = 'Tampered Street'
  entry.emails?.push({ kind: 'home', email: 'mallory@example.org' })
}

/** A new API key as the service hands it to the store, with overrides. */
function aNewKey(overrides: Partial<NewApiKey> = {}): NewApiKey {
  return {
    id: '0123456789abcdef',
    owner: ALICE,
    scope: 'write',
    label: 'phone sync',
    secretHash: 'ab'.repeat(32),
    createdAt: '2024-05-06T07:08:09.123Z',
    ...overrides,
  }
}

/** Every entry of the owner, in the default order (creation, then id). */
function listAll(store: Store, owner: string): Promise<StoredEntry[]> {
  return store.list(owner, { filter: { terms: [] }, sort: DEFAULT_SORT, limit: 10_000 })
}

function idsOf(entries: readonly StoredEntry[]): string[] {
  return entries.map((stored) => stored.id)
}

/** Defines the AddressBookStore contract suite; every adapter must pass it unchanged. */
export function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`${name} (address book store contract)`, () => {
    describe('create', () => {
      test('when an entry is created, then it resolves the stored entry at version 1 with both timestamps at the clock time', async (t) => {
        const time = aManualClock()
        const store = await makeStore(t, time.clock)

        const created = await store.create(ALICE, 'entry-1', anEntry())

        assert.deepEqual(created, {
          id: 'entry-1',
          owner: ALICE,
          version: 1,
          createdAt: time.now(),
          updatedAt: time.now(),
          entry: anEntry(),
        })
      })

      test('when an entry is created, then get resolves the same stored entry', async (t) => {
        const store = await makeStore(t, aManualClock().clock)

        const created = await store.create(ALICE, 'entry-1', aFullEntry())

        assert.deepEqual(await store.get(ALICE, 'entry-1'), created)
      })

      test('when no clock is given, then the timestamps are the current time in ISO 8601 UTC with milliseconds', async (t) => {
        const store = await makeStore(t)
        const before = Date.now()

        const created = await store.create(ALICE, 'entry-1', anEntry())

        const after = Date.now()
        assert.match(created.createdAt, ISO_UTC_WITH_MILLISECONDS)
        assert.equal(created.updatedAt, created.createdAt)
        const createdAt = Date.parse(created.createdAt)
        assert.ok(createdAt >= before && createdAt <= after, `${created.createdAt} is not between the calls`)
      })

      test('when the id is taken, then it rejects with EntryExistsError and the first entry stays as it was', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const first = await store.create(ALICE, 'entry-1', anEntry({ full_name: 'First' }))

        await assert.rejects(store.create(ALICE, 'entry-1', anEntry({ full_name: 'Second' })), (error) => {
          assert.ok(error instanceof EntryExistsError)
          assert.equal(error.id, 'entry-1')
          return true
        })

        assert.deepEqual(await listAll(store, ALICE), [first])
      })

      test('when another owner has an entry with the same id, then the create succeeds and each owner reads only their own', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const alices = await store.create(ALICE, 'entry-1', anEntry({ full_name: 'Alice' }))

        const bobs = await store.create(BOB, 'entry-1', anEntry({ full_name: 'Bob' }))

        assert.deepEqual(bobs, { ...alices, owner: BOB, entry: anEntry({ full_name: 'Bob' }) })
        assert.deepEqual(await store.get(ALICE, 'entry-1'), alices)
        assert.deepEqual(await store.get(BOB, 'entry-1'), bobs)
        assert.deepEqual(await listAll(store, ALICE), [alices])
        assert.deepEqual(await listAll(store, BOB), [bobs])
      })
    })

    describe('get', () => {
      test('when the id is unknown, then it resolves undefined', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())

        assert.equal(await store.get(ALICE, 'entry-2'), undefined)
      })

      test('when an entry uses every field, then get and list return it exactly', async (t) => {
        const store = await makeStore(t)

        await store.create(ALICE, 'entry-1', aFullEntry())

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
        assert.deepEqual((await listAll(store, ALICE))[0]?.entry, aFullEntry())
      })

      test('when an entry holds unicode and control characters, then get and list return it exactly', async (t) => {
        const store = await makeStore(t)

        await store.create(ALICE, 'entry-1', aUnicodeEntry())

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aUnicodeEntry())
        assert.deepEqual((await listAll(store, ALICE))[0]?.entry, aUnicodeEntry())
      })

      test('when an entry has every field at its maximum size, then get and list return it exactly', async (t) => {
        const store = await makeStore(t)

        await store.create(ALICE, 'entry-1', aMaximalEntry())

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aMaximalEntry())
        assert.deepEqual((await listAll(store, ALICE))[0]?.entry, aMaximalEntry())
      })

      test('when a caller changes the entry it stored or the one it read, then the stored entry stays as it was', async (t) => {
        const store = await makeStore(t)
        const entry = aFullEntry()

        const created = await store.create(ALICE, 'entry-1', entry)
        entry.full_name = 'changed after create'
        created.entry.full_name = 'changed in the result of create'
        const read = await store.get(ALICE, 'entry-1')
        read?.entry.addresses?.splice(0)
        const listed = (await listAll(store, ALICE))[0]
        if (listed?.entry.emails?.[0]) listed.entry.emails[0].email = 'changed@example.org'

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
      })
    })

    describe('update', () => {
      test('when an entry is updated, then it is replaced at version 2, createdAt stays and updatedAt is the new clock time', async (t) => {
        const time = aManualClock()
        const store = await makeStore(t, time.clock)
        const created = await store.create(ALICE, 'entry-1', anEntry({ full_name: 'Before' }))
        time.advance(60_000)

        const updated = await store.update(ALICE, 'entry-1', anEntry({ full_name: 'After' }))

        assert.deepEqual(updated, {
          id: 'entry-1',
          owner: ALICE,
          version: 2,
          createdAt: created.createdAt,
          updatedAt: time.now(),
          entry: anEntry({ full_name: 'After' }),
        })
        assert.notEqual(updated.updatedAt, created.updatedAt)
        assert.deepEqual(await store.get(ALICE, 'entry-1'), updated)
      })

      test('when an entry is updated again and again, then each update increments the version by one', async (t) => {
        const time = aManualClock()
        const store = await makeStore(t, time.clock)
        await store.create(ALICE, 'entry-1', anEntry())

        const versions: (number | undefined)[] = []
        for (let round = 1; round <= 3; round++) {
          time.advance(1)
          versions.push((await store.update(ALICE, 'entry-1', anEntry({ full_name: `Round ${String(round)}` })))?.version)
        }

        assert.deepEqual(versions, [2, 3, 4])
        assert.equal((await store.get(ALICE, 'entry-1'))?.version, 4)
      })

      test('when the new entry leaves fields out, then they are gone (replace, not merge)', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', aFullEntry())

        await store.update(ALICE, 'entry-1', anEntry())

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, anEntry())
      })

      test('when the id is unknown, then it resolves undefined and creates nothing', async (t) => {
        const store = await makeStore(t)

        const updated = await store.update(ALICE, 'entry-1', anEntry())

        assert.equal(updated, undefined)
        assert.equal(await store.get(ALICE, 'entry-1'), undefined)
        assert.deepEqual(await listAll(store, ALICE), [])
      })

      test('when the entry was deleted, then it resolves undefined and the entry stays deleted', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())
        await store.delete(ALICE, 'entry-1')

        const updated = await store.update(ALICE, 'entry-1', anEntry({ full_name: 'Revenant' }))

        assert.equal(updated, undefined)
        assert.equal(await store.get(ALICE, 'entry-1'), undefined)
      })
    })

    describe('delete', () => {
      test('when an entry is deleted, then it resolves true and the entry can no longer be read or listed', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())
        const kept = await store.create(ALICE, 'entry-2', anEntry({ full_name: 'Kept' }))

        const deleted = await store.delete(ALICE, 'entry-1')

        assert.equal(deleted, true)
        assert.equal(await store.get(ALICE, 'entry-1'), undefined)
        assert.deepEqual(await listAll(store, ALICE), [kept])
      })

      test('when an entry is deleted twice, then the second delete resolves false', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())
        await store.delete(ALICE, 'entry-1')

        assert.equal(await store.delete(ALICE, 'entry-1'), false)
      })

      test('when the id is unknown, then it resolves false and leaves the other entries alone', async (t) => {
        const store = await makeStore(t)
        const kept = await store.create(ALICE, 'entry-1', anEntry())

        assert.equal(await store.delete(ALICE, 'entry-2'), false)
        assert.deepEqual(await listAll(store, ALICE), [kept])
      })
    })

    describe('list', () => {
      test('when the store is empty, then it resolves an empty list', async (t) => {
        const store = await makeStore(t)

        assert.deepEqual(await listAll(store, ALICE), [])
      })

      test('when the owner has no entries but others do, then it resolves an empty list', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())

        assert.deepEqual(await listAll(store, 'nobody'), [])
      })

      test('when entries are created at the same time out of order, then they are listed by id in code point order', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        for (const id of ['b', 'B', '10', '9', 'a', '-x', 'A1']) await store.create(ALICE, id, anEntry({ full_name: id }))

        const listed = await listAll(store, ALICE)

        assert.deepEqual(idsOf(listed), ['-x', '10', '9', 'A1', 'B', 'a', 'b'])
        assert.deepEqual(
          listed.map((stored) => stored.entry.full_name),
          idsOf(listed),
        )
      })

      test('when entries were created and updated, then each listed item is the full stored entry', async (t) => {
        const time = aManualClock()
        const store = await makeStore(t, time.clock)
        const first = await store.create(ALICE, 'entry-1', anEntry())
        time.advance(1000)
        await store.create(ALICE, 'entry-2', aFullEntry())
        time.advance(1000)
        const second = await store.update(ALICE, 'entry-2', aFullEntry({ full_name: 'Renamed' }))

        assert.deepEqual(await listAll(store, ALICE), [first, second])
      })
    })

    describe('owners', () => {
      test('when another owner reads an entry, then it is invisible to them', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())

        assert.equal(await store.get(BOB, 'entry-1'), undefined)
        assert.deepEqual(await listAll(store, BOB), [])
      })

      test('when another owner updates an entry, then it resolves undefined and the entry is unchanged', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const alices = await store.create(ALICE, 'entry-1', anEntry({ full_name: 'Alice' }))

        const updated = await store.update(BOB, 'entry-1', anEntry({ full_name: 'Bob' }))

        assert.equal(updated, undefined)
        assert.deepEqual(await store.get(ALICE, 'entry-1'), alices)
        assert.deepEqual(await listAll(store, BOB), [])
      })

      test('when another owner deletes an entry, then it resolves false and the entry is still there', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const alices = await store.create(ALICE, 'entry-1', anEntry())

        const deleted = await store.delete(BOB, 'entry-1')

        assert.equal(deleted, false)
        assert.deepEqual(await store.get(ALICE, 'entry-1'), alices)
      })

      test('when two owners hold the same id, then updating and deleting one leaves the other as it was, still found by its filters', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const email = (address: string) => ({ emails: [{ kind: 'home' as const, email: address }] })
        await store.create(ALICE, 'entry-1', anEntry({ full_name: 'Alice', ...email('alice@example.org') }))
        const bobs = await store.create(BOB, 'entry-1', anEntry({ full_name: 'Bob', ...email('bob@example.org') }))

        await store.update(ALICE, 'entry-1', anEntry({ full_name: 'Alice', ...email('alice@example.net') }))
        await store.delete(ALICE, 'entry-1')

        assert.deepEqual(await store.get(BOB, 'entry-1'), bobs)
        assert.equal(await store.count(BOB, normalizeFilter({ email: 'bob@example.org' })), 1)
        assert.deepEqual(idsOf(await store.list(BOB, { filter: normalizeFilter({ q: 'bob@' }), sort: DEFAULT_SORT, limit: 10 })), ['entry-1'])
        assert.equal(await store.get(ALICE, 'entry-1'), undefined)
      })

      test('when two owners have entries, then each lists only their own', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const alices = await store.create(ALICE, 'entry-1', anEntry({ full_name: 'Alice' }))
        const bobs = await store.create(BOB, 'entry-2', anEntry({ full_name: 'Bob' }))

        assert.deepEqual(await listAll(store, ALICE), [alices])
        assert.deepEqual(await listAll(store, BOB), [bobs])
      })
    })

    describe('copies', () => {
      test('when the input entry is changed after create, then the stored entry is not', async (t) => {
        const store = await makeStore(t)
        const input = aFullEntry()

        await store.create(ALICE, 'entry-1', input)
        tamperWith(input)

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
      })

      test('when the input entry is changed after update, then the stored entry is not', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())
        const input = aFullEntry()

        await store.update(ALICE, 'entry-1', input)
        tamperWith(input)

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
      })

      test('when the entry create returned is changed, then the stored entry is not', async (t) => {
        const store = await makeStore(t)

        tamperWith((await store.create(ALICE, 'entry-1', aFullEntry())).entry)

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
      })

      test('when the entry get returned is changed, then the stored entry is not', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', aFullEntry())
        const read = await store.get(ALICE, 'entry-1')
        assert.ok(read)

        tamperWith(read.entry)

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
      })

      test('when the entry update returned is changed, then the stored entry is not', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())
        const updated = await store.update(ALICE, 'entry-1', aFullEntry())
        assert.ok(updated)

        tamperWith(updated.entry)

        assert.deepEqual((await store.get(ALICE, 'entry-1'))?.entry, aFullEntry())
      })

      test('when the entries list returned are changed, then the stored entries are not', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', aFullEntry())

        for (const stored of await listAll(store, ALICE)) tamperWith(stored.entry)

        assert.deepEqual((await listAll(store, ALICE))[0]?.entry, aFullEntry())
      })
    })

    describe('many entries', () => {
      test('when 200 entries are created in scrambled order, then all are listed in id order (created at one time) and each reads back', async (t) => {
        const store = await makeStore(t, aManualClock().clock)
        const ids = Array.from({ length: 200 }, (_, index) => `entry-${String(index).padStart(3, '0')}`)
        // 7 and 200 are coprime, so stepping by 7 visits every id once, out of order.
        const scrambled = ids.map((_, index) => ids[(index * 7) % ids.length] ?? '')
        for (const id of scrambled) await store.create(ALICE, id, anEntry({ full_name: `Person ${id}` }))

        const listed = await listAll(store, ALICE)

        assert.deepEqual(idsOf(listed), ids)
        for (const id of ids) {
          assert.deepEqual((await store.get(ALICE, id))?.entry, anEntry({ full_name: `Person ${id}` }))
        }
      })
    })

    describe('ready', () => {
      test('when the store is new, then ready resolves, and the store then serves', async (t) => {
        const store = await makeStore(t)

        await store.ready()

        assert.deepEqual(await listAll(store, ALICE), [])
      })

      test('when the store is closed, then ready rejects', async (t) => {
        const store = await makeStore(t)
        await store.ready()

        await store.close()

        await assert.rejects(store.ready())
      })
    })

    describe('close', () => {
      test('when the store is closed twice, then both calls resolve', async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'entry-1', anEntry())

        await store.close()

        await assert.doesNotReject(store.close())
      })
    })

    describe('api keys', () => {
      test('when a key is created, then find resolves it as given, never used and not revoked', async (t) => {
        const store = await makeStore(t)

        const created = await store.createApiKey(aNewKey())

        const expected: ApiKeyRecord = { ...aNewKey(), lastUsedAt: null, revokedAt: null }
        assert.deepEqual(created, expected)
        assert.deepEqual(await store.findApiKey(aNewKey().id), expected)
      })

      test('when a key has no label, then it is stored as null', async (t) => {
        const store = await makeStore(t)

        await store.createApiKey(aNewKey({ label: null, scope: 'read' }))

        const found = await store.findApiKey(aNewKey().id)
        assert.equal(found?.label, null)
        assert.equal(found.scope, 'read')
      })

      test('when the id is taken, then create rejects and the first key stays', async (t) => {
        const store = await makeStore(t)
        await store.createApiKey(aNewKey())

        await assert.rejects(store.createApiKey(aNewKey({ owner: BOB })))

        assert.equal((await store.findApiKey(aNewKey().id))?.owner, ALICE)
      })

      test('when no key has the id, then find resolves undefined', async (t) => {
        const store = await makeStore(t)

        assert.equal(await store.findApiKey('fedcba9876543210'), undefined)
      })

      test('when keys are listed, then every key comes oldest first, or only an owner\'s', async (t) => {
        const store = await makeStore(t)
        await store.createApiKey(aNewKey({ id: 'b000000000000000', createdAt: '2024-05-06T07:08:10.000Z' }))
        await store.createApiKey(aNewKey({ id: 'a000000000000000', owner: BOB, createdAt: '2024-05-06T07:08:11.000Z' }))
        await store.createApiKey(aNewKey({ id: 'c000000000000000', createdAt: '2024-05-06T07:08:09.000Z' }))

        assert.deepEqual((await store.listApiKeys()).map((key) => key.id), ['c000000000000000', 'b000000000000000', 'a000000000000000'])
        assert.deepEqual((await store.listApiKeys(ALICE)).map((key) => key.id), ['c000000000000000', 'b000000000000000'])
        assert.deepEqual(await store.listApiKeys('carol'), [])
      })

      test('when a key is revoked twice, then the first time stays the revocation time', async (t) => {
        const store = await makeStore(t)
        await store.createApiKey(aNewKey())

        const first = await store.revokeApiKey(aNewKey().id, '2024-06-01T00:00:00.000Z')
        const second = await store.revokeApiKey(aNewKey().id, '2024-07-01T00:00:00.000Z')

        assert.equal(first?.revokedAt, '2024-06-01T00:00:00.000Z')
        assert.equal(second?.revokedAt, '2024-06-01T00:00:00.000Z')
        assert.equal((await store.findApiKey(aNewKey().id))?.revokedAt, '2024-06-01T00:00:00.000Z')
      })

      test('when a key that does not exist is revoked, then it resolves undefined', async (t) => {
        const store = await makeStore(t)

        assert.equal(await store.revokeApiKey('fedcba9876543210', '2024-06-01T00:00:00.000Z'), undefined)
      })

      test('when a key is touched, then its last use is that time and nothing else changes', async (t) => {
        const store = await makeStore(t)
        await store.createApiKey(aNewKey())

        await store.touchApiKey(aNewKey().id, '2024-06-02T03:04:05.678Z')
        await store.touchApiKey('fedcba9876543210', '2024-06-02T03:04:05.678Z')

        assert.deepEqual(await store.findApiKey(aNewKey().id), { ...aNewKey(), lastUsedAt: '2024-06-02T03:04:05.678Z', revokedAt: null })
      })
    })

    describeListingContract(makeStore)
    describeLabelsContract(makeStore)
    describePhotosContract(makeStore)
    describeHistoryContract(makeStore)
    describeSyncContract(makeStore)
    describeCardContract(makeStore)
    describeStampsContract(makeStore)
  })
}
