import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../../src/http/app.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { Store } from '../../src/storage/store.js'
import { buildTestApp, type TestAppOptions } from '../helpers/app.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'
import { durableStores, storedEntries } from '../helpers/stores.js'
import { DEFAULT_OWNER } from '../../src/domain/principal.js'
import { readFileSync } from 'node:fs'
import { parseVCards } from '../../src/formats/vcard.js'

const stores = [{ name: 'memory', make: () => Promise.resolve<Store>(new MemoryStore()), skip: false as const }, ...durableStores()]

const NDJSON = { 'content-type': 'application/x-ndjson' }
const VCARD = { 'content-type': 'text/vcard' }
const fixture = (name: string) => readFileSync(new URL(`../fixtures/vcard/${name}`, import.meta.url), 'utf8')

function problemOf(response: LightMyRequestResponse): ProblemBody {
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
  return JSON.parse(response.body) as ProblemBody
}

const ndjson = (...values: unknown[]) => values.map((value) => JSON.stringify(value)).join('\n') + '\n'

interface ExportLine {
  id: string
  etag: string
  entry: Record<string, unknown>
}

const linesOf = (body: string) =>
  body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ExportLine)

interface Changes {
  changes: { id: string; change: string; etag?: string; entry?: Record<string, unknown> }[]
  next: string
  more?: true
}

async function changesSince(app: App, since?: string, limit?: number): Promise<Changes> {
  const query = new URLSearchParams()
  if (since !== undefined) query.set('since', since)
  if (limit !== undefined) query.set('limit', String(limit))
  const response = await app.inject({ url: `/addresses/changes?${query.toString()}` })
  assert.equal(response.statusCode, 200, response.body)
  return JSON.parse(response.body) as Changes
}

async function created(app: App, entry: unknown = aFullEntry()): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/addresses', payload: entry as object })
  assert.equal(response.statusCode, 201, response.body)
  return String(response.headers.location).slice('/addresses/'.length)
}

for (const { name, make, skip } of stores) {
  describe(`sync and interoperability, on ${name}`, { skip }, () => {
    async function anApp(t: TestContext, config: TestAppOptions['config'] = {}) {
      const store = await make(t)
      return { store, app: buildTestApp(t, { store, config }) }
    }

    describe('NDJSON import', () => {
      test('when every line is an entry, then all are stored in line order and the answer lists their ids and lines', async (t) => {
        const { app, store } = await anApp(t)
        const body = `${JSON.stringify(anEntry({ full_name: 'First' }))}\n\n${JSON.stringify({ id: 'chosen-id-2', ...aFullEntry() })}\r\n`

        const response = await app.inject({ method: 'POST', url: '/addresses', payload: body, headers: NDJSON })

        assert.equal(response.statusCode, 200, response.body)
        const { created: made } = JSON.parse(response.body) as { created: { id: string; etag: string; line: number }[] }
        assert.deepEqual(made.map(({ line, etag }) => [line, etag]), [[1, '"1"'], [3, '"1"']])
        assert.equal(made[1]?.id, 'chosen-id-2')
        const stored = await storedEntries(store, DEFAULT_OWNER)
        assert.deepEqual(stored.map((entry) => entry.id).sort(), made.map((entry) => entry.id).sort())
        assert.deepEqual((await store.get(DEFAULT_OWNER, 'chosen-id-2'))?.entry, aFullEntry())
      })

      test('when some lines are bad, then 400 names each bad line and field, and nothing is stored', async (t) => {
        const { app, store } = await anApp(t)
        const body = ['{"full_name": "Good"}', '{"full_name": ""}', 'not json', '{"full_name": "Also good"}', '{"full_name": "X", "emails": [{"kind": "home"}]}'].join('\n')

        const response = await app.inject({ method: 'POST', url: '/addresses', payload: body, headers: NDJSON })

        assert.equal(response.statusCode, 400)
        const problem = problemOf(response)
        assert.equal(problem.type, 'urn:addrservice:problem:invalid-import')
        assert.deepEqual(problem.errors, [
          { line: 2, path: '/full_name', message: 'must not be blank' },
          { line: 3, path: '', message: 'is not valid JSON' },
          { line: 5, path: '/emails/0/email', message: 'is required' },
        ])
        assert.deepEqual(await storedEntries(store, DEFAULT_OWNER), [])
      })

      test('when a line names an id already in the book, then that line fails and nothing is stored', async (t) => {
        const { app, store } = await anApp(t)
        const existing = await created(app, anEntry())

        const body = ndjson(anEntry({ full_name: 'New' }), { id: existing, full_name: 'Clash' })
        const response = await app.inject({ method: 'POST', url: '/addresses', payload: body, headers: NDJSON })

        assert.equal(response.statusCode, 400)
        assert.deepEqual(problemOf(response).errors, [{ line: 2, path: '/id', message: 'is the id of an entry already in the book' }])
        assert.equal((await storedEntries(store, DEFAULT_OWNER)).length, 1)
      })

      test('when two lines give the same id or an id that cannot be one, then each is named', async (t) => {
        const { app } = await anApp(t)

        const body = ndjson({ id: 'same', full_name: 'A' }, { id: 'same', full_name: 'B' }, { id: 'no spaces', full_name: 'C' }, { id: 'changes', full_name: 'D' })
        const response = await app.inject({ method: 'POST', url: '/addresses', payload: body, headers: NDJSON })

        assert.deepEqual(
          problemOf(response).errors?.map((error) => [error.line, error.path]),
          [
            [2, '/id'],
            [3, '/id'],
            [4, '/id'],
          ],
        )
      })

      test('when the body is larger than import.body-limit, then 413 names that limit', async (t) => {
        const { app } = await anApp(t, { import: { bodyLimit: 2048 } })

        const body = ndjson(...Array.from({ length: 100 }, (_, index) => anEntry({ full_name: `Entry ${String(index)}` })))
        const response = await app.inject({ method: 'POST', url: '/addresses', payload: body, headers: NDJSON })

        assert.equal(response.statusCode, 413)
        assert.match(problemOf(response).detail, /limit of 2048 bytes/)
      })

      test('when an import is larger than the body limit of a single entry, then it is still taken', async (t) => {
        const { app } = await anApp(t, { server: { bodyLimit: 1024 } })

        const body = ndjson(...Array.from({ length: 100 }, (_, index) => anEntry({ full_name: `Entry ${String(index)}` })))
        const response = await app.inject({ method: 'POST', url: '/addresses', payload: body, headers: NDJSON })

        assert.equal(response.statusCode, 200, response.body)
      })
    })

    describe('NDJSON export', () => {
      test('when a client accepts NDJSON, then every entry that passes the filters comes as an id, etag and entry line', async (t) => {
        const { app } = await anApp(t)
        const ids = []
        for (let index = 0; index < 1205; index++) ids.push(await created(app, anEntry({ full_name: `Person ${String(index).padStart(4, '0')}` })))
        const hopper = await created(app, aFullEntry())

        const all = await app.inject({ url: '/addresses', headers: { accept: 'application/x-ndjson' } })
        const some = await app.inject({ url: '/addresses?q=hopper', headers: { accept: 'application/x-ndjson' } })

        assert.equal(all.statusCode, 200)
        assert.match(String(all.headers['content-type']), /^application\/x-ndjson/)
        assert.match(String(all.headers.vary), /accept/i)
        const lines = linesOf(all.body)
        assert.deepEqual(lines.map((line) => line.id), [...ids, hopper])
        assert.deepEqual(lines.at(-1), { id: hopper, etag: '"1"', entry: aFullEntry() })
        assert.deepEqual(linesOf(some.body).map((line) => line.id), [hopper])
      })

      test('when an export is imported into another book, then that book holds the same entries under the same ids', async (t) => {
        const { app } = await anApp(t)
        await created(app, aFullEntry())
        await created(app, anEntry())
        const exported = await app.inject({ url: '/addresses', headers: { accept: 'application/x-ndjson' } })
        const other = (await anApp(t)).app

        const imported = await other.inject({ method: 'POST', url: '/addresses', payload: exported.body, headers: NDJSON })
        const reexported = await other.inject({ url: '/addresses', headers: { accept: 'application/x-ndjson' } })

        assert.equal(imported.statusCode, 200, imported.body)
        assert.deepEqual(linesOf(reexported.body), linesOf(exported.body))
      })

      test('when an export is asked for with paging parameters, then 400 says they are for JSON pages', async (t) => {
        const { app } = await anApp(t)

        const response = await app.inject({ url: '/addresses?limit=5&count=true', headers: { accept: 'application/x-ndjson' } })

        assert.equal(response.statusCode, 400)
        assert.deepEqual(problemOf(response).errors?.map((error) => error.path), ['/limit', '/count'])
      })

      test('when a client prefers JSON or accepts anything, then it gets the JSON page as before', async (t) => {
        const { app } = await anApp(t)
        const id = await created(app)

        for (const accept of ['application/json', '*/*', 'application/x-ndjson;q=0.5, application/json', 'text/html']) {
          const response = await app.inject({ url: '/addresses', headers: { accept } })
          assert.match(String(response.headers['content-type']), /^application\/json/, accept)
          assert.deepEqual(Object.keys(JSON.parse(response.body) as object), [id], accept)
        }
      })
    })

    describe('vCard', () => {
      test('when an Apple export is imported, then its card is stored with its photo and the answer lists what had no place, per card', async (t) => {
        const { app, store } = await anApp(t)
        const text = fixture('apple-ios.vcf')

        const response = await app.inject({ method: 'POST', url: '/addresses', payload: text, headers: VCARD })

        assert.equal(response.statusCode, 200, response.body)
        const { created: made } = JSON.parse(response.body) as { created: { id: string; card: number; unmapped?: { property: string; value: string }[] }[] }
        const cards = parseVCards(text)
        assert.deepEqual(made.map((item) => item.card), cards.map((card) => card.index))
        const first = await store.get(DEFAULT_OWNER, made[0]?.id ?? '')
        assert.deepEqual(first?.entry, cards[0]?.entry)
        assert.ok(first?.photo)
        const properties = made[0]?.unmapped?.map((item) => item.property) ?? []
        assert.ok(properties.includes('X-SOCIALPROFILE') && !properties.includes('PHOTO'), properties.join())
        assert.ok(made[0]?.unmapped?.every((item) => item.value.length <= 201))
      })

      test('when a card is not a valid entry or the text is not vCard, then 400 names the card or line and nothing is stored', async (t) => {
        const { app, store } = await anApp(t)
        const cards = 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Fine\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bad mail\r\nEMAIL:not-an-email\r\nEND:VCARD\r\n'

        const invalid = await app.inject({ method: 'POST', url: '/addresses', payload: cards, headers: VCARD })
        const garbage = await app.inject({ method: 'POST', url: '/addresses', payload: 'hello\nworld\n', headers: VCARD })

        assert.equal(invalid.statusCode, 400)
        assert.deepEqual(problemOf(invalid).errors, [{ card: 2, path: '/emails/0/email', message: 'must be email' }])
        assert.equal(garbage.statusCode, 400)
        assert.equal(problemOf(garbage).errors?.[0]?.line, 1)
        assert.deepEqual(await storedEntries(store, DEFAULT_OWNER), [])
      })

      test('when an entry is read as vCard 4.0 or 3.0, then it has a strong tag of its own that If-Match accepts', async (t) => {
        const { app } = await anApp(t)
        const id = await created(app, aFullEntry())

        const v4 = await app.inject({ url: `/addresses/${id}`, headers: { accept: 'text/vcard' } })
        const v3 = await app.inject({ url: `/addresses/${id}`, headers: { accept: 'text/vcard; version=3.0' } })
        const again = await app.inject({ url: `/addresses/${id}`, headers: { accept: 'text/vcard', 'if-none-match': String(v4.headers.etag) } })
        const write = await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry(), headers: { 'if-match': String(v3.headers.etag) } })

        assert.match(String(v4.headers['content-type']), /^text\/vcard; charset=utf-8; version=4.0/)
        assert.match(v4.body, /^BEGIN:VCARD\r\nVERSION:4.0\r\n/)
        assert.match(v3.body, /\r\nVERSION:3.0\r\n/)
        assert.deepEqual([v4.headers.etag, v3.headers.etag], ['"1-vcard4"', '"1-vcard3"'])
        assert.equal(again.statusCode, 304)
        assert.equal(write.statusCode, 204)
        assert.deepEqual(parseVCards(v4.body)[0], { ...parseVCards(v4.body)[0], id, entry: aFullEntry(), unmapped: [] })
      })

      test('when the book is exported as vCard and imported into another, then every entry comes back the same', async (t) => {
        const { app } = await anApp(t)
        await created(app, aFullEntry())
        await created(app, anEntry({ full_name: 'Ada Lovelace', birthday: '--12-10' }))
        const exported = await app.inject({ url: '/addresses', headers: { accept: 'text/vcard;version=3.0' } })
        const other = (await anApp(t)).app

        const imported = await other.inject({ method: 'POST', url: '/addresses', payload: exported.body, headers: VCARD })
        const original = await app.inject({ url: '/addresses', headers: { accept: 'application/x-ndjson' } })
        const copy = await other.inject({ url: '/addresses', headers: { accept: 'application/x-ndjson' } })

        assert.equal(imported.statusCode, 200, imported.body)
        assert.deepEqual(linesOf(copy.body), linesOf(original.body))
      })
    })

    describe('idempotent creates', () => {
      test('when a create is retried with the same key and body, then the first answer comes again and one entry exists', async (t) => {
        const { app, store } = await anApp(t)
        const request = { method: 'POST' as const, url: '/addresses', payload: aFullEntry(), headers: { 'idempotency-key': 'retry-1' } }

        const first = await app.inject(request)
        const retry = await app.inject(request)

        assert.equal(first.statusCode, 201)
        assert.equal(retry.statusCode, 201)
        assert.equal(retry.headers.location, first.headers.location)
        assert.equal(retry.headers.etag, first.headers.etag)
        assert.equal(retry.headers['idempotent-replayed'], 'true')
        assert.equal(first.headers['idempotent-replayed'], undefined)
        assert.equal((await storedEntries(store, DEFAULT_OWNER)).length, 1)
      })

      test('when the same key comes with another body, then 422 and nothing is created', async (t) => {
        const { app, store } = await anApp(t)
        await app.inject({ method: 'POST', url: '/addresses', payload: anEntry(), headers: { 'idempotency-key': 'k' } })

        const other = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry({ full_name: 'Other' }), headers: { 'idempotency-key': 'k' } })

        assert.equal(other.statusCode, 422)
        assert.equal(problemOf(other).type, 'urn:addrservice:problem:idempotency-key-reused')
        assert.equal((await storedEntries(store, DEFAULT_OWNER)).length, 1)
      })

      test('when a retry comes while the first request still runs, then 409 idempotency-key-in-use', async (t) => {
        const { app, store } = await anApp(t)
        const now = new Date()
        const times = { now: now.toISOString(), leaseUntil: new Date(now.getTime() + 60_000).toISOString(), expiresAt: new Date(now.getTime() + 3_600_000).toISOString() }
        const { createHash } = await import('node:crypto')
        const fingerprint = createHash('sha256').update(JSON.stringify(['create', anEntry()])).digest('base64url')
        // The first request has claimed the key and not written yet.
        assert.equal((await store.claimIdempotencyKey(DEFAULT_OWNER, 'busy', fingerprint, times)).claimed, true)

        const retry = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry(), headers: { 'idempotency-key': 'busy' } })

        assert.equal(retry.statusCode, 409)
        assert.equal(problemOf(retry).type, 'urn:addrservice:problem:idempotency-key-in-use')
        assert.equal((await storedEntries(store, DEFAULT_OWNER)).length, 0)
      })

      test('when the first request was invalid, then a corrected retry with the same key is created', async (t) => {
        const { app, store } = await anApp(t)
        const bad = await app.inject({ method: 'POST', url: '/addresses', payload: { full_name: '' }, headers: { 'idempotency-key': 'fix' } })

        const good = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry(), headers: { 'idempotency-key': 'fix' } })

        assert.equal(bad.statusCode, 400)
        assert.equal(good.statusCode, 201)
        assert.equal((await storedEntries(store, DEFAULT_OWNER)).length, 1)
      })

      test('when an import is retried with its key, then the same list comes again and nothing more is stored', async (t) => {
        const { app, store } = await anApp(t)
        const request = { method: 'POST' as const, url: '/addresses', payload: ndjson(anEntry(), aFullEntry()), headers: { ...NDJSON, 'idempotency-key': 'bulk' } }

        const first = await app.inject(request)
        const retry = await app.inject(request)

        assert.equal(retry.statusCode, 200)
        assert.equal(retry.body, first.body)
        assert.equal(retry.headers['idempotent-replayed'], 'true')
        assert.equal((await storedEntries(store, DEFAULT_OWNER)).length, 2)
      })

      test('when a key is not printable ASCII or too long, then 400 invalid-header', async (t) => {
        const { app } = await anApp(t)

        for (const key of ['has space', 'x'.repeat(256)]) {
          const response = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry(), headers: { 'idempotency-key': key } })
          assert.equal(response.statusCode, 400, key)
          assert.equal(problemOf(response).type, 'urn:addrservice:problem:invalid-header')
        }
      })
    })

    describe('incremental sync', () => {
      test('when there is no token, then no changes and a token for now', async (t) => {
        const { app } = await anApp(t)
        await created(app)

        const first = await changesSince(app)

        assert.deepEqual(first.changes, [])
        assert.equal(first.more, undefined)
        assert.deepEqual((await changesSince(app, first.next)).changes, [])
      })

      test('when entries are created, updated and deleted after a token, then each comes once, oldest first, at its latest change', async (t) => {
        const { app } = await anApp(t)
        const before = await created(app, anEntry({ full_name: 'Before' }))
        const gone = await created(app, anEntry({ full_name: 'Gone' }))
        const { next } = await changesSince(app)
        const fresh = await created(app, anEntry({ full_name: 'Fresh' }))
        await app.inject({ method: 'PUT', url: `/addresses/${before}`, payload: anEntry({ full_name: 'Changed' }) })
        await app.inject({ method: 'DELETE', url: `/addresses/${gone}` })
        await app.inject({ method: 'PUT', url: `/addresses/${fresh}`, payload: anEntry({ full_name: 'Fresh, changed' }) })

        const { changes } = await changesSince(app, next)

        assert.deepEqual(changes, [
          { id: before, change: 'updated', etag: '"2"', entry: anEntry({ full_name: 'Changed' }) },
          { id: gone, change: 'deleted' },
          { id: fresh, change: 'created', etag: '"2"', entry: anEntry({ full_name: 'Fresh, changed' }) },
        ])
      })

      test('when the changes are read a page at a time while writes go on, then none is missed or repeated', async (t) => {
        const { app } = await anApp(t)
        let { next } = await changesSince(app)
        const ids = []
        for (let index = 0; index < 7; index++) ids.push(await created(app, anEntry({ full_name: `P${String(index)}` })))

        const seen: string[] = []
        for (let round = 0; round < 10; round++) {
          const page = await changesSince(app, next, 3)
          seen.push(...page.changes.map((change) => change.id))
          next = page.next
          if (round === 0) ids.push(await created(app, anEntry({ full_name: 'During' })))
          if (!page.more && round > 0) break
        }

        assert.deepEqual(seen, ids)
      })

      test('when a token is malformed or was made for another book, then 400 invalid-sync-token', async (t) => {
        const { app } = await anApp(t)
        const foreign = Buffer.from(JSON.stringify([1, 'someone-else', 0, Date.now()])).toString('base64url')

        for (const since of ['nonsense', foreign]) {
          const response = await app.inject({ url: `/addresses/changes?since=${since}` })
          assert.equal(response.statusCode, 400, since)
          assert.equal(problemOf(response).type, 'urn:addrservice:problem:invalid-sync-token')
        }
      })

      test('when a token is older than sync.retention, then 410 sync-token-expired', async (t) => {
        const { app } = await anApp(t, { sync: { retention: 1 } })
        const { next } = await changesSince(app)
        await new Promise((resolve) => setTimeout(resolve, 5))

        const response = await app.inject({ url: `/addresses/changes?since=${next}` })

        assert.equal(response.statusCode, 410)
        assert.equal(problemOf(response).type, 'urn:addrservice:problem:sync-token-expired')
      })

      test('when the deletions after a token were forgotten, then 410 sync-token-expired', async (t) => {
        const { app, store } = await anApp(t)
        const { next } = await changesSince(app)
        const id = await created(app)
        await app.inject({ method: 'DELETE', url: `/addresses/${id}` })
        await store.forgetDeletionsBefore(new Date(Date.now() + 1000).toISOString())

        const response = await app.inject({ url: `/addresses/changes?since=${next}` })

        assert.equal(response.statusCode, 410)
      })

      test('when a method other than GET, HEAD or OPTIONS reaches /addresses/changes, then 405 with Allow', async (t) => {
        const { app } = await anApp(t)

        const response = await app.inject({ method: 'DELETE', url: '/addresses/changes' })

        assert.equal(response.statusCode, 405)
        assert.equal(response.headers.allow, 'GET, HEAD, OPTIONS')
      })
    })
  })
}
