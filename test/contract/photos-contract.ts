import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { DEFAULT_SORT } from '../../src/domain/listing.js'
import type { PhotoData, Store } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

function aPhoto(etag = 'p1', fill = 1): PhotoData {
  return { etag, contentType: 'image/jpeg', image: new Uint8Array(3000).fill(fill), thumbnail: new Uint8Array([fill, 2, 3]) }
}

/** Photos: kept beside entries, a change of the entry, never read by a listing. */
export function describePhotosContract(makeStore: MakeStore): void {
  describe('photos', () => {
    test('when an entry is given a photo, then it is a new version and a change, its content and card kept, and the photo reads back', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'Ada' }), { card: { name: 'a.vcf', uid: 'u', kept: '1\nX-A:b' } })
      const before = await store.changePosition(ALICE)

      const stored = await store.setPhoto(ALICE, 'a', aPhoto(), [1])

      assert.ok(stored)
      assert.equal(stored.version, 2)
      assert.deepEqual(stored.photo, { etag: 'p1' })
      assert.deepEqual(stored.entry, anEntry({ full_name: 'Ada' }))
      assert.deepEqual(stored.card, { name: 'a.vcf', uid: 'u', kept: '1\nX-A:b' })
      assert.deepEqual(await store.get(ALICE, 'a'), stored)
      const [listed] = await store.list(ALICE, { filter: { terms: [] }, sort: DEFAULT_SORT, limit: 10 })
      assert.deepEqual(listed?.photo, { etag: 'p1' })
      const { changes } = await store.changesSince(ALICE, before.latest, 10)
      assert.deepEqual(changes.map(({ id, kind, stored: now }) => [id, kind, now?.photo]), [['a', 'updated', { etag: 'p1' }]])
      assert.deepEqual(await store.getPhoto(ALICE, 'a', 'image'), { etag: 'p1', contentType: 'image/jpeg', data: aPhoto().image })
      assert.deepEqual(await store.getPhoto(ALICE, 'a', 'thumbnail'), { etag: 'p1', contentType: 'image/jpeg', data: aPhoto().thumbnail })
    })

    test('when the photo is replaced, then the new one reads back; when it is removed, then none does, each a new version', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())
      await store.setPhoto(ALICE, 'a', aPhoto('p1', 1))

      const replaced = await store.setPhoto(ALICE, 'a', aPhoto('p2', 7))
      const image = await store.getPhoto(ALICE, 'a', 'image')
      const removed = await store.setPhoto(ALICE, 'a', null, [3])

      assert.deepEqual([replaced?.version, replaced?.photo], [3, { etag: 'p2' }])
      assert.deepEqual(image?.data, aPhoto('p2', 7).image)
      assert.ok(removed)
      assert.equal(removed.version, 4)
      assert.equal('photo' in removed, false)
      assert.equal(await store.getPhoto(ALICE, 'a', 'image'), undefined)
      assert.equal(await store.getPhoto(ALICE, 'a', 'thumbnail'), undefined)
    })

    test("when the entry is missing, at another version, or another owner's, then nothing changes", async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())
      const before = await store.changePosition(ALICE)

      assert.equal(await store.setPhoto(ALICE, 'a', aPhoto(), [2]), undefined)
      assert.equal(await store.setPhoto(ALICE, 'missing', aPhoto()), undefined)
      assert.equal(await store.setPhoto(BOB, 'a', aPhoto()), undefined)

      assert.deepEqual(await store.changePosition(ALICE), before)
      assert.equal((await store.get(ALICE, 'a'))?.version, 1)
      assert.equal(await store.getPhoto(ALICE, 'a', 'image'), undefined)
      assert.equal(await store.getPhoto(BOB, 'a', 'image'), undefined)
    })

    test('when entries are created together with photos, then each has its own; when the creation fails, then no photo is kept', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'taken', anEntry())

      await store.createMany(ALICE, [
        { id: 'a', entry: anEntry(), photo: aPhoto('pa', 3) },
        { id: 'b', entry: anEntry() },
      ])
      await assert.rejects(store.createMany(ALICE, [{ id: 'c', entry: anEntry(), photo: aPhoto('pc') }, { id: 'taken', entry: anEntry() }]))

      assert.deepEqual((await store.get(ALICE, 'a'))?.photo, { etag: 'pa' })
      assert.deepEqual((await store.getPhoto(ALICE, 'a', 'image'))?.data, aPhoto('pa', 3).image)
      assert.equal('photo' in ((await store.get(ALICE, 'b')) ?? {}), false)
      assert.equal(await store.get(ALICE, 'c'), undefined)
      assert.equal(await store.getPhoto(ALICE, 'c', 'image'), undefined)
    })

    test('when an entry is created or updated with a photo, then it is one write; an update that names none keeps it, and null removes it', async (t) => {
      const store = await makeStore(t)

      const created = await store.create(ALICE, 'a', anEntry(), { photo: aPhoto('p1', 1) })
      const kept = await store.update(ALICE, 'a', anEntry({ full_name: 'Kept' }), [1])
      const replaced = await store.update(ALICE, 'a', anEntry({ full_name: 'Replaced' }), [2], { photo: aPhoto('p2', 2) })
      const image = await store.getPhoto(ALICE, 'a', 'image')
      const stale = await store.update(ALICE, 'a', anEntry(), [1], { photo: null })
      const removed = await store.update(ALICE, 'a', anEntry({ full_name: 'Removed' }), [3], { photo: null })

      assert.deepEqual([created.photo, kept?.photo, replaced?.photo], [{ etag: 'p1' }, { etag: 'p1' }, { etag: 'p2' }])
      assert.deepEqual(image?.data, aPhoto('p2', 2).image)
      assert.equal(stale, undefined)
      assert.ok(removed)
      assert.equal(removed.version, 4)
      assert.equal('photo' in removed, false)
      assert.equal(await store.getPhoto(ALICE, 'a', 'thumbnail'), undefined)
      assert.deepEqual(await store.get(ALICE, 'a'), removed)
    })

    test("when another owner asks for an entry's photo by its id, then there is none", async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())
      await store.setPhoto(ALICE, 'a', aPhoto())

      assert.equal(await store.getPhoto(BOB, 'a', 'image'), undefined)
    })

    test('when the entry is edited, then its photo stays; when it is deleted, then its photo goes, also from an entry made again under its id', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())
      await store.create(ALICE, 'b', anEntry())
      await store.setPhoto(ALICE, 'a', aPhoto())
      await store.setPhoto(ALICE, 'b', aPhoto('pb'))

      const updated = await store.update(ALICE, 'a', anEntry({ full_name: 'Renamed' }))
      const many = await store.updateMany(ALICE, [{ id: 'b', entry: anEntry({ labels: ['Kin'] }), ifVersion: [2] }])
      await store.delete(ALICE, 'a')
      await store.create(ALICE, 'a', anEntry())

      assert.deepEqual(updated?.photo, { etag: 'p1' })
      assert.deepEqual(many?.[0]?.photo, { etag: 'pb' })
      assert.equal(await store.getPhoto(ALICE, 'a', 'image'), undefined)
      assert.equal('photo' in ((await store.get(ALICE, 'a')) ?? {}), false)
      assert.deepEqual((await store.getPhoto(ALICE, 'b', 'thumbnail'))?.etag, 'pb')
    })
  })
}
