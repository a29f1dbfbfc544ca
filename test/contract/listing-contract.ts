import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import { DEFAULT_SORT, normalizeFilter, sortValueOf, type FilterRequest, type Sort } from '../../src/domain/listing.js'
import type { Clock, Store, StoredEntry } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

/** A clock that moves one millisecond every time it is read, so that every write has its own time. */
function aTickingClock(start = Date.parse('2024-05-06T07:08:09.000Z')) {
  let now = start
  return (() => new Date(now++)) satisfies Clock
}

function person(name: string, more: Partial<AddressEntry> = {}): AddressEntry {
  return anEntry({ full_name: name, ...more })
}

/** Reads every page of a listing, `limit` at a time, the way a client follows cursors. */
async function allPages(store: Store, owner: string, sort: Sort, limit: number, filter: FilterRequest = {}): Promise<StoredEntry[][]> {
  const pages: StoredEntry[][] = []
  let after
  for (;;) {
    const page = await store.list(owner, { filter: normalizeFilter(filter), sort, limit, after })
    if (page.length === 0) return pages
    pages.push(page)
    const last = page.at(-1)
    if (!last) return pages
    after = { value: sortValueOf(sort.key, last), id: last.id }
  }
}

async function namesOf(store: Store, filter: FilterRequest, sort: Sort = { key: 'full_name', descending: false }, owner = ALICE): Promise<string[]> {
  const found = await store.list(owner, { filter: normalizeFilter(filter), sort, limit: 1000 })
  return found.map((stored) => stored.entry.full_name)
}

/**
 * Listing, filtering, searching, sorting and conditional writes: every store must agree with
 * every other on what matches and in which order.
 */
export function describeListingContract(makeStore: MakeStore): void {
  describe('createMany', () => {
    test('when several entries are created at once, then all are stored at version 1 and searchable', async (t) => {
      const store = await makeStore(t, () => new Date('2024-01-01T00:00:00.000Z'))

      await store.createMany(ALICE, [
        { id: 'b', entry: person('Bea', { emails: [{ kind: 'home', email: 'bea@example.org' }] }) },
        { id: 'a', entry: person('Abe') },
      ])

      const created = await Promise.all(['b', 'a'].map((id) => store.get(ALICE, id)))
      assert.deepEqual(created.map((stored) => [stored?.id, stored?.version, stored?.createdAt, stored?.updatedAt]), [
        ['b', 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
        ['a', 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
      ])
      assert.deepEqual(await namesOf(store, {}), ['Abe', 'Bea'])
      assert.deepEqual(await namesOf(store, { email: 'bea@example.org' }), ['Bea'])
    })

    test('when an import of thousands is stored at once, then every entry is there as given, and other work runs meanwhile', async (t) => {
      const store = await makeStore(t)
      const entries = Array.from({ length: 20_000 }, (_, index) => ({
        id: `e${String(index).padStart(5, '0')}`,
        entry: person(`Person ${String(index)} – Ünïcødé 🙂`, { emails: [{ kind: 'work', email: `p${String(index)}@example.org` }] }),
      }))
      let ranMeanwhile = false
      setImmediate(() => {
        ranMeanwhile = true
      })

      await store.createMany(ALICE, entries)

      assert.ok(ranMeanwhile)
      assert.equal(await store.count(ALICE, normalizeFilter({})), 20_000)
      for (const index of [0, 9_999, 19_999]) assert.deepEqual((await store.get(ALICE, `e${String(index).padStart(5, '0')}`))?.entry, entries[index]?.entry)
      assert.deepEqual(await namesOf(store, { email: 'p12345@example.org' }), ['Person 12345 – Ünïcødé 🙂'])
      assert.equal((await store.changePosition(ALICE)).latest, 20_000)
    })

    test('when one of the ids is taken, or given twice, then EntryExistsError names it and nothing is stored', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'taken', person('Alice'))

      await assert.rejects(store.createMany(ALICE, [{ id: 'new', entry: person('New') }, { id: 'taken', entry: person('Clash') }]), { id: 'taken' })
      await assert.rejects(store.createMany(ALICE, [{ id: 'twice', entry: person('One') }, { id: 'twice', entry: person('Two') }]), { id: 'twice' })

      assert.deepEqual(await namesOf(store, {}), ['Alice'])
    })

    test('when an id is taken in another owner\'s book, then the entries are created all the same', async (t) => {
      const store = await makeStore(t)
      await store.create(BOB, 'taken', person('Bob'))

      await store.createMany(ALICE, [{ id: 'new', entry: person('New') }, { id: 'taken', entry: person('Alice') }])

      assert.deepEqual(await namesOf(store, {}), ['Alice', 'New'])
      assert.equal((await store.get(BOB, 'taken'))?.entry.full_name, 'Bob')
    })

    test('when nothing is given, then nothing is stored', async (t) => {
      const store = await makeStore(t)

      await store.createMany(ALICE, [])

      assert.deepEqual(await namesOf(store, {}), [])
    })
  })

  describe('conditional writes', () => {
    test('when an update names the stored version, then it applies and the version goes up', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'e1', person('Ada'))

      const updated = await store.update(ALICE, 'e1', person('Ada King'), [1])

      assert.equal(updated?.version, 2)
      assert.equal((await store.get(ALICE, 'e1'))?.entry.full_name, 'Ada King')
    })

    test('when an update names other versions, or none at all, then it changes nothing and resolves undefined', async (t) => {
      const store = await makeStore(t)
      const created = await store.create(ALICE, 'e1', person('Ada'))

      assert.equal(await store.update(ALICE, 'e1', person('Mallory'), [2, 3]), undefined)
      assert.equal(await store.update(ALICE, 'e1', person('Mallory'), []), undefined)
      assert.deepEqual(await store.get(ALICE, 'e1'), created)
    })

    test('when two updates are conditional on the same version, then exactly one applies', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'e1', person('Ada'))

      const results = await Promise.all([store.update(ALICE, 'e1', person('First'), [1]), store.update(ALICE, 'e1', person('Second'), [1])])

      assert.equal(results.filter((result) => result !== undefined).length, 1)
      assert.equal((await store.get(ALICE, 'e1'))?.version, 2)
    })

    test('when a delete names another version, then nothing is deleted; with the right one, it is', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'e1', person('Ada'))

      assert.equal(await store.delete(ALICE, 'e1', [7]), false)
      assert.ok(await store.get(ALICE, 'e1'))
      assert.equal(await store.delete(ALICE, 'e1', [1]), true)
      assert.equal(await store.get(ALICE, 'e1'), undefined)
    })
  })

  describe('listing', () => {
    test('when a book is read page by page in creation order, then every entry comes once, in order', async (t) => {
      const store = await makeStore(t, aTickingClock())
      for (let index = 0; index < 25; index++) await store.create(ALICE, `e${String(index).padStart(2, '0')}`, person(`P${String(index)}`))

      const pages = await allPages(store, ALICE, DEFAULT_SORT, 10)

      assert.deepEqual(pages.map((page) => page.length), [10, 10, 5])
      assert.deepEqual(pages.flat().map((stored) => stored.id), Array.from({ length: 25 }, (_, index) => `e${String(index).padStart(2, '0')}`))
    })

    test('when the order is descending, then pages run backwards, ties by id backwards too', async (t) => {
      const store = await makeStore(t, () => new Date('2024-01-01T00:00:00.000Z'))
      for (const id of ['a', 'c', 'b', 'e', 'd']) await store.create(ALICE, id, person(id))

      const pages = await allPages(store, ALICE, { key: 'created', descending: true }, 2)

      assert.deepEqual(pages.flat().map((stored) => stored.id), ['e', 'd', 'c', 'b', 'a'])
    })

    test('when sorted by name, then case does not matter, code points order the rest, and ties go by id', async (t) => {
      const store = await makeStore(t, aTickingClock())
      const names: [string, string][] = [['e5', 'zoë'], ['e1', 'Bob'], ['e4', 'alice'], ['e2', 'Émile'], ['e3', 'bob'], ['e6', 'Zed']]
      for (const [id, name] of names) await store.create(ALICE, id, person(name))

      const pages = await allPages(store, ALICE, { key: 'full_name', descending: false }, 4)
      const backwards = await allPages(store, ALICE, { key: 'full_name', descending: true }, 4)

      assert.deepEqual(pages.flat().map((stored) => stored.entry.full_name), ['alice', 'Bob', 'bob', 'Zed', 'zoë', 'Émile'])
      assert.deepEqual(backwards.flat().map((stored) => stored.entry.full_name), ['Émile', 'zoë', 'Zed', 'bob', 'Bob', 'alice'])
    })

    test('when sorted by last change, then the entry changed last comes last', async (t) => {
      const store = await makeStore(t, aTickingClock())
      for (const id of ['e1', 'e2', 'e3']) await store.create(ALICE, id, person(id))
      await store.update(ALICE, 'e1', person('e1 again'))

      const pages = await allPages(store, ALICE, { key: 'updated', descending: false }, 2)

      assert.deepEqual(pages.flat().map((stored) => stored.id), ['e2', 'e3', 'e1'])
    })

    test('when entries are added and deleted between pages, then no entry that stayed is skipped or repeated', async (t) => {
      const store = await makeStore(t, aTickingClock())
      for (let index = 0; index < 10; index++) await store.create(ALICE, `e${String(index)}`, person(`P${String(index)}`))
      const first = await store.list(ALICE, { filter: { terms: [] }, sort: DEFAULT_SORT, limit: 4 })
      const last = first.at(-1)
      assert.ok(last)

      await store.delete(ALICE, 'e2')
      await store.delete(ALICE, 'e6')
      await store.create(ALICE, 'late', person('Late'))
      const rest = await store.list(ALICE, {
        filter: { terms: [] },
        sort: DEFAULT_SORT,
        limit: 100,
        after: { value: sortValueOf('created', last), id: last.id },
      })

      const seen = [...first, ...rest].map((stored) => stored.id)
      for (const id of ['e0', 'e1', 'e3', 'e4', 'e5', 'e7', 'e8', 'e9']) assert.equal(seen.filter((candidate) => candidate === id).length, 1, id)
      assert.ok(!rest.some((stored) => stored.id === 'e6'))
      assert.equal(rest.at(-1)?.id, 'late')
    })

    test('when another owner has entries, then listing and counting never see them', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a1', person('Alice'))
      await store.create(BOB, 'b1', person('Alice'))

      assert.deepEqual((await store.list(BOB, { filter: normalizeFilter({ full_name: 'alice' }), sort: DEFAULT_SORT, limit: 10 })).map((s) => s.id), ['b1'])
      assert.equal(await store.count(ALICE, normalizeFilter({ q: 'alice' })), 1)
    })
  })

  describe('filters and search', () => {
    async function aBook(t: TestContext): Promise<Store> {
      const store = await makeStore(t, aTickingClock())
      await store.create(ALICE, 'ada', person('Ada Lovelace', {
        emails: [{ kind: 'home', email: 'Ada@Example.org' }],
        phone_numbers: [{ kind: 'home', country_code: 44, area_code: 20, local_number: 79460000 }],
        addresses: [{ kind: 'home', street_name: 'St James Square', pincode: 'SW1', city: 'London', country: 'United Kingdom' }],
      }))
      await store.create(ALICE, 'grace', person('Grace Hopper', {
        emails: [{ kind: 'work', email: 'grace@navy.example' }, { kind: 'home', email: 'g_h%1@example.org' }],
        phone_numbers: [{ kind: 'work', country_code: 1, local_number: 5550100 }],
        addresses: [{ kind: 'work', street_name: 'Main St', pincode: 10001, city: 'New York', country: 'United States' }],
      }))
      await store.create(ALICE, 'alan', person('Alan Turing', {
        addresses: [{ kind: 'home', street_name: 'Hollymeade', pincode: 'SK9', city: 'Wilmslow', country: 'United Kingdom' }],
        labels: ['Bletchley Park', 'Family'],
      }))
      await store.create(BOB, 'bob-alan', person('Alan Turing', { labels: ['Family'] }))
      return store
    }

    const cases: [string, FilterRequest, string[]][] = [
      ['an exact name in another case', { full_name: 'ada LOVELACE' }, ['Ada Lovelace']],
      ['a name that only starts the same', { full_name: 'Ada' }, []],
      ['an email in another case', { email: 'ada@example.ORG' }, ['Ada Lovelace']],
      ['a second email', { email: 'g_h%1@example.org' }, ['Grace Hopper']],
      ['a phone number as written abroad', { phone: '+44 20 7946 0000' }, ['Ada Lovelace']],
      ['a phone number without its country code', { phone: '(20) 7946-0000' }, ['Ada Lovelace']],
      ['a city', { city: 'new york' }, ['Grace Hopper']],
      ['a country two entries share', { country: 'united kingdom' }, ['Ada Lovelace', 'Alan Turing']],
      ['a country and a city together', { country: 'United Kingdom', city: 'Wilmslow' }, ['Alan Turing']],
      ['a search for part of a name', { q: 'LOVE' }, ['Ada Lovelace']],
      ['a search for part of an email', { q: 'navy' }, ['Grace Hopper']],
      ['a search for digits of a phone', { q: '7946' }, ['Ada Lovelace']],
      ['a search for a phone as written', { q: '555 0100' }, ['Grace Hopper']],
      ['a search for part of a city', { q: 'wilms' }, ['Alan Turing']],
      ['a search shorter than three characters', { q: 'ur' }, ['Alan Turing']],
      ['a search with LIKE wildcards, which match only themselves', { q: '_h%' }, ['Grace Hopper']],
      ['a search for a wildcard alone', { q: '%' }, ['Grace Hopper']],
      ['a search and a filter together', { q: 'a', country: 'united kingdom' }, ['Ada Lovelace', 'Alan Turing']],
      ['a search that matches nothing', { q: 'zzz' }, []],
      ['a label in another case', { label: 'FAMILY' }, ['Alan Turing']],
      ['a label and a search together', { label: 'bletchley park', q: 'turing' }, ['Alan Turing']],
      ['a label that only starts the same', { label: 'Bletchley' }, []],
      ['a search for part of a label', { q: 'bletch' }, ['Alan Turing']],
    ]
    for (const [name, filter, expected] of cases) {
      test(`when filtered by ${name}, then exactly the matching entries, and count agrees`, async (t) => {
        const store = await aBook(t)

        assert.deepEqual(await namesOf(store, filter), expected)
        assert.equal(await store.count(ALICE, normalizeFilter(filter)), expected.length)
      })
    }

    test('when a name is written in compatibility forms (full width, a ligature), then plain text finds it, and it sorts as plain text', async (t) => {
      const store = await makeStore(t, aTickingClock())
      await store.create(ALICE, 'lena', person('Lena'))
      await store.create(ALICE, 'wide', person('Ｍａｒｉａ \uFB01sher', { emails: [{ kind: 'home', email: 'ＭＡＲＩＡ@example.org' }] }))
      await store.create(ALICE, 'zed', person('Zed'))

      assert.deepEqual(await namesOf(store, { q: 'maria fish' }), ['Ｍａｒｉａ ﬁsher'])
      assert.deepEqual(await namesOf(store, { q: 'ＦＩＳＨ' }), ['Ｍａｒｉａ ﬁsher'])
      assert.deepEqual(await namesOf(store, { full_name: 'MARIA FISHER' }), ['Ｍａｒｉａ ﬁsher'])
      assert.deepEqual(await namesOf(store, { email: 'maria@example.org' }), ['Ｍａｒｉａ ﬁsher'])
      assert.deepEqual(await namesOf(store, {}), ['Lena', 'Ｍａｒｉａ ﬁsher', 'Zed'])
    })

    test('when an entry changes, then filters and search follow its new content; when it is deleted, they forget it', async (t) => {
      const store = await aBook(t)

      await store.update(ALICE, 'ada', person('Augusta King', { emails: [{ kind: 'home', email: 'augusta@example.org' }] }))

      assert.deepEqual(await namesOf(store, { email: 'ada@example.org' }), [])
      assert.deepEqual(await namesOf(store, { q: 'lovelace' }), [])
      assert.deepEqual(await namesOf(store, { q: 'augusta' }), ['Augusta King'])
      assert.deepEqual(await namesOf(store, { full_name: 'augusta king' }), ['Augusta King'])
      await store.delete(ALICE, 'ada')
      assert.deepEqual(await namesOf(store, { q: 'augusta' }), [])
      assert.equal(await store.count(ALICE, normalizeFilter({})), 2)
    })

    test('when a filtered listing is paged, then the pages hold exactly the matches', async (t) => {
      const store = await makeStore(t, aTickingClock())
      for (let index = 0; index < 12; index++) {
        await store.create(ALICE, `e${String(index).padStart(2, '0')}`, person(index % 3 === 0 ? `Smith ${String(index)}` : `Jones ${String(index)}`))
      }

      const pages = await allPages(store, ALICE, DEFAULT_SORT, 2, { q: 'smith' })

      assert.deepEqual(pages.flat().map((stored) => stored.entry.full_name), ['Smith 0', 'Smith 3', 'Smith 6', 'Smith 9'])
    })
  })
}
