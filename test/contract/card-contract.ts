import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { EntryExistsError } from '../../src/domain/errors.js'
import { DEFAULT_SORT } from '../../src/domain/listing.js'
import type { CardData, Clock, Store, StoredEntry } from '../../src/storage/store.js'
import { anEntry } from '../helpers/factories.js'

type MakeStore = (t: TestContext, clock?: Clock) => Promise<Store> | Store

const ALICE = 'alice'
const BOB = 'bob'

/** EntryExistsError naming the entry that holds the name. */
const heldBy = (id: string) => (error: unknown) => error instanceof EntryExistsError && error.id === id

/** Card data as a phone leaves it, with overrides. */
function aCard(overrides: Partial<CardData> = {}): CardData {
  return {
    name: '3F2504E0-4F89.vcf',
    uid: 'urn:uuid:3F2504E0-4F89-11D3-9A0C-0305E82C3301',
    kept: 'X-PHONETIC-FIRST-NAME:ada\r\nX-ABLABEL:Lab\r\n',
    ...overrides,
  }
}

/** Text of exactly 1 MiB (UTF-8) of folded CRLF lines with letters of several scripts, as a photo's property might be. */
function aMebibyteOfKeptText(): string {
  const line = 'PHOTO;ENCODING=b:Zoë Ångström 山田 👩🏽‍🚀 ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n ' // 4-byte, 3-byte and 2-byte characters
  const size = 1024 * 1024
  const unit = Buffer.byteLength(line)
  const text = line.repeat(Math.floor(size / unit)) + 'x'.repeat(size % unit)
  assert.equal(Buffer.byteLength(text), size)
  return text
}

function listAll(store: Store, owner: string): Promise<StoredEntry[]> {
  return store.list(owner, { filter: { terms: [] }, sort: DEFAULT_SORT, limit: 10_000 })
}

/**
 * Card data kept beside an entry for CardDAV: every store keeps it, finds an entry by its card
 * name, keeps names unique per owner, and remembers a deleted entry's name for sync.
 */
export function describeCardContract(makeStore: MakeStore): void {
  describe('card data', () => {
    test('when a book is kept under an owner key with a control character (the cards that are no entries), then it is a book of its own in every way', async (t) => {
      const store = await makeStore(t)
      const others = `${ALICE}\u001fcards`
      await store.create(ALICE, 'a', anEntry({ full_name: 'Ada' }))

      const group = await store.create(others, 'g', anEntry({ full_name: 'Family' }), { card: aCard({ name: 'family.vcf', kept: '1\nBEGIN:VCARD\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nEND:VCARD\r\n' }) })

      assert.deepEqual((await listAll(store, ALICE)).map((stored) => stored.id), ['a'])
      assert.deepEqual((await listAll(store, others)).map((stored) => stored.id), ['g'])
      assert.deepEqual(await store.findByName(others, 'family.vcf'), group)
      assert.equal(await store.findByName(ALICE, 'family.vcf'), undefined)
      assert.deepEqual((await store.changesSince(others, 0, 10)).changes.map((change) => change.id), ['g'])
      assert.equal((await store.changePosition(ALICE)).latest, 1)
      assert.deepEqual((await store.listStamps(others, 10)).map((stamp) => stamp.name), ['family.vcf'])
      assert.ok(await store.delete(others, 'g'))
      assert.deepEqual((await store.changesSince(others, 1, 10)).changes.map((change) => [change.kind, change.name]), [['deleted', 'family.vcf']])
    })

    test('when an entry is created with card data, then create, get, list and findByName return it beside the entry', async (t) => {
      const store = await makeStore(t)

      const created = await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      assert.deepEqual(created.card, aCard())
      assert.deepEqual(await store.get(ALICE, 'a'), created)
      assert.deepEqual(await listAll(store, ALICE), [created])
      assert.deepEqual(await store.findByName(ALICE, aCard().name ?? ''), created)
      assert.deepEqual(created.entry, anEntry())
    })

    test('when an entry is created without card data, or with none of its members, then no read has a card member', async (t) => {
      const store = await makeStore(t)

      const created = [await store.create(ALICE, 'a', anEntry()), await store.create(ALICE, 'b', anEntry(), { card: {} })]

      const reads = [...created, await store.get(ALICE, 'a'), await store.get(ALICE, 'b'), ...(await listAll(store, ALICE))]
      const changed = (await store.changesSince(ALICE, 0, 10)).changes.map((change) => change.stored)
      for (const read of [...reads, ...changed]) {
        assert.ok(read)
        assert.equal('card' in read, false, JSON.stringify(read))
      }
    })

    test('when card data has only some members, then it reads back with only those', async (t) => {
      const store = await makeStore(t)

      await store.create(ALICE, 'named', anEntry(), { card: { name: 'named.vcf' } })
      await store.create(ALICE, 'uid', anEntry(), { card: { uid: 'other-uid', name: undefined } })
      await store.create(ALICE, 'kept', anEntry(), { card: { kept: 'NOTE:x\r\n' } })

      assert.deepEqual((await store.get(ALICE, 'named'))?.card, { name: 'named.vcf' })
      assert.deepEqual((await store.get(ALICE, 'uid'))?.card, { uid: 'other-uid' })
      assert.deepEqual((await store.get(ALICE, 'kept'))?.card, { kept: 'NOTE:x\r\n' })
    })

    test('when a name is looked up, then it matches exactly: no other case, no unknown name', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard({ name: 'Card.vcf' }) })

      assert.equal(await store.findByName(ALICE, 'card.vcf'), undefined)
      assert.equal(await store.findByName(ALICE, 'Card.VCF'), undefined)
      assert.equal(await store.findByName(ALICE, 'other.vcf'), undefined)
      assert.equal((await store.findByName(ALICE, 'Card.vcf'))?.id, 'a')
    })

    test("when another owner looks up an owner's name, then findByName resolves undefined", async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      assert.equal(await store.findByName(BOB, aCard().name ?? ''), undefined)
    })

    test('when two owners use the same name, then both creates succeed and each finds their own entry', async (t) => {
      const store = await makeStore(t)

      await store.create(ALICE, 'a', anEntry({ full_name: 'Alice’s' }), { card: aCard() })
      await store.create(BOB, 'b', anEntry({ full_name: 'Bob’s' }), { card: aCard() })

      assert.equal((await store.findByName(ALICE, aCard().name ?? ''))?.entry.full_name, 'Alice’s')
      assert.equal((await store.findByName(BOB, aCard().name ?? ''))?.entry.full_name, 'Bob’s')
    })

    test('when a second entry is created with a taken name, then it rejects with EntryExistsError naming the holder, and nothing is stored', async (t) => {
      const store = await makeStore(t)
      const first = await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      await assert.rejects(store.create(ALICE, 'b', anEntry({ full_name: 'Second' }), { card: aCard({ uid: 'another' }) }), heldBy('a'))

      assert.equal(await store.get(ALICE, 'b'), undefined)
      assert.deepEqual(await store.findByName(ALICE, aCard().name ?? ''), first)
      assert.deepEqual(await store.changePosition(ALICE), { latest: 1, forgottenThrough: 0 })
    })

    test('when entries are created at once with the same name, then exactly one is stored and the others reject with EntryExistsError', async (t) => {
      const store = await makeStore(t)

      const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((id) => store.create(ALICE, id, anEntry({ full_name: id }), { card: aCard() })))

      assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1)
      for (const outcome of outcomes) if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof EntryExistsError)
      assert.equal((await listAll(store, ALICE)).length, 1)
    })

    test('when createMany gives card data, then each entry has its own, found by its name', async (t) => {
      const store = await makeStore(t)

      await store.createMany(ALICE, [
        { id: 'a', entry: anEntry({ full_name: 'A' }), card: aCard({ name: 'a.vcf' }) },
        { id: 'b', entry: anEntry({ full_name: 'B' }) },
        { id: 'c', entry: anEntry({ full_name: 'C' }), card: aCard({ name: 'c.vcf', kept: undefined }) },
      ])

      assert.deepEqual((await store.findByName(ALICE, 'a.vcf'))?.card, aCard({ name: 'a.vcf' }))
      assert.equal('card' in ((await store.get(ALICE, 'b')) ?? {}), false)
      assert.deepEqual((await store.findByName(ALICE, 'c.vcf'))?.card, { name: 'c.vcf', uid: aCard().uid })
    })

    test('when createMany gives a taken name, or one name twice, then it rejects with EntryExistsError naming the holder, and stores nothing', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'held', anEntry(), { card: aCard({ name: 'held.vcf' }) })

      await assert.rejects(
        store.createMany(ALICE, [
          { id: 'a', entry: anEntry(), card: aCard({ name: 'free.vcf' }) },
          { id: 'b', entry: anEntry(), card: aCard({ name: 'held.vcf' }) },
        ]),
        heldBy('held'),
      )
      await assert.rejects(
        store.createMany(ALICE, [
          { id: 'c', entry: anEntry(), card: aCard({ name: 'twice.vcf' }) },
          { id: 'd', entry: anEntry(), card: aCard({ name: 'twice.vcf' }) },
        ]),
        heldBy('c'),
      )

      assert.deepEqual((await listAll(store, ALICE)).map((stored) => stored.id), ['held'])
      assert.equal(await store.findByName(ALICE, 'free.vcf'), undefined)
      assert.equal(await store.findByName(ALICE, 'twice.vcf'), undefined)
      assert.deepEqual(await store.changePosition(ALICE), { latest: 1, forgottenThrough: 0 })
    })

    test('when an entry is updated without options, then its card data stays as it was', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      const updated = await store.update(ALICE, 'a', anEntry({ full_name: 'Edited in the JSON API' }))

      assert.ok(updated)
      assert.deepEqual(updated.card, aCard())
      assert.deepEqual(await store.get(ALICE, 'a'), updated)
      assert.deepEqual(await store.findByName(ALICE, aCard().name ?? ''), updated)
      assert.equal(updated.version, 2)
    })

    test('when an entry without card data is updated without options, then it still has none', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry())

      const updated = await store.update(ALICE, 'a', anEntry({ full_name: 'Edited' }), [1], {})

      assert.ok(updated)
      assert.equal('card' in updated, false)
      assert.equal('card' in ((await store.get(ALICE, 'a')) ?? {}), false)
    })

    test('when an entry is updated with card data, then it replaces the old one whole, and the old name finds nothing', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      const updated = await store.update(ALICE, 'a', anEntry(), undefined, { card: { name: 'renamed.vcf', kept: 'NOTE:new\r\n' } })

      assert.deepEqual(updated?.card, { name: 'renamed.vcf', kept: 'NOTE:new\r\n' })
      assert.deepEqual((await store.get(ALICE, 'a'))?.card, { name: 'renamed.vcf', kept: 'NOTE:new\r\n' })
      assert.equal(await store.findByName(ALICE, aCard().name ?? ''), undefined)
      assert.deepEqual(await store.findByName(ALICE, 'renamed.vcf'), updated)
    })

    test('when an entry is updated keeping its own name, then the update succeeds', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      const updated = await store.update(ALICE, 'a', anEntry({ full_name: 'Again' }), [1], { card: aCard({ kept: 'NOTE:changed\r\n' }) })

      assert.deepEqual(updated?.card, aCard({ kept: 'NOTE:changed\r\n' }))
      assert.equal((await store.findByName(ALICE, aCard().name ?? ''))?.entry.full_name, 'Again')
    })

    test('when an entry is updated with null, then its card data is gone and its name finds nothing, and can be given to another entry', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard() })

      const updated = await store.update(ALICE, 'a', anEntry(), undefined, { card: null })

      assert.ok(updated)
      assert.equal('card' in updated, false)
      assert.equal('card' in ((await store.get(ALICE, 'a')) ?? {}), false)
      assert.equal(await store.findByName(ALICE, aCard().name ?? ''), undefined)
      await store.create(ALICE, 'b', anEntry(), { card: aCard() })
      assert.equal((await store.findByName(ALICE, aCard().name ?? ''))?.id, 'b')
    })

    test('when an entry is updated to a name another entry holds, then it rejects with EntryExistsError naming the holder, and changes nothing', async (t) => {
      const store = await makeStore(t)
      const holder = await store.create(ALICE, 'holder', anEntry({ full_name: 'Holder' }), { card: aCard({ name: 'held.vcf' }) })
      const other = await store.create(ALICE, 'other', anEntry({ full_name: 'Other' }), { card: aCard({ name: 'other.vcf' }) })

      await assert.rejects(store.update(ALICE, 'other', anEntry({ full_name: 'Changed' }), undefined, { card: aCard({ name: 'held.vcf' }) }), heldBy('holder'))

      assert.deepEqual(await store.get(ALICE, 'other'), other)
      assert.deepEqual(await store.findByName(ALICE, 'held.vcf'), holder)
      assert.deepEqual(await store.findByName(ALICE, 'other.vcf'), other)
      assert.deepEqual(await store.changePosition(ALICE), { latest: 2, forgottenThrough: 0 })
    })

    test('when an update to a taken name is conditional on another version, then it resolves undefined', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'holder', anEntry(), { card: aCard({ name: 'held.vcf' }) })
      await store.create(ALICE, 'other', anEntry())

      assert.equal(await store.update(ALICE, 'other', anEntry(), [7], { card: aCard({ name: 'held.vcf' }) }), undefined)
      assert.equal(await store.update(ALICE, 'missing', anEntry(), undefined, { card: aCard({ name: 'held.vcf' }) }), undefined)
    })

    test('when an entry with a card name is deleted, then changesSince reports the deletion with its name, the name finds nothing and can be given again', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard() })
      await store.create(ALICE, 'plain', anEntry())

      await store.delete(ALICE, 'a')
      await store.delete(ALICE, 'plain')

      assert.deepEqual((await store.changesSince(ALICE, 2, 10)).changes, [
        { seq: 3, id: 'a', kind: 'deleted', name: aCard().name },
        { seq: 4, id: 'plain', kind: 'deleted' },
      ])
      assert.equal(await store.findByName(ALICE, aCard().name ?? ''), undefined)
      const again = await store.create(ALICE, 'b', anEntry(), { card: aCard() })
      assert.deepEqual(await store.findByName(ALICE, aCard().name ?? ''), again)
    })

    test('when an entry is deleted after its card name was changed, then its deletion carries the name it had last', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard({ name: 'first.vcf' }) })
      await store.update(ALICE, 'a', anEntry(), undefined, { card: aCard({ name: 'last.vcf' }) })

      await store.delete(ALICE, 'a')

      assert.deepEqual((await store.changesSince(ALICE, 0, 10)).changes, [{ seq: 3, id: 'a', kind: 'deleted', name: 'last.vcf' }])
    })

    test('when changesSince reports created and updated entries, then their stored entries carry their card data', async (t) => {
      const store = await makeStore(t)
      await store.create(ALICE, 'a', anEntry(), { card: aCard({ name: 'a.vcf' }) })
      await store.create(ALICE, 'b', anEntry(), { card: aCard({ name: 'b.vcf' }) })
      await store.update(ALICE, 'a', anEntry({ full_name: 'A2' }))

      const { changes } = await store.changesSince(ALICE, 0, 10)

      assert.deepEqual(
        changes.map((change) => [change.id, change.kind, change.stored?.card?.name]),
        [
          ['b', 'created', 'b.vcf'],
          ['a', 'created', 'a.vcf'],
        ],
      )
      assert.deepEqual(changes[1]?.stored, await store.get(ALICE, 'a'))
    })

    test('when kept text is 1 MiB of non-ASCII text in CRLF lines, then create, get, list, findByName, changesSince and update return it exactly', async (t) => {
      const store = await makeStore(t)
      const kept = aMebibyteOfKeptText()

      const created = await store.create(ALICE, 'photo', anEntry(), { card: aCard({ kept }) })
      const updated = await store.update(ALICE, 'photo', anEntry({ full_name: 'Edited' }))

      const reads = [
        created,
        updated,
        await store.get(ALICE, 'photo'),
        await store.findByName(ALICE, aCard().name ?? ''),
        ...(await listAll(store, ALICE)),
        ...(await store.changesSince(ALICE, 0, 10)).changes.map((change) => change.stored),
      ]
      assert.equal(reads.length, 6)
      for (const read of reads) assert.ok(read?.card?.kept === kept, 'the kept text changed on its way')
    })

    test('when the card data given to create, or a read of it, is changed, then the stored card data is not', async (t) => {
      const store = await makeStore(t)
      const given: { -readonly [Member in keyof CardData]: CardData[Member] } = { ...aCard() }
      const created = await store.create(ALICE, 'a', anEntry(), { card: given })

      given.kept = 'tampered'
      ;(created.card as { kept?: string }).kept = 'tampered'
      const read = await store.get(ALICE, 'a')
      ;(read?.card as { kept?: string }).kept = 'tampered'

      assert.deepEqual((await store.get(ALICE, 'a'))?.card, aCard())
      assert.deepEqual((await store.findByName(ALICE, aCard().name ?? ''))?.card, aCard())
    })
  })
}
