import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { App } from '../../src/http/app.js'
import { HistoryService } from '../../src/service/history-service.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { Clock } from '../../src/storage/store.js'
import { buildTestApp } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { OWNER_TOKENS as OWNERS } from '../helpers/owners.js'

const ALICE = { authorization: 'Bearer alice-write' }
const ALICE_READS = { authorization: 'Bearer alice-read' }
const BOB = { authorization: 'Bearer bob-write' }

interface Version {
  version: number
  etag: string
  changed_at: string
  replaced_at?: string
  source: string
  current: boolean
  deleted: boolean
  entry: { full_name: string; labels?: string[] }
  diff: { op: string; path: string; value?: unknown }[]
}

/** A clock the test moves: the store and the history read the same one. */
function aClock(start = '2026-12-01T10:00:00.000Z') {
  let now = Date.parse(start)
  return {
    clock: (() => new Date(now)) satisfies Clock,
    advance(milliseconds: number) {
      now += milliseconds
    },
  }
}

function aBook(t: TestContext, options: { trash?: string } = {}) {
  const time = aClock()
  const store = new MemoryStore(time.clock)
  const config = options.trash === undefined ? {} : { config: { trash: { retention: options.trash === '0' ? 0 : 30 * 86_400_000, keepVersions: 10 } } }
  const app = buildTestApp(t, { authenticator: OWNERS, store, clock: time.clock, ...config })
  return { app, time }
}

async function create(app: App, entry = anEntry(), headers = ALICE): Promise<string> {
  const created = await app.inject({ method: 'POST', url: '/addresses', headers, payload: entry })
  assert.equal(created.statusCode, 201, created.body)
  return String(created.headers.location).slice('/addresses/'.length)
}

/** A problem+json body, as far as these tests read it. */
interface Problem {
  type: string
  detail: string
  errors: { path: string; message: string }[]
}

const problemOf = (body: string) => JSON.parse(body) as Problem

async function historyOf(app: App, id: string, query = '', headers = ALICE) {
  const response = await app.inject({ method: 'GET', url: `/addresses/${id}/history${query}`, headers })
  return { response, body: JSON.parse(response.body) as { versions: Version[]; next?: string } }
}

describe('history of an entry', () => {
  test('when an entry is created, changed through the API and through an import, then its history lists each version newest first, with what it changed as a JSON Patch', async (t) => {
    const { app, time } = aBook(t)
    const id = await create(app, anEntry({ full_name: 'Ada', labels: ['Family'] }))
    time.advance(60_000)
    await app.inject({ method: 'PATCH', url: `/addresses/${id}`, headers: { ...ALICE, 'content-type': 'application/merge-patch+json' }, payload: { nickname: 'Countess', labels: ['Family', 'Work'] } })
    time.advance(60_000)
    await app.inject({ method: 'PUT', url: `/addresses/${id}`, headers: ALICE, payload: anEntry({ full_name: 'Ada Lovelace' }) })

    const { response, body } = await historyOf(app, id)

    assert.equal(response.statusCode, 200, response.body)
    assert.deepEqual(
      body.versions.map(({ version, etag, source, current, deleted, changed_at, replaced_at }) => [version, etag, source, current, deleted, changed_at, replaced_at]),
      [
        [3, '"3"', 'api', true, false, '2026-12-01T10:02:00.000Z', undefined],
        [2, '"2"', 'api', false, false, '2026-12-01T10:01:00.000Z', '2026-12-01T10:02:00.000Z'],
        [1, '"1"', 'api', false, false, '2026-12-01T10:00:00.000Z', '2026-12-01T10:01:00.000Z'],
      ],
    )
    assert.deepEqual(body.versions[0]?.diff, [
      { op: 'remove', path: '/nickname' },
      { op: 'remove', path: '/labels' },
      { op: 'replace', path: '/full_name', value: 'Ada Lovelace' },
    ])
    assert.deepEqual(body.versions[1]?.diff, [
      { op: 'add', path: '/labels/1', value: 'Work' },
      { op: 'add', path: '/nickname', value: 'Countess' },
    ])
    assert.deepEqual(body.versions[2]?.diff, [
      { op: 'add', path: '/full_name', value: 'Ada' },
      { op: 'add', path: '/labels', value: ['Family'] },
    ])
    assert.deepEqual(body.versions[1].entry, { full_name: 'Ada', labels: ['Family', 'Work'], nickname: 'Countess' })
  })

  test('when entries come through an import, then their first version says so', async (t) => {
    const { app } = aBook(t)
    const imported = await app.inject({ method: 'POST', url: '/addresses', headers: { ...ALICE, 'content-type': 'application/x-ndjson' }, payload: `${JSON.stringify(anEntry())}\n` })
    const [created] = (JSON.parse(imported.body) as { created: { id: string }[] }).created

    const { body } = await historyOf(app, String(created?.id))

    assert.deepEqual(body.versions.map(({ version, source }) => [version, source]), [[1, 'import']])
  })

  test('when a phone writes the card and deletes it over CardDAV, then the history says so, and the trash keeps the card as it was sent', async (t) => {
    const { app } = aBook(t)
    const url = '/dav/addressbooks/alice/contacts/phone-card.vcf'
    const card = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-card-uid\r\nFN:From the phone\r\nX-PHONE-ONLY:kept\r\nEND:VCARD\r\n'
    const put = await app.inject({ method: 'PUT', url, headers: { ...ALICE, 'content-type': 'text/vcard' }, payload: card })
    const [id] = Object.keys(JSON.parse((await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body) as object)
    await app.inject({ method: 'PATCH', url: `/addresses/${String(id)}`, headers: { ...ALICE, 'content-type': 'application/merge-patch+json' }, payload: { nickname: 'Phony' } })
    const deleted = await app.inject({ method: 'DELETE', url, headers: ALICE })

    const { body } = await historyOf(app, String(id))
    const restored = await app.inject({ method: 'POST', url: `/trash/${String(id)}/restore`, headers: ALICE })
    const served = await app.inject({ method: 'GET', url, headers: ALICE })

    assert.deepEqual([put.statusCode, deleted.statusCode, restored.statusCode], [201, 204, 201])
    assert.deepEqual(body.versions.map(({ version, source, deleted: gone }) => [version, source, gone]), [[2, 'api', true], [1, 'carddav', false]])
    assert.match(served.body, /\r\nX-PHONE-ONLY:kept\r\n/)
    assert.match(served.body, /\r\nNICKNAME:Phony\r\n/)
  })

  test('when the history is long, then it comes a page at a time, with a Link to the next, each diff against the version before even across pages', async (t) => {
    const { app } = aBook(t)
    const id = await create(app, anEntry({ full_name: 'v1' }))
    for (let version = 2; version <= 5; version++) await app.inject({ method: 'PUT', url: `/addresses/${id}`, headers: ALICE, payload: anEntry({ full_name: `v${String(version)}` }) })

    const first = await historyOf(app, id, '?limit=2')
    const link = /^<([^>]+)>; rel="next"$/.exec(String(first.response.headers.link))?.[1]
    const second = await app.inject({ method: 'GET', url: String(link), headers: ALICE })
    const secondBody = JSON.parse(second.body) as { versions: Version[]; next?: string }
    const third = await historyOf(app, id, `?limit=2&cursor=${String(secondBody.next)}`)

    assert.deepEqual([first.body, secondBody, third.body].map(({ versions }) => versions.map(({ version }) => version)), [[5, 4], [3, 2], [1]])
    assert.deepEqual(secondBody.versions[1]?.diff, [{ op: 'replace', path: '/full_name', value: 'v2' }])
    assert.equal(third.body.next, undefined)
    const foreign = await historyOf(app, await create(app), `?cursor=${String(secondBody.next)}`)
    assert.equal(foreign.response.statusCode, 400)
  })

  test("when another owner's entry or a missing one is asked for, then the answer is the same 404", async (t) => {
    const { app } = aBook(t)
    const id = await create(app)

    const bob = await historyOf(app, id, '', BOB)
    const missing = await historyOf(app, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')

    assert.deepEqual([bob.response.statusCode, missing.response.statusCode], [404, 404])
    assert.equal(problemOf(bob.response.body).type, 'urn:addrservice:problem:entry-not-found')
  })

  test('when an earlier version is restored, then it is the new version, with If-Match kept, and a read-only key cannot', async (t) => {
    const { app } = aBook(t)
    const id = await create(app, anEntry({ full_name: 'Good' }))
    await app.inject({ method: 'PUT', url: `/addresses/${id}`, headers: ALICE, payload: anEntry({ full_name: 'Bad' }) })

    const stale = await app.inject({ method: 'POST', url: `/addresses/${id}/history/1/restore`, headers: { ...ALICE, 'if-match': '"1"' } })
    const readOnly = await app.inject({ method: 'POST', url: `/addresses/${id}/history/1/restore`, headers: ALICE_READS })
    const missing = await app.inject({ method: 'POST', url: `/addresses/${id}/history/9/restore`, headers: ALICE })
    const restored = await app.inject({ method: 'POST', url: `/addresses/${id}/history/1/restore`, headers: { ...ALICE, 'if-match': '"2"' } })
    const read = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: ALICE })
    const { body } = await historyOf(app, id)

    assert.deepEqual([stale.statusCode, readOnly.statusCode, missing.statusCode], [412, 403, 404])
    assert.equal(restored.statusCode, 200, restored.body)
    assert.equal(restored.headers.etag, '"3"')
    assert.deepEqual(JSON.parse(restored.body), anEntry({ full_name: 'Good' }))
    assert.equal((JSON.parse(read.body) as { full_name: string }).full_name, 'Good')
    assert.deepEqual(body.versions.map(({ version, source }) => [version, source]), [[3, 'restore'], [2, 'api'], [1, 'api']])
  })
})

describe('history and trash, odd requests', () => {
  test('when the current version is restored, then nothing changes; an id that cannot be one is simply not found', async (t) => {
    const { app } = aBook(t)
    const id = await create(app)
    await app.inject({ method: 'PUT', url: `/addresses/${id}`, headers: ALICE, payload: anEntry({ full_name: 'Two' }) })

    const current = await app.inject({ method: 'POST', url: `/addresses/${id}/history/2/restore`, headers: { ...ALICE, 'if-match': '"2"' } })
    const odd = await Promise.all([
      app.inject({ method: 'GET', url: '/addresses/not-an-id/history', headers: ALICE }),
      app.inject({ method: 'POST', url: '/addresses/not-an-id/history/1/restore', headers: ALICE }),
      app.inject({ method: 'POST', url: '/trash/not-an-id/restore', headers: ALICE }),
      app.inject({ method: 'DELETE', url: '/trash/not-an-id', headers: ALICE }),
    ])

    assert.equal(current.statusCode, 200, current.body)
    assert.equal(current.headers.etag, '"2"')
    assert.equal((await historyOf(app, id)).body.versions.length, 2)
    assert.deepEqual(odd.map(({ statusCode }) => statusCode), [404, 404, 404, 404])
  })

  test('when a cursor is not one, or was made for another entry or another search, then the answer is 400 naming it', async (t) => {
    const { app } = aBook(t)
    const ids = [await create(app), await create(app), await create(app)]
    for (const id of ids) await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: ALICE })
    const page = JSON.parse((await app.inject({ method: 'GET', url: '/trash?limit=1&q=ada', headers: ALICE })).body) as { next: string }

    const answers = await Promise.all([
      app.inject({ method: 'GET', url: `/trash?limit=1&cursor=${page.next}`, headers: ALICE }),
      app.inject({ method: 'GET', url: '/trash?cursor=bm90LWEtY3Vyc29y', headers: ALICE }),
      app.inject({ method: 'GET', url: `/addresses/${String(ids[0])}/history?cursor=bm90LWEtY3Vyc29y`, headers: ALICE }),
      app.inject({ method: 'GET', url: `/addresses/${String(ids[0])}/history?cursor=${page.next}`, headers: ALICE }),
    ])

    assert.deepEqual(answers.map(({ statusCode }) => statusCode), [400, 400, 400, 400])
    assert.deepEqual(answers.map(({ body }) => problemOf(body).errors.map(({ path }) => path)), [['/cursor'], ['/cursor'], ['/cursor'], ['/cursor']])
    assert.deepEqual(answers.map(({ body }) => problemOf(body).errors[0]?.message), ['was made for another search', 'is malformed', 'is malformed', 'is malformed'])
  })
})

describe('trash', () => {
  test('when an entry is deleted, then the trash lists it, searchable, and restoring it brings it back under its id; the change feed sees it created', async (t) => {
    const { app, time } = aBook(t)
    const ada = await create(app, anEntry({ full_name: 'Ada Lovelace' }))
    const grace = await create(app, anEntry({ full_name: 'Grace Hopper' }))
    const token = (JSON.parse((await app.inject({ method: 'GET', url: '/addresses/changes', headers: ALICE })).body) as { next: string }).next
    time.advance(1000)
    await app.inject({ method: 'DELETE', url: `/addresses/${ada}`, headers: ALICE })
    time.advance(1000)
    await app.inject({ method: 'DELETE', url: `/addresses/${grace}`, headers: ALICE })

    const all = await app.inject({ method: 'GET', url: '/trash', headers: ALICE_READS })
    const found = await app.inject({ method: 'GET', url: '/trash?q=LOVE', headers: ALICE })
    const bobs = await app.inject({ method: 'GET', url: '/trash', headers: BOB })
    const restored = await app.inject({ method: 'POST', url: `/trash/${ada}/restore`, headers: ALICE })
    const changes = JSON.parse((await app.inject({ method: 'GET', url: `/addresses/changes?since=${token}`, headers: ALICE })).body) as { changes: { id: string; change: string }[] }
    const after = await app.inject({ method: 'GET', url: '/trash', headers: ALICE })

    const listed = JSON.parse(all.body) as { entries: { id: string; etag: string; deleted_at: string; entry: { full_name: string } }[] }
    assert.deepEqual(listed.entries.map(({ id, etag, deleted_at }) => [id, etag, deleted_at]), [[grace, '"1"', '2026-12-01T10:00:02.000Z'], [ada, '"1"', '2026-12-01T10:00:01.000Z']])
    assert.deepEqual((JSON.parse(found.body) as typeof listed).entries.map(({ id }) => id), [ada])
    assert.deepEqual(JSON.parse(bobs.body), { entries: [] })
    assert.equal(restored.statusCode, 201, restored.body)
    assert.equal(restored.headers.location, `/addresses/${ada}`)
    assert.equal(restored.headers.etag, '"2"')
    assert.deepEqual(JSON.parse(restored.body), anEntry({ full_name: 'Ada Lovelace' }))
    assert.deepEqual(changes.changes.map(({ id, change }) => [id, change]), [[grace, 'deleted'], [ada, 'created']])
    assert.deepEqual((JSON.parse(after.body) as typeof listed).entries.map(({ id }) => id), [grace])
  })

  test('when the trash is paged, then a Link leads to the rest', async (t) => {
    const { app, time } = aBook(t)
    for (let index = 0; index < 3; index++) {
      const id = await create(app, anEntry({ full_name: `Person ${String(index)}` }))
      time.advance(1000)
      await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: ALICE })
    }

    const first = await app.inject({ method: 'GET', url: '/trash?limit=2', headers: ALICE })
    const link = /^<([^>]+)>; rel="next"$/.exec(String(first.headers.link))?.[1]
    const second = await app.inject({ method: 'GET', url: String(link), headers: ALICE })

    const names = (body: string) => (JSON.parse(body) as { entries: { entry: { full_name: string } }[] }).entries.map(({ entry }) => entry.full_name)
    assert.deepEqual([names(first.body), names(second.body)], [['Person 2', 'Person 1'], ['Person 0']])
    assert.equal(second.headers.link, undefined)
  })

  test('when the id was taken meanwhile, then restoring is 409 and the entry stays in the trash', async (t) => {
    const { app } = aBook(t)
    const id = await create(app)
    await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: ALICE })
    const line = JSON.stringify({ id, entry: anEntry({ full_name: 'Someone else' }) })
    const imported = await app.inject({ method: 'POST', url: '/addresses', headers: { ...ALICE, 'content-type': 'application/x-ndjson' }, payload: `${line}\n` })

    const restored = await app.inject({ method: 'POST', url: `/trash/${id}/restore`, headers: ALICE })

    assert.equal(imported.statusCode, 200, imported.body)
    assert.equal(restored.statusCode, 409)
    assert.equal(problemOf(restored.body).type, 'urn:addrservice:problem:entry-exists')
  })

  test('when an entry is deleted for good, or the whole trash is emptied, then it cannot come back; a read-only key, and another owner, cannot', async (t) => {
    const { app } = aBook(t)
    const ids = [await create(app), await create(app), await create(app)]
    for (const id of ids) await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: ALICE })

    const readOnly = await app.inject({ method: 'DELETE', url: `/trash/${String(ids[0])}`, headers: ALICE_READS })
    const bob = await app.inject({ method: 'DELETE', url: `/trash/${String(ids[0])}`, headers: BOB })
    const one = await app.inject({ method: 'DELETE', url: `/trash/${String(ids[0])}`, headers: ALICE })
    const again = await app.inject({ method: 'DELETE', url: `/trash/${String(ids[0])}`, headers: ALICE })
    const emptyReadOnly = await app.inject({ method: 'DELETE', url: '/trash', headers: ALICE_READS })
    const emptied = await app.inject({ method: 'DELETE', url: '/trash', headers: ALICE })
    const restore = await app.inject({ method: 'POST', url: `/trash/${String(ids[1])}/restore`, headers: ALICE })

    assert.deepEqual([readOnly.statusCode, bob.statusCode, one.statusCode, again.statusCode, emptyReadOnly.statusCode], [403, 404, 204, 404, 403])
    assert.equal(emptied.statusCode, 200)
    assert.deepEqual(JSON.parse(emptied.body), { deleted: 2 })
    assert.equal(restore.statusCode, 404)
    assert.equal((await historyOf(app, String(ids[1]))).response.statusCode, 404)
  })

  test('when trash.retention is 0, then a deletion is for good at once, and no book can be put back', async (t) => {
    const { app } = aBook(t, { trash: '0' })
    const id = await create(app)
    await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: ALICE })

    const trash = await app.inject({ method: 'GET', url: '/trash', headers: ALICE })
    const restore = await app.inject({ method: 'POST', url: `/trash/${id}/restore`, headers: ALICE })
    const history = await historyOf(app, id)
    const book = await app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE, payload: { at: '10m' } })

    assert.deepEqual(JSON.parse(trash.body), { entries: [] })
    assert.deepEqual([restore.statusCode, history.response.statusCode, book.statusCode], [404, 404, 400])
    assert.match(problemOf(book.body).detail, /trash\.retention is 0/)
  })
})

describe('putting a book back', () => {
  test('when a book is put back to 10 minutes ago, then a preview tells what it will do, and the restore does it; it can itself be undone', async (t) => {
    const { app, time } = aBook(t)
    const kept = await create(app, anEntry({ full_name: 'Kept' }))
    const changed = await create(app, anEntry({ full_name: 'Changed' }))
    const deleted = await create(app, anEntry({ full_name: 'Deleted' }))
    const before = (await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body
    time.advance(15 * 60_000)
    await app.inject({ method: 'PUT', url: `/addresses/${changed}`, headers: ALICE, payload: anEntry({ full_name: 'Changed badly' }) })
    await app.inject({ method: 'DELETE', url: `/addresses/${deleted}`, headers: ALICE })
    const added = await create(app, anEntry({ full_name: 'Added' }))
    const damaged = (await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body
    time.advance(60_000)

    const preview = await app.inject({ method: 'POST', url: '/addresses/restore?preview=true', headers: ALICE, payload: { at: '10m' } })
    const unchanged = (await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body
    const readOnly = await app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE_READS, payload: { at: '10m' } })
    const done = await app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE, payload: { at: '10m' } })
    const restored = (await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body
    time.advance(60_000)
    const undo = await app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE, payload: { at: '2026-12-01T10:15:30.000Z' } })
    const undone = (await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body

    const expected = { at: '2026-12-01T10:06:00.000Z', restored: [changed], trashed: [added], recreated: [deleted], cards: { restored: [], trashed: [], recreated: [] } }
    assert.equal(preview.statusCode, 200, preview.body)
    assert.deepEqual(JSON.parse(preview.body), { ...expected, preview: true })
    assert.equal(unchanged, damaged)
    assert.equal(readOnly.statusCode, 403)
    assert.deepEqual(JSON.parse(done.body), { ...expected, preview: false })
    assert.deepEqual(JSON.parse(restored), JSON.parse(before))
    assert.equal(undo.statusCode, 200, undo.body)
    assert.deepEqual(JSON.parse(undone), JSON.parse(damaged))
    assert.ok(kept)
  })

  test("when a phone deleted the book's group cards too, then the restore brings them back with the entries", async (t) => {
    const { app, time } = aBook(t)
    const book = '/dav/addressbooks/alice/contacts/'
    const member = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:member-1\r\nFN:Member\r\nEND:VCARD\r\n'
    const group = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:group-1\r\nFN:Friends\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:member-1\r\nEND:VCARD\r\n'
    for (const [name, card] of [['member.vcf', member], ['group.vcf', group]] as const) {
      const put = await app.inject({ method: 'PUT', url: `${book}${name}`, headers: { ...ALICE, 'content-type': 'text/vcard' }, payload: card })
      assert.equal(put.statusCode, 201, put.body)
    }
    time.advance(15 * 60_000)
    for (const name of ['member.vcf', 'group.vcf']) await app.inject({ method: 'DELETE', url: `${book}${name}`, headers: ALICE })
    time.advance(60_000)

    const done = await app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE, payload: { at: '10m' } })
    const served = await app.inject({ method: 'GET', url: `${book}group.vcf`, headers: ALICE })

    const result = JSON.parse(done.body) as { recreated: string[]; cards: { recreated: string[] } }
    assert.deepEqual([result.recreated.length, result.cards.recreated.length], [1, 1])
    assert.equal(served.statusCode, 200)
    // Written anew at its new version, with every property the phone sent.
    for (const line of group.split('\r\n').slice(2, -2)) assert.ok(served.body.includes(`\r\n${line}\r\n`), line)
  })

  test('when the time is in the future, before the history kept, or not a time, then the answer is 400 naming the window, and nothing changes', async (t) => {
    const { app } = aBook(t)
    await create(app)

    const answers = await Promise.all(
      ['2026-12-01T10:05:00.000Z', '2026-10-01T00:00:00.000Z', 'last tuesday'].map((at) => app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE, payload: { at } })),
    )

    for (const answer of answers) {
      assert.equal(answer.statusCode, 400)
      const problem = problemOf(answer.body)
      assert.equal(problem.type, 'urn:addrservice:problem:invalid-restore-time')
      assert.match(problem.detail, /between 2026-11-01T10:00:00\.000Z and 2026-12-01T10:00:00\.000Z/)
      assert.deepEqual(problem.errors.map(({ path }) => path), ['/at'])
    }
    assert.equal(Object.keys(JSON.parse((await app.inject({ method: 'GET', url: '/addresses', headers: ALICE })).body) as object).length, 1)
  })

  test("when one owner puts their book back, then another owner's book is untouched", async (t) => {
    const { app, time } = aBook(t)
    time.advance(60 * 60_000)
    const bobs = await create(app, anEntry({ full_name: "Bob's" }), BOB)
    await create(app, anEntry({ full_name: "Alice's" }))

    const done = await app.inject({ method: 'POST', url: '/addresses/restore', headers: ALICE, payload: { at: '1h' } })

    assert.equal((JSON.parse(done.body) as { trashed: string[] }).trashed.length, 1)
    assert.equal((await app.inject({ method: 'GET', url: `/addresses/${bobs}`, headers: BOB })).statusCode, 200)
  })
})

describe('housekeeping', () => {
  test('when the retention has passed, then the trash and old versions are forgotten, but the latest versions of each entry stay', async () => {
    const time = aClock()
    const store = new MemoryStore(time.clock)
    const history = new HistoryService(store, { retentionMs: 30 * 86_400_000, keepVersions: 1, clock: time.clock })
    await store.create('alice', 'kept', anEntry({ full_name: 'v1' }))
    await store.update('alice', 'kept', anEntry({ full_name: 'v2' }))
    await store.update('alice', 'kept', anEntry({ full_name: 'v3' }))
    await store.create('alice', 'gone', anEntry())
    await store.delete('alice', 'gone')
    time.advance(29 * 86_400_000)
    const early = await history.forgetExpired()
    time.advance(2 * 86_400_000)

    const forgotten = await history.forgetExpired()

    assert.equal(early, 0)
    assert.equal(forgotten, 2)
    assert.deepEqual((await store.history('alice', 'kept', 10)).map(({ version }) => version), [3, 2])
    assert.deepEqual(await store.listTrash('alice', { limit: 10 }), [])
  })
})
