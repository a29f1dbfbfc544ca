import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import type { App } from '../../src/http/app.js'
import { buildTestApp } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { OWNER_TOKENS as OWNERS } from '../helpers/owners.js'

const as = (token: string) => ({ authorization: `Bearer ${token}` })

async function create(app: App, name: string, labels: string[], token = 'alice-write'): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/addresses', headers: as(token), payload: anEntry({ full_name: name, labels }) })
  assert.equal(response.statusCode, 201, response.body)
  return String(response.headers.location).slice('/addresses/'.length)
}

async function entry(app: App, id: string): Promise<{ entry: AddressEntry; etag: string }> {
  const response = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: as('alice-read') })
  return { entry: JSON.parse(response.body) as AddressEntry, etag: String(response.headers.etag) }
}

async function labels(app: App, token = 'alice-read'): Promise<unknown> {
  const response = await app.inject({ method: 'GET', url: '/labels', headers: as(token) })
  assert.equal(response.statusCode, 200, response.body)
  return (JSON.parse(response.body) as { labels: unknown }).labels
}

async function aBook(t: TestContext): Promise<{ app: App; ada: string; bob: string; cy: string }> {
  const app = buildTestApp(t, { authenticator: OWNERS })
  const ada = await create(app, 'Ada', ['Family', 'Work'])
  const bob = await create(app, 'Bob', ['family', 'Kin'])
  const cy = await create(app, 'Cy', ['Family'])
  await create(app, 'Bo', ['Family', 'Secret'], 'bob-write')
  return { app, ada, bob, cy }
}

describe('labels', () => {
  test("when entries have labels, then GET /labels lists each once whatever its case, spelled as most entries spell it, with its count, and not another owner's", async (t) => {
    const { app } = await aBook(t)

    assert.deepEqual(await labels(app), [
      { name: 'Family', count: 3 },
      { name: 'Kin', count: 1 },
      { name: 'Work', count: 1 },
    ])
    assert.deepEqual(await labels(app, 'bob-write'), [
      { name: 'Family', count: 1 },
      { name: 'Secret', count: 1 },
    ])
  })

  test('when the list is filtered by a label, then only its entries come, in any case, and with q too', async (t) => {
    const { app, ada, bob, cy } = await aBook(t)
    const ids = async (query: string) =>
      Object.keys(JSON.parse((await app.inject({ method: 'GET', url: `/addresses?${query}`, headers: as('alice-read') })).body) as object).sort()

    assert.deepEqual(await ids('label=FAMILY'), [ada, bob, cy].sort())
    assert.deepEqual(await ids('label=family&q=bo'), [bob])
    assert.deepEqual(await ids('q=kin'), [bob])
    assert.deepEqual(await ids('label=Secret'), [])
  })

  test('when a label is renamed, then every entry with it has the new name at a new version, each a change, and one that had both keeps one', async (t) => {
    const { app, ada, bob, cy } = await aBook(t)
    const before = await Promise.all([ada, bob, cy].map((id) => entry(app, id)))
    const token = (JSON.parse((await app.inject({ method: 'GET', url: '/addresses/changes', headers: as('alice-read') })).body) as { next: string }).next

    const renamed = await app.inject({ method: 'PATCH', url: '/labels/FAMILY', headers: as('alice-write'), payload: { name: ' Kin ' } })

    assert.equal(renamed.statusCode, 200, renamed.body)
    assert.deepEqual(JSON.parse(renamed.body), { name: 'Kin', count: 3 })
    const after = await Promise.all([ada, bob, cy].map((id) => entry(app, id)))
    assert.deepEqual(after.map(({ entry: { labels: held } }) => held), [['Kin', 'Work'], ['Kin'], ['Kin']])
    after.forEach(({ etag }, index) => {
      assert.notEqual(etag, before[index]?.etag)
    })
    const changes = JSON.parse((await app.inject({ method: 'GET', url: `/addresses/changes?since=${token}`, headers: as('alice-read') })).body) as { changes: { id: string; change: string }[] }
    assert.deepEqual(changes.changes.map(({ id, change }) => [id, change]).sort(), [ada, bob, cy].sort().map((id) => [id, 'updated']))
    assert.deepEqual(await labels(app), [{ name: 'Kin', count: 3 }, { name: 'Work', count: 1 }])
    assert.deepEqual(await labels(app, 'bob-write'), [{ name: 'Family', count: 1 }, { name: 'Secret', count: 1 }])
  })

  test('when a label is renamed to its own name in another case, then every entry spells it so', async (t) => {
    const { app, bob } = await aBook(t)

    const renamed = await app.inject({ method: 'PATCH', url: '/labels/family', headers: as('alice-write'), payload: { name: 'FAMILY' } })

    assert.equal(renamed.statusCode, 200, renamed.body)
    assert.deepEqual((await entry(app, bob)).entry.labels, ['FAMILY', 'Kin'])
    assert.deepEqual(await labels(app), [{ name: 'FAMILY', count: 3 }, { name: 'Kin', count: 1 }, { name: 'Work', count: 1 }])
  })

  test('when a label is deleted, then every entry loses it and no entry goes', async (t) => {
    const { app, ada, cy } = await aBook(t)

    const deleted = await app.inject({ method: 'DELETE', url: '/labels/Family', headers: as('alice-write') })

    assert.equal(deleted.statusCode, 204)
    assert.deepEqual((await entry(app, ada)).entry.labels, ['Work'])
    assert.equal('labels' in (await entry(app, cy)).entry, false)
    assert.deepEqual(await labels(app), [{ name: 'Kin', count: 1 }, { name: 'Work', count: 1 }])
    assert.equal(Object.keys(JSON.parse((await app.inject({ method: 'GET', url: '/addresses', headers: as('alice-read') })).body) as object).length, 3)
  })

  test("when a label is unknown, another owner's, bad, or the key only reads, then the answer says so and nothing changes", async (t) => {
    const { app, ada } = await aBook(t)
    const before = await entry(app, ada)

    const unknown = await app.inject({ method: 'DELETE', url: '/labels/Nope', headers: as('alice-write') })
    const others = await app.inject({ method: 'PATCH', url: '/labels/Secret', headers: as('alice-write'), payload: { name: 'Mine' } })
    const blank = await app.inject({ method: 'PATCH', url: '/labels/Work', headers: as('alice-write'), payload: { name: '   ' } })
    const long = await app.inject({ method: 'PATCH', url: '/labels/Work', headers: as('alice-write'), payload: { name: 'x'.repeat(101) } })
    const readOnly = await app.inject({ method: 'DELETE', url: '/labels/Work', headers: as('alice-read') })
    const noBody = await app.inject({ method: 'PATCH', url: '/labels/Work', headers: as('alice-write') })

    assert.deepEqual([unknown, others, blank, long, readOnly, noBody].map((response) => response.statusCode), [404, 404, 400, 400, 403, 400])
    assert.equal((JSON.parse(unknown.body) as { type: string }).type, 'urn:addrservice:problem:label-not-found')
    assert.deepEqual((JSON.parse(blank.body) as { errors: unknown }).errors, [{ path: '/name', message: 'must not be blank or hold control characters' }])
    assert.equal((JSON.parse(long.body) as { type: string }).type, 'urn:addrservice:problem:invalid-label')
    assert.deepEqual(await entry(app, ada), before)
  })

  test("when an Apple export with group cards is imported, then each group is a label of its members, and no entry; CATEGORIES add to them", async (t) => {
    const app = buildTestApp(t, { authenticator: OWNERS })
    const vcard = (...lines: string[]) => ['BEGIN:VCARD', 'VERSION:3.0', ...lines, 'END:VCARD'].join('\r\n')
    const text = [
      vcard('UID:AAAA-1', 'FN:Ada Lovelace', 'CATEGORIES:Poets'),
      vcard('UID:BBBB-2', 'FN:Grace Hopper'),
      vcard('UID:not an id 3', 'FN:Alan Turing'),
      vcard('UID:GGGG-9', 'FN:Family', 'X-ADDRESSBOOKSERVER-KIND:group', 'X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:AAAA-1', 'X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:not an id 3'),
      vcard('UID:GGGG-8', 'FN:Work', 'X-ADDRESSBOOKSERVER-KIND:group', 'X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:AAAA-1', 'X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:BBBB-2'),
    ].join('\r\n')

    const imported = await app.inject({ method: 'POST', url: '/addresses', headers: { ...as('alice-write'), 'content-type': 'text/vcard' }, payload: text })
    const book = JSON.parse((await app.inject({ method: 'GET', url: '/addresses?sort=full_name', headers: as('alice-read') })).body) as Record<string, AddressEntry>

    assert.equal(imported.statusCode, 200, imported.body)
    assert.deepEqual((JSON.parse(imported.body) as { created: { card: number }[] }).created.map(({ card }) => card), [1, 2, 3])
    assert.deepEqual(Object.values(book).map(({ full_name, labels: held }) => [full_name, held]), [
      ['Ada Lovelace', ['Poets', 'Family', 'Work']],
      ['Alan Turing', ['Family']],
      ['Grace Hopper', ['Work']],
    ])
  })

  test('when a label is put on several entries and taken off others, then each that changes gets a new version, in one go, and the others are left alone', async (t) => {
    const { app, ada, bob, cy } = await aBook(t)
    const before = await Promise.all([ada, bob, cy].map((id) => entry(app, id)))
    const assign = (name: string, body: unknown, token = 'alice-write') =>
      app.inject({ method: 'POST', url: `/labels/${encodeURIComponent(name)}/entries`, headers: as(token), payload: body as object })

    const added = await assign('Chess Club', { add: [ada, bob] })
    const moved = await assign('family', { add: [ada], remove: [bob, cy] })
    const after = await Promise.all([ada, bob, cy].map((id) => entry(app, id)))

    assert.equal(added.statusCode, 200, added.body)
    assert.deepEqual(JSON.parse(added.body), { name: 'Chess Club', count: 2 })
    assert.deepEqual(JSON.parse(moved.body), { name: 'Family', count: 1 })
    assert.deepEqual(after.map(({ entry: { labels: held } }) => held), [['Family', 'Work', 'Chess Club'], ['Kin', 'Chess Club'], undefined])
    assert.deepEqual(after.map(({ etag }) => etag), ['"2"', '"3"', '"2"'])
    assert.deepEqual(before.map(({ etag }) => etag), ['"1"', '"1"', '"1"'])
  })

  test("when a label assignment names a missing or another owner's entry, an entry twice, or is not lists of ids, then nothing changes", async (t) => {
    const { app, ada } = await aBook(t)
    const bobs = await create(app, 'Bobs Own', [], 'bob-write')
    const assign = (body: unknown, token = 'alice-write') => app.inject({ method: 'POST', url: '/labels/Kin/entries', headers: as(token), payload: body as object })

    const answers = [
      await assign({ add: [ada, '0123456789abcdef0123456789abcdef'] }),
      await assign({ add: [ada, bobs] }),
      await assign({ add: [ada], remove: [ada] }),
      await assign({ add: 'everyone' }),
      await assign({ add: [ada], also: true }),
      await assign({ add: [ada] }, 'alice-read'),
    ]

    assert.deepEqual(answers.map((answer) => answer.statusCode), [404, 404, 400, 400, 400, 403])
    assert.deepEqual(answers.slice(2, 5).map((answer) => (JSON.parse(answer.body) as { type: string }).type), Array(3).fill('urn:addrservice:problem:invalid-label'))
    assert.deepEqual((await entry(app, ada)).entry.labels, ['Family', 'Work'])
    assert.equal((await entry(app, ada)).etag, '"1"')
  })

  test('when OPTIONS or another method is sent, then Allow says what each path takes', async (t) => {
    const app = buildTestApp(t)

    const options = await app.inject({ method: 'OPTIONS', url: '/labels/Family' })
    const put = await app.inject({ method: 'PUT', url: '/labels/Family', payload: {} })

    assert.equal(options.headers.allow, 'PATCH, DELETE, OPTIONS')
    assert.equal(put.statusCode, 405)
    assert.equal(put.headers.allow, 'PATCH, DELETE, OPTIONS')
  })
})
