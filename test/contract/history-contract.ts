import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { EntryExistsError } from '../../src/domain/errors.js'
import { CURRENT_VERSION_SEQ, type Clock, type PhotoData, type Store, type StoredVersion } from '../../src/storage/store.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

/** A clock that stands still until the test sets it. */
function aSettableClock(start = '2024-05-06T07:00:00.000Z') {
  let now = new Date(start)
  return {
    clock: (() => new Date(now)) satisfies Clock,
    set(iso: string) {
      now = new Date(iso)
    },
  }
}

function aPhoto(etag: string, fill: number): PhotoData {
  return { etag, contentType: 'image/jpeg', image: new Uint8Array(2000).fill(fill), thumbnail: new Uint8Array([fill, 9]) }
}

/** A version as the tests compare it: version, name, source, whether deleted, and when it was made and replaced. */
function brief({ version, entry, source, deleted, updatedAt, replacedAt }: StoredVersion): [number, string, string, boolean, string, string?] {
  return replacedAt === undefined ? [version, entry.full_name, source, deleted, updatedAt] : [version, entry.full_name, source, deleted, updatedAt, replacedAt]
}

/** The owner's whole book as comparable values: id, version, content, card data and photo, in id order. */
async function bookOf(store: Store, owner: string) {
  const entries = await store.list(owner, { filter: { terms: [] }, sort: { key: 'created', descending: false }, limit: 1000 })
  return entries
    .map(({ id, entry, card, photo }) => ({ id, entry, card, photo }))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
}

/** History, trash and restores: every write keeps what it replaced, in the same transaction. */
export function describeHistoryContract(makeStore: MakeStore): void {
  describe('history', () => {
    test('when an entry is changed, then its history lists every version newest first, with when and through what each was made and replaced', async (t) => {
      const time = aSettableClock()
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', anEntry({ full_name: 'One' }), { source: 'import' })
      time.set('2024-05-06T08:00:00.000Z')
      await store.update(ALICE, 'a', anEntry({ full_name: 'Two' }), [1], { source: 'carddav' })
      time.set('2024-05-06T09:00:00.000Z')
      await store.update(ALICE, 'a', anEntry({ full_name: 'Three' }))

      const history = await store.history(ALICE, 'a', 10)

      assert.deepEqual(history.map(brief), [
        [3, 'Three', 'api', false, '2024-05-06T09:00:00.000Z'],
        [2, 'Two', 'carddav', false, '2024-05-06T08:00:00.000Z', '2024-05-06T09:00:00.000Z'],
        [1, 'One', 'import', false, '2024-05-06T07:00:00.000Z', '2024-05-06T08:00:00.000Z'],
      ])
      assert.equal(history[0]?.seq, CURRENT_VERSION_SEQ)
      assert.ok((history[1]?.seq ?? 0) > (history[2]?.seq ?? 0))
      assert.ok(history.every(({ id, createdAt }) => id === 'a' && createdAt === '2024-05-06T07:00:00.000Z'))
      assert.deepEqual(await store.history(ALICE, 'missing', 10), [])
      assert.deepEqual(await store.history(BOB, 'a', 10), [])
    })

    test('when the history is read a page at a time, then each page continues below the last one', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'v1' }))
      for (let version = 2; version <= 7; version++) await store.update(ALICE, 'a', anEntry({ full_name: `v${String(version)}` }))

      const first = await store.history(ALICE, 'a', 3)
      const second = await store.history(ALICE, 'a', 3, first.at(-1)?.seq)
      const third = await store.history(ALICE, 'a', 3, second.at(-1)?.seq)

      assert.deepEqual([first, second, third].map((page) => page.map(({ version }) => version)), [[7, 6, 5], [4, 3, 2], [1]])
    })

    test('when the photo, labels and card data change, then each version keeps its own, and a photo replaced stays readable through a restore', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ labels: ['Family'] }), { card: { name: 'a.vcf', uid: 'u1', kept: '1\nX-A:1' }, photo: aPhoto('p1', 1) })
      await store.update(ALICE, 'a', anEntry({ labels: ['Work'] }), undefined, { card: { name: 'a.vcf', uid: 'u1', kept: '1\nX-A:2' } })
      await store.setPhoto(ALICE, 'a', aPhoto('p2', 2))
      await store.setPhoto(ALICE, 'a', null)

      const history = await store.history(ALICE, 'a', 10)
      const first = history.at(-1)
      const restored = await store.restoreVersion(ALICE, 'a', first?.seq ?? 0, [4])

      assert.deepEqual(
        history.map(({ version, entry, card, photo }) => [version, entry.labels, card?.kept, photo?.etag]),
        [
          [4, ['Work'], '1\nX-A:2', undefined],
          [3, ['Work'], '1\nX-A:2', 'p2'],
          [2, ['Work'], '1\nX-A:2', 'p1'],
          [1, ['Family'], '1\nX-A:1', 'p1'],
        ],
      )
      assert.ok(restored)
      assert.equal(restored.version, 5)
      assert.deepEqual([restored.entry, restored.card, restored.photo], [anEntry({ labels: ['Family'] }), { name: 'a.vcf', uid: 'u1', kept: '1\nX-A:1' }, { etag: 'p1' }])
      assert.deepEqual(await store.getPhoto(ALICE, 'a', 'image'), { etag: 'p1', contentType: 'image/jpeg', data: aPhoto('p1', 1).image })
      assert.deepEqual((await store.history(ALICE, 'a', 1)).map(({ version, source }) => [version, source]), [[5, 'restore']])
      assert.deepEqual(await store.get(ALICE, 'a'), restored)
    })

    test('when a version is restored, then it is a new version and an update in the change feed; a wrong version, seq or owner changes nothing', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'Old' }))
      await store.update(ALICE, 'a', anEntry({ full_name: 'New' }))
      const [, old] = await store.history(ALICE, 'a', 10)
      const { latest } = await store.changePosition(ALICE)

      const stale = await store.restoreVersion(ALICE, 'a', old?.seq ?? 0, [1])
      const otherOwner = await store.restoreVersion(BOB, 'a', old?.seq ?? 0)
      const noSuchSeq = await store.restoreVersion(ALICE, 'a', (old?.seq ?? 0) + 1000)
      const unchanged = await store.get(ALICE, 'a')
      const restored = await store.restoreVersion(ALICE, 'a', old?.seq ?? 0, [2])
      const { changes } = await store.changesSince(ALICE, latest, 10)

      assert.deepEqual([stale, otherOwner, noSuchSeq], [undefined, undefined, undefined])
      assert.deepEqual([unchanged?.version, unchanged?.entry.full_name], [2, 'New'])
      assert.deepEqual([restored?.version, restored?.entry.full_name], [3, 'Old'])
      assert.deepEqual(changes.map(({ id, kind }) => [id, kind]), [['a', 'updated']])
    })

    test("when a version's card name is another entry's now, then restoring it is refused naming that entry, and nothing changes", async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'A' }), { card: { name: 'x.vcf' } })
      await store.update(ALICE, 'a', anEntry({ full_name: 'A2' }), undefined, { card: { name: 'a.vcf' } })
      await store.create(ALICE, 'b', anEntry({ full_name: 'B' }), { card: { name: 'x.vcf' } })
      const [, first] = await store.history(ALICE, 'a', 10)

      await assert.rejects(store.restoreVersion(ALICE, 'a', first?.seq ?? 0), (error: unknown) => error instanceof EntryExistsError && error.id === 'b')
      assert.deepEqual((await store.get(ALICE, 'a'))?.card, { name: 'a.vcf' })
    })
  })

  describe('trash', () => {
    test('when an entry is deleted, then the trash lists it with when, and restoring it brings it back under its id, at the next version, as a creation', async (t) => {
      const time = aSettableClock()
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', aFullEntry({ labels: ['Family'] }), { card: { name: 'a.vcf', kept: '1\nX-A:1' }, photo: aPhoto('p1', 1) })
      await store.update(ALICE, 'a', aFullEntry({ labels: ['Work'] }))
      time.set('2024-05-07T10:00:00.000Z')
      assert.equal(await store.delete(ALICE, 'a', undefined, { source: 'carddav' }), true)
      const { latest } = await store.changePosition(ALICE)

      const trash = await store.listTrash(ALICE, { limit: 10 })
      time.set('2024-05-08T10:00:00.000Z')
      const restored = await store.restoreFromTrash(ALICE, 'a')
      const { changes } = await store.changesSince(ALICE, latest, 10)

      assert.deepEqual(
        trash.map(({ id, version, deletedAt, entry, card, photo }) => ({ id, version, deletedAt, entry, card, photo })),
        [{ id: 'a', version: 2, deletedAt: '2024-05-07T10:00:00.000Z', entry: aFullEntry({ labels: ['Work'] }), card: { name: 'a.vcf', kept: '1\nX-A:1' }, photo: { etag: 'p1' } }],
      )
      assert.ok(restored)
      assert.deepEqual([restored.id, restored.version, restored.entry, restored.card, restored.photo], ['a', 3, aFullEntry({ labels: ['Work'] }), { name: 'a.vcf', kept: '1\nX-A:1' }, { etag: 'p1' }])
      assert.equal(restored.updatedAt, '2024-05-08T10:00:00.000Z')
      assert.deepEqual(await store.get(ALICE, 'a'), restored)
      assert.deepEqual((await store.findByName(ALICE, 'a.vcf'))?.id, 'a')
      assert.deepEqual((await store.getPhoto(ALICE, 'a', 'thumbnail'))?.data, aPhoto('p1', 1).thumbnail)
      assert.deepEqual(changes.map(({ id, kind }) => [id, kind]), [['a', 'created']])
      assert.deepEqual(await store.listTrash(ALICE, { limit: 10 }), [])
      assert.deepEqual((await store.history(ALICE, 'a', 10)).map(({ version, source, deleted }) => [version, source, deleted]), [
        [3, 'restore', false],
        [2, 'api', true],
        [1, 'api', false],
      ])
    })

    test('when the trash is read, then it is the latest deletion first, paged, searchable by folded text, and the owner’s own', async (t) => {
      const time = aSettableClock()
      const store = await makeStore(t, time.clock)
      for (const [index, name] of ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Ada Yonath'].entries()) {
        await store.create(ALICE, `e${String(index)}`, anEntry({ full_name: name }))
      }
      await store.create(BOB, 'e9', anEntry({ full_name: 'Ada Bob' }))
      for (const [index, id] of ['e0', 'e1', 'e2', 'e3'].entries()) {
        time.set(`2024-05-${String(7 + index).padStart(2, '0')}T00:00:00.000Z`)
        await store.delete(ALICE, id)
      }
      await store.delete(BOB, 'e9')

      const first = await store.listTrash(ALICE, { limit: 3 })
      const last = first.at(-1)
      const second = await store.listTrash(ALICE, { limit: 3, after: last ? { deletedAt: last.deletedAt, id: last.id } : undefined })
      const found = await store.listTrash(ALICE, { q: 'ada', limit: 10 })

      assert.deepEqual(first.map(({ id }) => id), ['e3', 'e2', 'e1'])
      assert.deepEqual(second.map(({ id }) => id), ['e0'])
      assert.deepEqual(found.map(({ entry }) => entry.full_name), ['Ada Yonath', 'Ada Lovelace'])
      assert.deepEqual((await store.listTrash(BOB, { limit: 10 })).map(({ id }) => id), ['e9'])
      assert.equal(await store.restoreFromTrash(BOB, 'e0'), undefined)
    })

    test('when the id or the card name of a trashed entry is taken meanwhile, then restoring it is refused and it stays in the trash', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'A' }))
      await store.create(ALICE, 'b', anEntry({ full_name: 'B' }), { card: { name: 'b.vcf' } })
      await store.delete(ALICE, 'a')
      await store.delete(ALICE, 'b')
      await store.create(ALICE, 'a', anEntry({ full_name: 'A again' }))
      await store.create(ALICE, 'c', anEntry({ full_name: 'C' }), { card: { name: 'b.vcf' } })

      await assert.rejects(store.restoreFromTrash(ALICE, 'a'), (error: unknown) => error instanceof EntryExistsError && error.id === 'a')
      await assert.rejects(store.restoreFromTrash(ALICE, 'b'), (error: unknown) => error instanceof EntryExistsError && error.id === 'c')

      assert.deepEqual((await store.listTrash(ALICE, { limit: 10 })).map(({ id }) => id).sort(), ['b'])
      assert.equal((await store.get(ALICE, 'a'))?.entry.full_name, 'A again')
      assert.equal(await store.get(ALICE, 'b'), undefined)
    })

    test('when the trash is emptied, of one entry or all, then they are gone for good with their history, and another owner’s stay', async (t) => {
      const store = await makeStore(t)
      for (const id of ['a', 'b', 'c']) {
        await store.create(ALICE, id, anEntry({ full_name: id }), { photo: aPhoto(`p-${id}`, 3) })
        await store.update(ALICE, id, anEntry({ full_name: `${id}2` }))
        await store.delete(ALICE, id)
      }
      await store.create(BOB, 'a', anEntry())
      await store.delete(BOB, 'a')

      const one = await store.emptyTrash(ALICE, 'a')
      const missing = await store.emptyTrash(ALICE, 'a')
      const afterOne = (await store.listTrash(ALICE, { limit: 10 })).map(({ id }) => id).sort()
      const rest = await store.emptyTrash(ALICE)

      assert.deepEqual([one, missing, rest], [1, 0, 2])
      assert.deepEqual(afterOne, ['b', 'c'])
      assert.deepEqual(await store.listTrash(ALICE, { limit: 10 }), [])
      assert.deepEqual(await store.history(ALICE, 'b', 10), [])
      assert.equal(await store.restoreFromTrash(ALICE, 'b'), undefined)
      assert.deepEqual((await store.listTrash(BOB, { limit: 10 })).map(({ id }) => id), ['a'])
    })

    test('when a live entry is named, then emptying the trash of it does nothing', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())
      await store.update(ALICE, 'a', anEntry({ full_name: 'Two' }))

      assert.equal(await store.emptyTrash(ALICE, 'a'), 0)
      assert.equal((await store.history(ALICE, 'a', 10)).length, 2)
    })
  })

  describe('restoring a book', () => {
    test('when a book is put back as it was, then changed entries get their content back, new ones go to the trash, deleted ones come back, and a preview tells the same without doing it', async (t) => {
      const time = aSettableClock('2024-05-06T07:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'kept', anEntry({ full_name: 'Kept' }))
      await store.create(ALICE, 'changed', anEntry({ full_name: 'Changed', labels: ['Family'] }), { card: { name: 'changed.vcf', kept: '1\nX-A:1' }, photo: aPhoto('p1', 1) })
      await store.create(ALICE, 'deleted', anEntry({ full_name: 'Deleted' }), { photo: aPhoto('p2', 2) })
      await store.create(ALICE, 'back', anEntry({ full_name: 'Back' }))
      await store.create(BOB, 'changed', anEntry({ full_name: "Bob's" }))
      time.set('2024-05-06T08:00:00.000Z')
      const before = await bookOf(store, ALICE)
      const at = '2024-05-06T08:30:00.000Z'
      time.set('2024-05-06T09:00:00.000Z')
      await store.update(ALICE, 'changed', anEntry({ full_name: 'Changed badly' }), undefined, { card: { name: 'changed.vcf', kept: '1\nX-A:2' } })
      await store.setPhoto(ALICE, 'changed', aPhoto('p3', 3))
      await store.delete(ALICE, 'deleted')
      await store.create(ALICE, 'new', anEntry({ full_name: 'New' }))
      await store.create(ALICE, 'brief', anEntry({ full_name: 'Brief' }))
      await store.delete(ALICE, 'brief')
      await store.update(ALICE, 'back', anEntry({ full_name: 'Back and forth' }))
      await store.update(ALICE, 'back', anEntry({ full_name: 'Back' }))
      await store.update(BOB, 'changed', anEntry({ full_name: "Bob's, later" }))
      const damaged = await bookOf(store, ALICE)
      const { latest } = await store.changePosition(ALICE)
      time.set('2024-05-06T10:00:00.000Z')

      const preview = await store.restoreBook([ALICE], at, { preview: true })
      const afterPreview = await bookOf(store, ALICE)
      const done = await store.restoreBook([ALICE], at)
      const { changes } = await store.changesSince(ALICE, latest, 100)

      const expected = { restored: ['changed'], trashed: ['new'], recreated: ['deleted'] }
      assert.deepEqual(preview, [expected])
      assert.deepEqual(afterPreview, damaged)
      assert.deepEqual(done, [expected])
      assert.deepEqual(await bookOf(store, ALICE), before)
      assert.deepEqual((await store.getPhoto(ALICE, 'deleted', 'image'))?.data, aPhoto('p2', 2).image)
      assert.deepEqual((await store.getPhoto(ALICE, 'changed', 'image'))?.data, aPhoto('p1', 1).image)
      assert.deepEqual(changes.map(({ id, kind }) => [id, kind]).sort(), [['changed', 'updated'], ['deleted', 'created'], ['new', 'deleted']])
      assert.deepEqual((await store.listTrash(ALICE, { limit: 10 })).map(({ id }) => id).sort(), ['brief', 'new'])
      assert.deepEqual(((await store.history(ALICE, 'changed', 1))[0])?.source, 'restore')
      assert.equal((await store.get(BOB, 'changed'))?.entry.full_name, "Bob's, later")
    })

    test('when a restore is itself undone, then the book is as it was before the restore', async (t) => {
      const time = aSettableClock('2024-05-06T07:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', anEntry({ full_name: 'A1' }))
      time.set('2024-05-06T08:00:00.000Z')
      await store.update(ALICE, 'a', anEntry({ full_name: 'A2' }))
      await store.create(ALICE, 'b', anEntry({ full_name: 'B' }))
      const edited = await bookOf(store, ALICE)
      time.set('2024-05-06T09:00:00.000Z')
      await store.restoreBook([ALICE], '2024-05-06T07:30:00.000Z')
      const restored = await bookOf(store, ALICE)
      time.set('2024-05-06T10:00:00.000Z')

      const undone = await store.restoreBook([ALICE], '2024-05-06T08:30:00.000Z')

      assert.deepEqual(restored.map(({ entry }) => entry.full_name), ['A1'])
      assert.deepEqual(undone, [{ restored: ['a'], trashed: [], recreated: ['b'] }])
      assert.deepEqual(await bookOf(store, ALICE), edited)
    })

    test('when entries traded card names since, and one took the name of an entry deleted since, then the restore gives each its own name back', async (t) => {
      const time = aSettableClock('2024-05-06T07:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', anEntry({ full_name: 'A' }), { card: { name: 'a.vcf' } })
      await store.create(ALICE, 'b', anEntry({ full_name: 'B' }), { card: { name: 'b.vcf' } })
      await store.create(ALICE, 'c', anEntry({ full_name: 'C' }), { card: { name: 'c.vcf' } })
      const before = await bookOf(store, ALICE)
      time.set('2024-05-06T09:00:00.000Z')
      await store.delete(ALICE, 'a')
      await store.update(ALICE, 'b', anEntry({ full_name: 'B' }), undefined, { card: { name: 'a.vcf' } })
      await store.update(ALICE, 'c', anEntry({ full_name: 'C' }), undefined, { card: { name: 'b.vcf' } })
      time.set('2024-05-06T10:00:00.000Z')

      const done = await store.restoreBook([ALICE], '2024-05-06T08:00:00.000Z')

      assert.deepEqual(done, [{ restored: ['b', 'c'], trashed: [], recreated: ['a'] }])
      assert.deepEqual(await bookOf(store, ALICE), before)
      assert.deepEqual(await Promise.all(['a.vcf', 'b.vcf', 'c.vcf'].map(async (name) => (await store.findByName(ALICE, name))?.id)), ['a', 'b', 'c'])
    })

    test('when several books are put back at once, then each is restored in the one transaction, each its own result, and a book not named is untouched', async (t) => {
      const time = aSettableClock('2024-05-06T07:00:00.000Z')
      const store = await makeStore(t, time.clock)
      const CARDS = 'alice\u001fcards'
      for (const owner of [ALICE, CARDS, BOB]) await store.create(owner, 'x', anEntry({ full_name: `${owner} then` }))
      time.set('2024-05-06T09:00:00.000Z')
      for (const owner of [ALICE, CARDS, BOB]) await store.delete(owner, 'x')
      await store.create(CARDS, 'group', anEntry({ full_name: 'New group' }))
      const positions = await Promise.all([ALICE, CARDS].map((owner) => store.changePosition(owner)))
      time.set('2024-05-06T10:00:00.000Z')

      const preview = await store.restoreBook([ALICE, CARDS], '2024-05-06T08:00:00.000Z', { preview: true })
      const unchanged = await Promise.all([ALICE, CARDS].map((owner) => store.changePosition(owner)))
      const done = await store.restoreBook([ALICE, CARDS], '2024-05-06T08:00:00.000Z')

      const expected = [
        { restored: [], trashed: [], recreated: ['x'] },
        { restored: [], trashed: ['group'], recreated: ['x'] },
      ]
      assert.deepEqual(preview, expected)
      assert.deepEqual(unchanged, positions)
      assert.deepEqual(done, expected)
      assert.equal((await store.get(ALICE, 'x'))?.entry.full_name, 'alice then')
      assert.equal((await store.get(CARDS, 'x'))?.entry.full_name, `${CARDS} then`)
      assert.equal(await store.get(CARDS, 'group'), undefined)
      assert.equal(await store.get(BOB, 'x'), undefined)
      assert.deepEqual(await store.restoreBook([], '2024-05-06T08:00:00.000Z'), [])
    })

    test('when nothing changed since the time, then a restore does nothing; a time before an entry existed trashes it', async (t) => {
      const time = aSettableClock('2024-05-06T07:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', anEntry())
      const { latest } = await store.changePosition(ALICE)
      time.set('2024-05-06T08:00:00.000Z')

      const nothing = await store.restoreBook([ALICE], '2024-05-06T07:30:00.000Z')
      const unchanged = (await store.changePosition(ALICE)).latest
      const empty = await store.restoreBook([ALICE], '2024-05-06T06:00:00.000Z')

      assert.deepEqual(nothing, [{ restored: [], trashed: [], recreated: [] }])
      assert.equal(unchanged, latest)
      assert.deepEqual(empty, [{ restored: [], trashed: ['a'], recreated: [] }])
      assert.deepEqual(await bookOf(store, ALICE), [])
    })
  })

  describe('forgetting history', () => {
    test('when history is forgotten before a time, then older versions go but the latest few of each entry stay, and older trash goes for good', async (t) => {
      const time = aSettableClock('2024-05-01T00:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', anEntry({ full_name: 'v1' }), { photo: aPhoto('p1', 1) })
      for (let version = 2; version <= 6; version++) {
        time.set(`2024-05-0${String(version)}T00:00:00.000Z`)
        await store.update(ALICE, 'a', anEntry({ full_name: `v${String(version)}` }))
      }
      await store.setPhoto(ALICE, 'a', aPhoto('p2', 2))
      await store.create(ALICE, 'old', anEntry({ full_name: 'Old' }))
      await store.delete(ALICE, 'old')
      time.set('2024-05-20T00:00:00.000Z')
      await store.create(ALICE, 'recent', anEntry({ full_name: 'Recent' }))
      await store.delete(ALICE, 'recent')

      const forgotten = await store.forgetHistoryBefore('2024-05-10T00:00:00.000Z', 2)

      assert.equal(forgotten, 5)
      assert.deepEqual((await store.history(ALICE, 'a', 10)).map(({ version }) => version), [7, 6, 5])
      assert.deepEqual((await store.listTrash(ALICE, { limit: 10 })).map(({ id }) => id), ['recent'])
      assert.deepEqual(await store.history(ALICE, 'old', 10), [])
      assert.deepEqual((await store.getPhoto(ALICE, 'a', 'image'))?.etag, 'p2')
    })
  })
}
