import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { EntryExistsError } from '../../src/domain/errors.js'
import type { Clock, Store, StoredChange } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

/** A clock that stands still until the test sets it. */
function aSettableClock(start = '2024-05-06T07:08:09.123Z') {
  let now = new Date(start)
  return {
    clock: (() => new Date(now)) satisfies Clock,
    set(iso: string) {
      now = new Date(iso)
    },
  }
}

/** A change as the tests compare it: seq, id, kind, and the entry's name when it has one. */
function brief(change: StoredChange): [number, string, string, string?] {
  return change.stored ? [change.seq, change.id, change.kind, change.stored.entry.full_name] : [change.seq, change.id, change.kind]
}

/** Every change after `since`, read `limit` at a time the way a syncing client does, with the pages' sizes. */
async function allChanges(store: Store, owner: string, since: number, limit: number): Promise<{ changes: StoredChange[]; pages: number[] }> {
  const changes: StoredChange[] = []
  const pages: number[] = []
  let position = since
  for (;;) {
    const page = await store.changesSince(owner, position, limit)
    changes.push(...page.changes)
    pages.push(page.changes.length)
    const last = page.changes.at(-1)
    if (!page.more || !last) return { changes, pages }
    position = last.seq
  }
}

function withoutKind({ seq, id, stored }: StoredChange): Omit<StoredChange, 'kind'> {
  return { seq, id, stored }
}

/** Claims the key; resolves the outcome as the tests compare it, whether or not a store spells out a missing result. */
async function claim(
  store: Store,
  owner: string,
  key: string,
  fingerprint: string,
  times: { now: string; leaseUntil: string; expiresAt: string },
): Promise<{ claimed: boolean; fingerprint?: string; result?: string }> {
  const { claimed, record } = await store.claimIdempotencyKey(owner, key, fingerprint, times)
  if (claimed) return { claimed }
  return { claimed, ...(record?.fingerprint === undefined ? {} : { fingerprint: record.fingerprint }), ...(record?.result === undefined ? {} : { result: record.result }) }
}

const T0 = '2024-05-06T07:00:00.000Z'
const LEASE_END = '2024-05-06T07:01:00.000Z'
const EXPIRY = '2024-05-07T07:00:00.000Z'
const WHILE_LEASED = '2024-05-06T07:00:30.000Z'
const AFTER_LEASE = '2024-05-06T07:02:00.000Z'
const AFTER_EXPIRY = '2024-05-07T08:00:00.000Z'

/** The times of a claim made at `now`, with a lease of a minute and a record that lasts a day. */
function claimTimes(now = T0, leaseUntil = LEASE_END, expiresAt = EXPIRY) {
  return { now, leaseUntil, expiresAt }
}

const CLAIMED = { claimed: true }

/**
 * The per-owner sequence of changes (with tombstones) and idempotency records: every store must
 * number an owner's writes alike and keep the same records.
 */
export function describeSyncContract(makeStore: MakeStore): void {
  describe('changes', () => {
    test('when the book is new, then its position is 0 and it has no changes', async (t) => {
      const store = await makeStore(t)

      assert.deepEqual(await store.changePosition(ALICE), { latest: 0, forgottenThrough: 0 })
      assert.deepEqual(await store.changesSince(ALICE, 0, 10), { changes: [], more: false })
    })

    test('when entries are created, updated and deleted, then each write takes the next seq, and the latest is the last one', async (t) => {
      const store = await makeStore(t)

      await store.create(ALICE, 'a', anEntry({ full_name: 'A' }))
      await store.create(ALICE, 'b', anEntry({ full_name: 'B' }))
      await store.create(ALICE, 'c', anEntry({ full_name: 'C' }))
      await store.update(ALICE, 'a', anEntry({ full_name: 'A2' }))
      await store.delete(ALICE, 'b')

      assert.deepEqual(await store.changePosition(ALICE), { latest: 5, forgottenThrough: 0 })
      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes.map(brief), [
        [3, 'c', 'created', 'C'],
        [4, 'a', 'created', 'A2'],
        [5, 'b', 'deleted'],
      ])
    })

    test('when an entry was created before `since` and changed after, then it is updated; created after, it is created', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'old', anEntry({ full_name: 'Old' }))
      await store.create(ALICE, 'new', anEntry({ full_name: 'New' }))
      await store.update(ALICE, 'old', anEntry({ full_name: 'Old 2' }))
      await store.update(ALICE, 'new', anEntry({ full_name: 'New 2' }))

      const { changes } = await store.changesSince(ALICE, 1, 10)

      assert.deepEqual(changes.map(brief), [
        [3, 'old', 'updated', 'Old 2'],
        [4, 'new', 'created', 'New 2'],
      ])
    })

    test('when a change carries an entry, then it is the entry as stored now, as get reads it', async (t) => {
      const store = await makeStore(t, aSettableClock().clock)
      await store.create(ALICE, 'a', anEntry())
      await store.update(ALICE, 'a', anEntry({ full_name: 'Renamed' }))

      const [change] = (await store.changesSince(ALICE, 0, 10)).changes

      assert.deepEqual(change?.stored, await store.get(ALICE, 'a'))
    })

    test('when an entry changed many times, then it appears once, at its latest change', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'A1' }))
      await store.create(ALICE, 'b', anEntry({ full_name: 'B' }))
      for (const name of ['A2', 'A3', 'A4']) await store.update(ALICE, 'a', anEntry({ full_name: name }))

      const { changes } = await store.changesSince(ALICE, 0, 10)

      assert.deepEqual(changes.map(brief), [
        [2, 'b', 'created', 'B'],
        [5, 'a', 'created', 'A4'],
      ])
    })

    test('when an entry is created and deleted after `since`, then only its deletion appears', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'kept', anEntry())
      await store.create(ALICE, 'brief', anEntry())
      await store.delete(ALICE, 'brief')

      assert.deepEqual((await store.changesSince(ALICE, 1, 10)).changes.map(brief), [[3, 'brief', 'deleted']])
    })

    test('when changes are read a page at a time, then every change comes once, in seq order, and only the last page has no more', async (t) => {
      const store = await makeStore(t)
      for (let index = 0; index < 12; index++) await store.create(ALICE, `e${String(index)}`, anEntry({ full_name: `E${String(index)}` }))
      for (const index of [3, 7, 0]) await store.update(ALICE, `e${String(index)}`, anEntry({ full_name: `E${String(index)}'` }))
      for (const index of [5, 11]) await store.delete(ALICE, `e${String(index)}`)
      const everything = await store.changesSince(ALICE, 0, 1000)

      for (const limit of [1, 2, 3, 5, 13, 14]) {
        const { changes, pages } = await allChanges(store, ALICE, 0, limit)

        // Kinds are not compared: a page's kinds are relative to the seq it starts after.
        assert.deepEqual(changes.map(withoutKind), everything.changes.map(withoutKind), `limit ${String(limit)}`)
        assert.ok(pages.slice(0, -1).every((size) => size === limit), `limit ${String(limit)}: pages of ${pages.join(', ')}`)
      }
      assert.equal(everything.changes.length, 12)
      assert.equal(everything.more, false)
      assert.deepEqual(everything.changes.slice(-5).map(brief), [
        [13, 'e3', 'created', "E3'"],
        [14, 'e7', 'created', "E7'"],
        [15, 'e0', 'created', "E0'"],
        [16, 'e5', 'deleted'],
        [17, 'e11', 'deleted'],
      ])
    })

    test('when the page is exactly the rest of the changes, then it says there are no more', async (t) => {
      const store = await makeStore(t)
      await store.createMany(ALICE, [{ id: 'a', entry: anEntry() }, { id: 'b', entry: anEntry() }])

      assert.equal((await store.changesSince(ALICE, 0, 2)).more, false)
      assert.equal((await store.changesSince(ALICE, 0, 1)).more, true)
      assert.deepEqual(await store.changesSince(ALICE, 2, 5), { changes: [], more: false })
    })

    test('when several entries are created at once, then each takes a seq of its own, in the order given', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'first', anEntry({ full_name: 'First' }))

      await store.createMany(ALICE, [
        { id: 'z', entry: anEntry({ full_name: 'Z' }) },
        { id: 'm', entry: anEntry({ full_name: 'M' }) },
        { id: 'a', entry: anEntry({ full_name: 'A' }) },
      ])

      assert.deepEqual(await store.changePosition(ALICE), { latest: 4, forgottenThrough: 0 })
      assert.deepEqual((await store.changesSince(ALICE, 1, 10)).changes.map(brief), [
        [2, 'z', 'created', 'Z'],
        [3, 'm', 'created', 'M'],
        [4, 'a', 'created', 'A'],
      ])
    })

    test('when a write fails or changes nothing, then it takes no seq: the next write takes the one after the latest', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())
      await store.update(ALICE, 'a', anEntry({ full_name: 'A2' }))

      await assert.rejects(store.create(ALICE, 'a', anEntry()), EntryExistsError)
      await assert.rejects(store.createMany(ALICE, [{ id: 'b', entry: anEntry() }, { id: 'a', entry: anEntry() }]), EntryExistsError)
      await assert.rejects(store.createMany(ALICE, [{ id: 'c', entry: anEntry() }, { id: 'c', entry: anEntry() }]), EntryExistsError)
      assert.equal(await store.update(ALICE, 'a', anEntry({ full_name: 'Stale' }), [1]), undefined)
      assert.equal(await store.update(ALICE, 'missing', anEntry()), undefined)
      assert.equal(await store.delete(ALICE, 'a', [1]), false)
      assert.equal(await store.delete(ALICE, 'missing'), false)
      await store.createMany(ALICE, [])
      const position = await store.changePosition(ALICE)
      await store.create(ALICE, 'd', anEntry({ full_name: 'D' }))

      assert.deepEqual(position, { latest: 2, forgottenThrough: 0 })
      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes.map(brief), [
        [2, 'a', 'created', 'A2'],
        [3, 'd', 'created', 'D'],
      ])
    })

    test('when a deleted id is created again, then its tombstone is gone and it appears as created', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'Before' }))
      await store.delete(ALICE, 'a')

      await store.create(ALICE, 'a', anEntry({ full_name: 'Again' }))

      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes.map(brief), [[3, 'a', 'created', 'Again']])
      assert.deepEqual((await store.changesSince(ALICE, 2, 10)).changes.map(brief), [[3, 'a', 'created', 'Again']])
    })

    test('when deletions are forgotten, then their tombstones are gone and forgottenThrough is the highest seq forgotten, per owner', async (t) => {
      const time = aSettableClock('2024-01-01T00:00:00.000Z')
      const store = await makeStore(t, time.clock)
      for (const id of ['a', 'b', 'c']) await store.create(ALICE, id, anEntry())
      await store.create(BOB, 'a', anEntry())
      await store.delete(ALICE, 'a')
      await store.delete(BOB, 'a')
      time.set('2024-01-02T00:00:00.000Z')
      await store.delete(ALICE, 'b')
      time.set('2024-01-03T00:00:00.000Z')
      await store.delete(ALICE, 'c')

      const forgotten = await store.forgetDeletionsBefore('2024-01-02T00:00:00.001Z')

      assert.equal(forgotten, 3)
      assert.deepEqual(await store.changePosition(ALICE), { latest: 6, forgottenThrough: 5 })
      assert.deepEqual(await store.changePosition(BOB), { latest: 2, forgottenThrough: 2 })
      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes.map(brief), [[6, 'c', 'deleted']])
      assert.deepEqual(await store.changesSince(BOB, 0, 10), { changes: [], more: false })
    })

    test('when nothing was deleted before the time, then forgetting forgets nothing and every position stays', async (t) => {
      const time = aSettableClock('2024-01-02T00:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.create(ALICE, 'a', anEntry())
      await store.delete(ALICE, 'a')

      assert.equal(await store.forgetDeletionsBefore('2024-01-02T00:00:00.000Z'), 0)

      assert.deepEqual(await store.changePosition(ALICE), { latest: 2, forgottenThrough: 0 })
      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes.map(brief), [[2, 'a', 'deleted']])
    })

    test('when a later deletion is forgotten before an earlier one (the clock went back), then forgottenThrough never goes back', async (t) => {
      const time = aSettableClock('2024-01-03T00:00:00.000Z')
      const store = await makeStore(t, time.clock)
      await store.createMany(ALICE, [{ id: 'a', entry: anEntry() }, { id: 'b', entry: anEntry() }])
      await store.delete(ALICE, 'b')
      time.set('2024-01-01T00:00:00.000Z')
      await store.delete(ALICE, 'a')

      assert.equal(await store.forgetDeletionsBefore('2024-01-02T00:00:00.000Z'), 1)
      assert.deepEqual(await store.changePosition(ALICE), { latest: 4, forgottenThrough: 4 })
      assert.equal(await store.forgetDeletionsBefore('2024-01-05T00:00:00.000Z'), 1)
      assert.deepEqual(await store.changePosition(ALICE), { latest: 4, forgottenThrough: 4 })
    })

    test('when two owners write, then each has a sequence of its own from 1, and neither sees the other\'s changes', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'same', anEntry({ full_name: 'Alice' }))
      await store.create(BOB, 'same', anEntry({ full_name: 'Bob' }))
      await store.create(BOB, 'other', anEntry({ full_name: 'Other' }))
      await store.update(ALICE, 'same', anEntry({ full_name: 'Alice 2' }))
      await store.delete(BOB, 'same')

      assert.deepEqual(await store.changePosition(ALICE), { latest: 2, forgottenThrough: 0 })
      assert.deepEqual(await store.changePosition(BOB), { latest: 3, forgottenThrough: 0 })
      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes.map(brief), [[2, 'same', 'created', 'Alice 2']])
      assert.deepEqual((await store.changesSince(BOB, 0, 10)).changes.map(brief), [
        [2, 'other', 'created', 'Other'],
        [3, 'same', 'deleted'],
      ])
      assert.deepEqual(await store.changesSince('carol', 0, 10), { changes: [], more: false })
    })

    test('when the entry of a change is changed by the caller, then the stored entry is not', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry({ full_name: 'Kept' }))
      const [change] = (await store.changesSince(ALICE, 0, 10)).changes
      assert.ok(change?.stored)

      change.stored.entry.full_name = 'Tampered'

      assert.equal((await store.get(ALICE, 'a'))?.entry.full_name, 'Kept')
    })
  })

  describe('idempotency', () => {
    test('when a key is free, then the claim takes it; a second claim while the first is pending gets the pending record', async (t) => {
      const store = await makeStore(t)

      const first = await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())
      const second = await claim(store, ALICE, 'key-1', 'fingerprint-2', claimTimes(WHILE_LEASED))

      assert.deepEqual(first, CLAIMED)
      assert.deepEqual(second, { claimed: false, fingerprint: 'fingerprint-1' })
    })

    test('when a create records its result under the key, then a later claim gets the result with the fingerprint, lease or no lease', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())

      await store.create(ALICE, 'a', anEntry(), { idempotency: { key: 'key-1', result: '{"status":201}' } })

      const recorded = { claimed: false, fingerprint: 'fingerprint-1', result: '{"status":201}' }
      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes(WHILE_LEASED)), recorded)
      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes(AFTER_LEASE)), recorded)
    })

    test('when several entries are created at once with a key, then the result is recorded with them', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())

      await store.createMany(ALICE, [{ id: 'a', entry: anEntry() }, { id: 'b', entry: anEntry() }], { idempotency: { key: 'key-1', result: 'two' } })

      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes(WHILE_LEASED)), { claimed: false, fingerprint: 'fingerprint-1', result: 'two' })
    })

    test('when nothing is given to create with a key, then the result is recorded all the same, and no seq is taken', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())

      await store.createMany(ALICE, [], { idempotency: { key: 'key-1', result: 'none' } })

      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes(WHILE_LEASED)), { claimed: false, fingerprint: 'fingerprint-1', result: 'none' })
      assert.deepEqual(await store.changePosition(ALICE), { latest: 0, forgottenThrough: 0 })
    })

    test('when the write fails, then no result is recorded, no entry is stored and the key stays pending', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'taken', anEntry())
      await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())

      await assert.rejects(
        store.createMany(ALICE, [{ id: 'new', entry: anEntry() }, { id: 'taken', entry: anEntry() }], { idempotency: { key: 'key-1', result: 'two' } }),
        EntryExistsError,
      )
      await assert.rejects(store.create(ALICE, 'taken', anEntry(), { idempotency: { key: 'key-1', result: 'one' } }), EntryExistsError)

      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes(WHILE_LEASED)), { claimed: false, fingerprint: 'fingerprint-1' })
      assert.equal(await store.get(ALICE, 'new'), undefined)
    })

    test('when a pending claim\'s lease has run out, then another request takes the key over', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())

      const takeover = await claim(store, ALICE, 'key-1', 'fingerprint-2', claimTimes(AFTER_LEASE, '2024-05-06T07:03:00.000Z'))

      assert.deepEqual(takeover, CLAIMED)
      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-3', claimTimes('2024-05-06T07:02:30.000Z')), { claimed: false, fingerprint: 'fingerprint-2' })
    })

    test('when a record has expired, then a new claim takes the key, even with a result recorded', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes())
      await store.create(ALICE, 'a', anEntry(), { idempotency: { key: 'key-1', result: 'done' } })

      const renewed = await claim(store, ALICE, 'key-1', 'fingerprint-2', claimTimes(AFTER_EXPIRY, '2024-05-07T08:01:00.000Z', '2024-05-08T08:00:00.000Z'))

      assert.deepEqual(renewed, CLAIMED)
      assert.deepEqual(await claim(store, ALICE, 'key-1', 'fingerprint-1', claimTimes('2024-05-07T08:00:30.000Z')), { claimed: false, fingerprint: 'fingerprint-2' })
    })

    test('when a pending claim is released, then the key is free again; a completed one is not released', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'pending', 'fingerprint-1', claimTimes())
      await claim(store, ALICE, 'done', 'fingerprint-1', claimTimes())
      await store.create(ALICE, 'a', anEntry(), { idempotency: { key: 'done', result: 'kept' } })

      await store.releaseIdempotencyKey(ALICE, 'pending')
      await store.releaseIdempotencyKey(ALICE, 'done')
      await store.releaseIdempotencyKey(ALICE, 'never-claimed')

      assert.deepEqual(await claim(store, ALICE, 'pending', 'fingerprint-2', claimTimes(WHILE_LEASED)), CLAIMED)
      assert.deepEqual(await claim(store, ALICE, 'done', 'fingerprint-2', claimTimes(WHILE_LEASED)), { claimed: false, fingerprint: 'fingerprint-1', result: 'kept' })
    })

    test('when two owners use the same key, then each has a record of its own', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'key-1', 'alice', claimTimes())

      const bobs = await claim(store, BOB, 'key-1', 'bob', claimTimes())
      await store.create(BOB, 'a', anEntry(), { idempotency: { key: 'key-1', result: 'bob' } })

      assert.deepEqual(bobs, CLAIMED)
      assert.deepEqual(await claim(store, ALICE, 'key-1', 'x', claimTimes(WHILE_LEASED)), { claimed: false, fingerprint: 'alice' })
      assert.deepEqual(await claim(store, BOB, 'key-1', 'x', claimTimes(WHILE_LEASED)), { claimed: false, fingerprint: 'bob', result: 'bob' })
    })

    test('when expired records are forgotten, then they are gone and the others stay', async (t) => {
      const store = await makeStore(t)
      await claim(store, ALICE, 'old', 'fingerprint-1', claimTimes())
      await claim(store, BOB, 'old', 'fingerprint-1', claimTimes())
      await claim(store, ALICE, 'new', 'fingerprint-1', claimTimes(T0, '2024-05-08T00:00:00.000Z', '2024-05-09T00:00:00.000Z'))

      const forgotten = await store.forgetIdempotencyKeysBefore(AFTER_EXPIRY)

      assert.equal(forgotten, 2)
      assert.deepEqual(await claim(store, ALICE, 'new', 'fingerprint-2', claimTimes(AFTER_EXPIRY)), { claimed: false, fingerprint: 'fingerprint-1' })
      assert.equal(await store.forgetIdempotencyKeysBefore(AFTER_EXPIRY), 0)
    })
  })
}
