import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import { DEFAULT_SORT, normalizeFilter } from '../../src/domain/listing.js'
import type { Store } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

function labelled(name: string, labels: string[]): AddressEntry {
  return anEntry({ full_name: name, labels })
}

async function withLabel(store: Store, owner: string, label: string): Promise<string[]> {
  return (await store.list(owner, { filter: normalizeFilter({ label }), sort: DEFAULT_SORT, limit: 100 })).map((stored) => stored.id)
}

function sorted<T extends { label: string }>(counts: readonly T[]): T[] {
  return [...counts].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
}

/** Writing several entries as one (what renaming a label does), and counting a book's labels. */
export function describeLabelsContract(makeStore: MakeStore): void {
  describe('updates of many entries', () => {
    test('when every entry is at its version, then all are updated: each a new version and a change, in order, the index following', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', labelled('Ada', ['Family']), { card: { name: 'a.vcf', uid: 'uid-a', kept: '1\nPHOTO:x' } })
      await store.create(ALICE, 'b', labelled('Bob', ['Family', 'Work']))
      const before = await store.changePosition(ALICE)

      const stored = await store.updateMany(ALICE, [
        { id: 'b', entry: labelled('Bob', ['Kin', 'Work']), ifVersion: [1] },
        { id: 'a', entry: labelled('Ada', ['Kin']), ifVersion: [1, 7] },
      ])

      assert.ok(stored)
      assert.deepEqual(stored.map(({ id, version, entry }) => [id, version, entry.labels]), [['b', 2, ['Kin', 'Work']], ['a', 2, ['Kin']]])
      assert.deepEqual(stored[1]?.card, { name: 'a.vcf', uid: 'uid-a', kept: '1\nPHOTO:x' })
      assert.deepEqual(await store.get(ALICE, 'a'), stored[1])
      const { changes } = await store.changesSince(ALICE, before.latest, 10)
      assert.deepEqual(changes.map(({ seq, id, kind }) => [seq - before.latest, id, kind]), [[1, 'b', 'updated'], [2, 'a', 'updated']])
      assert.deepEqual(await withLabel(store, ALICE, 'family'), [])
      assert.deepEqual(await withLabel(store, ALICE, 'KIN'), ['a', 'b'])
    })

    for (const [what, ifVersion, id] of [
      ['one entry is at another version', [2], 'b'],
      ['one entry is missing', [1], 'gone'],
      ["one entry is another owner's", [1], 'bobs'],
    ] as const) {
      test(`when ${what}, then it resolves undefined and nothing changes`, async (t) => {
        const store = await makeStore(t)
        await store.create(ALICE, 'a', labelled('Ada', ['Family']))
        await store.create(ALICE, 'b', labelled('Bob', ['Family']))
        await store.create(BOB, 'bobs', labelled('Bo', ['Family']))
        const before = await store.changePosition(ALICE)

        const stored = await store.updateMany(ALICE, [
          { id: 'a', entry: labelled('Ada', ['Kin']), ifVersion: [1] },
          { id, entry: labelled('Other', ['Kin']), ifVersion },
        ])

        assert.equal(stored, undefined)
        assert.deepEqual(await store.changePosition(ALICE), before)
        assert.deepEqual((await store.get(ALICE, 'a'))?.entry.labels, ['Family'])
        assert.equal((await store.get(ALICE, 'a'))?.version, 1)
        assert.deepEqual(await withLabel(store, ALICE, 'family'), ['a', 'b'])
        assert.deepEqual((await store.get(BOB, 'bobs'))?.entry.labels, ['Family'])
      })
    }

    test('when an entry is named twice, then it resolves undefined and nothing changes', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', labelled('Ada', ['Family']))

      const stored = await store.updateMany(ALICE, [
        { id: 'a', entry: labelled('Ada', ['Kin']), ifVersion: [1] },
        { id: 'a', entry: labelled('Ada', ['Other']), ifVersion: [1] },
      ])

      assert.equal(stored, undefined)
      assert.equal((await store.get(ALICE, 'a'))?.version, 1)
    })

    test('when two updates of the same entries race at the same versions, then exactly one applies, whole', async (t) => {
      const store = await makeStore(t)
      const ids = ['a', 'b', 'c', 'd']
      for (const id of ids) await store.create(ALICE, id, labelled(id, ['Family']))

      const results = await Promise.all(
        ['One', 'Two'].map((label, round) =>
          store.updateMany(ALICE, (round === 0 ? ids : [...ids].reverse()).map((id) => ({ id, entry: labelled(id, [label]), ifVersion: [1] }))),
        ),
      )

      assert.equal(results.filter((result) => result !== undefined).length, 1)
      const labels = new Set<string>()
      for (const id of ids) labels.add(String((await store.get(ALICE, id))?.entry.labels))
      assert.equal(labels.size, 1)
    })

    test('when nothing is given, then nothing changes', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())

      assert.deepEqual(await store.updateMany(ALICE, []), [])
      assert.equal((await store.changePosition(ALICE)).latest, 1)
    })
  })

  describe('label counts', () => {
    test("when entries carry labels, then each spelling is counted by the entries that write it so, and another owner's are not", async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', labelled('Ada', ['Family', 'Work']))
      await store.create(ALICE, 'b', labelled('Bob', ['family']))
      await store.create(ALICE, 'c', labelled('Cy', ['Family', 'Ünïcode ﬁ']))
      await store.create(ALICE, 'd', anEntry({ full_name: 'No labels' }))
      await store.create(BOB, 'x', labelled('Xi', ['Family', 'Secret']))

      assert.deepEqual(sorted(await store.labelCounts(ALICE)), [
        { label: 'Family', count: 2 },
        { label: 'Work', count: 1 },
        { label: 'family', count: 1 },
        { label: 'Ünïcode ﬁ', count: 1 },
      ])
      assert.deepEqual(await store.labelCounts('nobody'), [])
    })

    test('when entries change or go, then the counts follow', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', labelled('Ada', ['Family']))
      await store.create(ALICE, 'b', labelled('Bob', ['Family']))

      await store.update(ALICE, 'a', labelled('Ada', ['Work']))
      await store.delete(ALICE, 'b')

      assert.deepEqual(await store.labelCounts(ALICE), [{ label: 'Work', count: 1 }])
    })
  })
}
