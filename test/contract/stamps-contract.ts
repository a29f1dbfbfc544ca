import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { DEFAULT_SORT } from '../../src/domain/listing.js'
import type { Clock, EntryStamp, Store, StoredEntry } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

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

/** What a stamp should say of a stored entry. */
function stampOf(stored: StoredEntry): EntryStamp {
  const { id, version, createdAt, updatedAt, card } = stored
  return { id, version, createdAt, updatedAt, ...(card?.name === undefined ? {} : { name: card.name }) }
}

/** Every page of the owner's stamps, `limit` at a time, each after the last stamp of the one before. */
async function allStampPages(store: Store, owner: string, limit: number): Promise<EntryStamp[][]> {
  const pages: EntryStamp[][] = []
  let after: { createdAt: string; id: string } | undefined
  for (;;) {
    const page = await store.listStamps(owner, limit, after)
    const last = page.at(-1)
    if (!last) return pages
    pages.push(page)
    after = { createdAt: last.createdAt, id: last.id }
  }
}

/** Every page of the owner's entries by creation, `limit` at a time, as a listing's cursor follows them. */
async function allCreatedPages(store: Store, owner: string, limit: number): Promise<StoredEntry[][]> {
  const pages: StoredEntry[][] = []
  let after: { value: string; id: string } | undefined
  for (;;) {
    const page = await store.list(owner, { filter: { terms: [] }, sort: DEFAULT_SORT, limit, after })
    const last = page.at(-1)
    if (!last) return pages
    pages.push(page)
    after = { value: last.createdAt, id: last.id }
  }
}

/**
 * A listing of the versions of a book's entries, as CardDAV's ETags need it: the same order and
 * pages as a listing by creation, without the entries.
 */
export function describeStampsContract(makeStore: MakeStore): void {
  describe('stamps', () => {
    test('when a book of 25 entries with tied creation times is read 7 at a time, then the stamps come in the pages of a listing by creation, with its ids and versions', async (t) => {
      const time = aManualClock()
      const store = await makeStore(t, time.clock)
      // Ids out of creation order, in several cases and scripts: ties go by code point, where 'Z' < 'a' < 'é' < '～' < '😀'.
      await store.createMany(ALICE, ['m', 'Z', '😀', 'a', '～', 'é', 'b0', 'B1'].map((id) => ({ id, entry: anEntry({ full_name: id }) })))
      time.advance(1)
      for (const id of ['q', 'c', 'Q', 'p', 'd']) await store.create(ALICE, id, anEntry({ full_name: id }), { card: { name: `${id}.vcf` } })
      for (let index = 12; index > 0; index--) {
        time.advance(1)
        await store.create(ALICE, `n${String(index).padStart(2, '0')}`, anEntry())
      }
      time.advance(1)
      for (const id of ['a', 'c', 'c', 'n05']) await store.update(ALICE, id, anEntry({ full_name: 'Edited' }))

      const stamps = await allStampPages(store, ALICE, 7)

      const listed = await allCreatedPages(store, ALICE, 7)
      assert.deepEqual(stamps.map((page) => page.length), [7, 7, 7, 4])
      assert.deepEqual(
        stamps.map((page) => page.map(({ id, version }) => [id, version])),
        listed.map((page) => page.map(({ id, version }) => [id, version])),
      )
      assert.deepEqual(stamps, listed.map((page) => page.map(stampOf)))
      assert.deepEqual(stamps[0]?.slice(0, 3).map(({ id }) => id), ['B1', 'Z', 'a'])
    })

    test('when entries have card data with a name, without one, or none, then only the stamps of those with a name carry it', async (t) => {
      const store = await makeStore(t, aManualClock().clock)
      await store.create(ALICE, 'named', anEntry(), { card: { name: 'named.vcf', uid: 'urn:uuid:1', kept: 'PHOTO:x\r\n' } })
      await store.create(ALICE, 'nameless', anEntry(), { card: { uid: 'urn:uuid:2', kept: 'NOTE:y\r\n' } })
      await store.create(ALICE, 'plain', anEntry())

      const stamps = await store.listStamps(ALICE, 10)

      assert.deepEqual(stamps.map(({ id, name }) => [id, name]), [
        ['named', 'named.vcf'],
        ['nameless', undefined],
        ['plain', undefined],
      ])
      assert.deepEqual(stamps.map((stamp) => Object.keys(stamp).sort()), [
        ['createdAt', 'id', 'name', 'updatedAt', 'version'],
        ['createdAt', 'id', 'updatedAt', 'version'],
        ['createdAt', 'id', 'updatedAt', 'version'],
      ])
    })

    test('when an entry is updated, then its stamp shows the new version, updatedAt and card name, at its place by creation', async (t) => {
      const time = aManualClock()
      const store = await makeStore(t, time.clock)
      const created = await store.create(ALICE, 'a', anEntry(), { card: { name: 'first.vcf' } })
      await store.create(ALICE, 'b', anEntry())
      time.advance(60_000)

      await store.update(ALICE, 'a', anEntry({ full_name: 'Renamed' }), [1], { card: { name: 'second.vcf' } })
      await store.update(ALICE, 'b', anEntry({ full_name: 'Card gone' }), [1], { card: null })

      assert.deepEqual(await store.listStamps(ALICE, 10), [
        { id: 'a', version: 2, createdAt: created.createdAt, updatedAt: time.now(), name: 'second.vcf' },
        { id: 'b', version: 2, createdAt: created.createdAt, updatedAt: time.now() },
      ])
    })

    test("when another owner has entries, some with the same ids, then an owner's stamps are only their own", async (t) => {
      const store = await makeStore(t, aManualClock().clock)
      await store.create(ALICE, 'shared', anEntry())
      await store.create(BOB, 'shared', anEntry(), { card: { name: 'bobs.vcf' } })
      await store.update(BOB, 'shared', anEntry({ full_name: 'Bob’s' }))
      await store.create(BOB, 'bob-only', anEntry())
      await store.create(ALICE, 'alice-only', anEntry())

      const alices = await store.listStamps(ALICE, 10)
      const bobs = await store.listStamps(BOB, 10)

      assert.deepEqual(alices.map(({ id, version, name }) => [id, version, name]), [
        ['alice-only', 1, undefined],
        ['shared', 1, undefined],
      ])
      assert.deepEqual(bobs.map(({ id, version, name }) => [id, version, name]), [
        ['bob-only', 1, undefined],
        ['shared', 2, 'bobs.vcf'],
      ])
      assert.deepEqual(await store.listStamps('carol', 10), [])
    })

    test('when an entry is deleted, then its stamp is gone', async (t) => {
      const store = await makeStore(t, aManualClock().clock)
      await store.create(ALICE, 'kept', anEntry())
      await store.create(ALICE, 'gone', anEntry(), { card: { name: 'gone.vcf' } })

      await store.delete(ALICE, 'gone')

      assert.deepEqual((await store.listStamps(ALICE, 10)).map(({ id }) => id), ['kept'])
    })

    test('when the limit is 0, the book is empty, or the position is the last stamp, then it resolves []', async (t) => {
      const store = await makeStore(t)
      assert.deepEqual(await store.listStamps(ALICE, 10), [])
      await store.create(ALICE, 'a', anEntry())
      const [last] = await store.listStamps(ALICE, 10)
      assert.ok(last)

      assert.deepEqual(await store.listStamps(ALICE, 0), [])
      assert.deepEqual(await store.listStamps(ALICE, 10, { createdAt: last.createdAt, id: last.id }), [])
    })
  })
}
