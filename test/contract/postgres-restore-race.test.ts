import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js'
import type { PhotoData, Store, StoredEntry } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'

const ALICE = 'alice'
const BOB = 'bob'

/** `count` ids with a prefix, from `from`: e000, e001, … */
const ids = (prefix: string, from: number, count: number) => Array.from({ length: count }, (_, index) => `${prefix}${String(from + index).padStart(3, '0')}`)

function aPhoto(etag: string, fill: number): PhotoData {
  return { etag, contentType: 'image/jpeg', image: new Uint8Array(500).fill(fill), thumbnail: new Uint8Array([fill]) }
}

/** What a restore gives back of an entry: its content, card data and photo. */
type Content = Pick<StoredEntry, 'entry' | 'card' | 'photo'>
const contentOf = ({ entry, card, photo }: StoredEntry): Content => ({ entry, card, photo })

async function bookOf(store: Store, owner: string): Promise<Map<string, StoredEntry>> {
  const entries = await store.list(owner, { filter: { terms: [] }, sort: { key: 'created', descending: false }, limit: 10_000 })
  return new Map(entries.map((stored) => [stored.id, stored]))
}

if (POSTGRES_SKIP) {
  describe('PostgresStore: a book restore racing other writes', { skip: POSTGRES_SKIP }, () => undefined)
} else {
  const postgres = useTestPostgres()

  describe('PostgresStore: a book restore racing other writes', () => {
    test('when a book is restored through one instance while another writes to it, then the restore is whole, and each entry is as it was or as a write after it made it', async (t) => {
      const url = await postgres.freshSchemaUrl(t)
      const restorer = new PostgresStore(url)
      const writer = new PostgresStore(url)
      t.after(() => Promise.all([restorer.close(), writer.close()]))
      const seeded = ids('e', 0, 300)
      await writer.createMany(ALICE, seeded.map((id, index) => ({
        id,
        entry: anEntry({ full_name: `Seed ${id}` }),
        card: { name: `${id}.vcf` },
        ...(index >= 110 && index < 120 ? { photo: aPhoto(`p-${id}`, index) } : {}),
      })))
      await writer.createMany(BOB, ids('e', 0, 20).map((id) => ({ id, entry: anEntry({ full_name: `Bob ${id}` }) })))
      await Promise.all(ids('e', 0, 50).map((id) => writer.update(ALICE, id, anEntry({ full_name: `Before ${id}` }))))
      const then = await bookOf(writer, ALICE)
      const bobs = await bookOf(writer, BOB)
      await sleep(10)
      const at = new Date().toISOString()
      await sleep(10)
      await Promise.all([
        ...ids('e', 0, 20).map((id) => writer.update(ALICE, id, anEntry({ full_name: `Damaged ${id}` }), undefined, { card: { name: `x-${id}.vcf` } })),
        ...ids('e', 20, 60).map((id) => writer.update(ALICE, id, anEntry({ full_name: `Damaged ${id}` }))),
        ...ids('e', 80, 30).map((id) => writer.delete(ALICE, id)),
        ...ids('e', 110, 10).map((id, index) => writer.setPhoto(ALICE, id, aPhoto(`q-${id}`, 200 + index))),
        ...ids('n', 0, 30).map((id) => writer.create(ALICE, id, anEntry({ full_name: `New ${id}` }))),
      ])
      // The writes that race the restore: updates of entries it restores and of entries it leaves,
      // deletions of entries it creates again (deleted since) and of entries it leaves, and
      // creations. Half are asked for before the restore and half after, so that some commit before
      // it and some after; which do is up to the server, and every assertion holds either way.
      const updated = [...ids('e', 60, 20), ...ids('e', 200, 20)]
      const goneSince = new Set(ids('e', 90, 10))
      const deleted = [...goneSince, ...ids('e', 220, 20)]
      const created = ids('c', 0, 30)
      const writeOf = (id: string) => anEntry({ full_name: `Concurrent ${id}` })
      const writes = (half: 0 | 1) => {
        const mine = <T>(list: readonly T[]) => list.filter((_, index) => index % 2 === half)
        return {
          updates: Promise.all(mine(updated).map(async (id) => [id, await writer.update(ALICE, id, writeOf(id))] as const)),
          deletes: Promise.all(mine(deleted).map(async (id) => [id, await writer.delete(ALICE, id)] as const)),
          creates: Promise.all(mine(created).map(async (id) => [id, await writer.create(ALICE, id, writeOf(id))] as const)),
        }
      }

      const early = writes(0)
      const restore = restorer.restoreBook([ALICE], at)
      const late = writes(1)
      const [outcome] = await Promise.allSettled([restore])
      const [updates, deletions] = await Promise.all([
        Promise.all([early.updates, late.updates]).then((halves) => new Map(halves.flat())),
        Promise.all([early.deletes, late.deletes]).then((halves) => new Map(halves.flat())),
        early.creates,
        late.creates,
      ])
      const now = await bookOf(writer, ALICE)

      assert.equal(outcome.status, 'fulfilled', outcome.status === 'rejected' ? String(outcome.reason) : '')
      const [done] = outcome.value
      assert.ok(done)
      /** What the entry held at `at`. */
      const thenOf = (id: string): Content => {
        const was = then.get(id)
        assert.ok(was, `${id} existed then`)
        return contentOf(was)
      }
      const restoredOrRecreated = new Set([...done.restored, ...done.recreated])
      /** The version the restore made of an entry: its content must be that of then, and any later one a write's that came after. */
      const restoreVersionOf = async (id: string) => {
        const history = await writer.history(ALICE, id, 100)
        const made = history.filter(({ source }) => source === 'restore')
        assert.equal(made.length, restoredOrRecreated.has(id) ? 1 : 0, `${id}: ${JSON.stringify(history.map(({ version, source }) => [version, source]))}`)
        const [version] = made
        if (version) {
          assert.deepEqual({ entry: version.entry, card: version.card, photo: version.photo }, thenOf(id), id)
        }
        return version?.version
      }

      const concurrent = new Set([...updated, ...deleted, ...created])
      for (const id of [...seeded, ...ids('n', 0, 30)]) {
        if (concurrent.has(id)) continue
        const [was, is] = [then.get(id), now.get(id)]
        assert.deepEqual(is && contentOf(is), was && contentOf(was), `${id} is as it was then`)
        await restoreVersionOf(id)
      }
      for (const id of updated) {
        const written = updates.get(id)
        assert.ok(written, `the update of ${id} found it`)
        const restoredAt = await restoreVersionOf(id)
        const final = now.get(id)
        assert.ok(final)
        if (restoredAt !== undefined && final.version === restoredAt) {
          assert.ok(written.version < restoredAt, `${id} was written before the restore`)
          assert.deepEqual(contentOf(final), thenOf(id), id)
        } else {
          assert.ok(restoredAt === undefined || written.version > restoredAt, `${id} was written after the restore`)
          assert.deepEqual([final.version, final.entry], [written.version, writeOf(id)], id)
        }
      }
      for (const id of deleted) {
        await restoreVersionOf(id)
        const final = now.get(id)
        // An entry deleted since `at` is absent until the restore creates it again: a deletion
        // before the restore finds nothing. One there all along is found either way, and the
        // restore creates it again only when the deletion came first.
        if (goneSince.has(id)) assert.ok(done.recreated.includes(id), `${id}, deleted since, was created again`)
        else assert.equal(deletions.get(id), true, id)
        const deletedFirst: boolean = goneSince.has(id) ? deletions.get(id) === false : done.recreated.includes(id)
        assert.equal(final !== undefined, deletedFirst, `${id} is back only when it was deleted before the restore`)
        if (final) assert.deepEqual(contentOf(final), thenOf(id), id)
      }
      for (const id of created) {
        const final = now.get(id)
        assert.equal(final !== undefined, !done.trashed.includes(id), `${id} is trashed only when it was created before the restore`)
        if (final) assert.deepEqual([final.version, final.entry], [1, writeOf(id)], id)
      }
      assert.deepEqual((await writer.getPhoto(ALICE, 'e111', 'image'))?.data, aPhoto('p-e111', 111).image)
      assert.deepEqual(await bookOf(writer, BOB), bobs)
    })
  })
}
