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

const stores = [{ name: 'memory', make: () => Promise.resolve<Store>(new MemoryStore()), skip: false as const }, ...durableStores()]

function problemOf(response: LightMyRequestResponse): ProblemBody {
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
  return JSON.parse(response.body) as ProblemBody
}

async function created(app: App, entry = aFullEntry()): Promise<{ id: string; etag: string }> {
  const response = await app.inject({ method: 'POST', url: '/addresses', payload: entry })
  assert.equal(response.statusCode, 201, response.body)
  return { id: String(response.headers.location).slice('/addresses/'.length), etag: String(response.headers.etag) }
}

const mergePatch = (payload: unknown, headers: Record<string, string> = {}) => ({
  method: 'PATCH' as const,
  payload: JSON.stringify(payload),
  headers: { 'content-type': 'application/merge-patch+json', ...headers },
})

for (const { name, make, skip } of stores) {
  describe(`the API beyond the original, on ${name}`, { skip }, () => {
    async function anApp(t: TestContext, config: TestAppOptions['config'] = {}) {
      const store = await make(t)
      return { store, app: buildTestApp(t, { store, config }) }
    }

    describe('entity tags and conditional requests', () => {
      test('when an entry is created, read and replaced, then each answer carries its version as a strong ETag', async (t) => {
        const { app } = await anApp(t)
        const { id, etag } = await created(app)

        const read = await app.inject({ method: 'GET', url: `/addresses/${id}` })
        const replaced = await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry(), headers: { 'if-match': etag } })
        const reread = await app.inject({ method: 'GET', url: `/addresses/${id}` })

        assert.deepEqual([etag, read.headers.etag, replaced.headers.etag, reread.headers.etag], ['"1"', '"1"', '"2"', '"2"'])
        assert.equal(replaced.statusCode, 204)
      })

      test('when a client writes with an ETag someone else has since replaced, then 412 precondition-failed and the other change stays', async (t) => {
        const { app, store } = await anApp(t)
        const { id, etag } = await created(app)
        await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry({ full_name: 'First writer' }), headers: { 'if-match': etag } })

        const late = [
          await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry({ full_name: 'Lost update' }), headers: { 'if-match': etag } }),
          await app.inject({ url: `/addresses/${id}`, ...mergePatch({ full_name: 'Lost patch' }, { 'if-match': etag }) }),
          await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: { 'if-match': etag } }),
        ]

        for (const response of late) {
          assert.equal(response.statusCode, 412)
          assert.equal(response.statusMessage, 'Precondition Failed')
          assert.equal(problemOf(response).type, 'urn:addrservice:problem:precondition-failed')
        }
        assert.deepEqual((await storedEntries(store, 'default')).map((stored) => [stored.entry.full_name, stored.version]), [['First writer', 2]])
      })

      for (const [ifMatch, status] of [
        ['"1"', 204],
        ['"7", "1"', 204],
        ['*', 204],
        ['W/"1"', 412],
        ['"one"', 412],
        ['"2"', 412],
      ] as const) {
        test(`when If-Match is ${ifMatch} on an entry at version 1, then ${String(status)} (strong comparison)`, async (t) => {
          const { app } = await anApp(t)
          const { id } = await created(app)

          const response = await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry(), headers: { 'if-match': ifMatch } })

          assert.equal(response.statusCode, status)
        })
      }

      test('when If-Match names any version of an entry that does not exist, then 412, not 404', async (t) => {
        const { app } = await anApp(t)

        const response = await app.inject({ method: 'PUT', url: '/addresses/01890a5d4b8e7bd2a0f0c3b1d2e3f405', payload: anEntry(), headers: { 'if-match': '*' } })

        assert.equal(response.statusCode, 412)
      })

      test('when PUT comes with If-None-Match: * for an existing id, then 412 and nothing changes', async (t) => {
        const { app, store } = await anApp(t)
        const { id } = await created(app)

        const response = await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry(), headers: { 'if-none-match': '*' } })

        assert.equal(response.statusCode, 412)
        assert.equal((await storedEntries(store, 'default'))[0]?.version, 1)
      })

      test('when a GET carries the current ETag in If-None-Match, then 304; after a change, 200 with the new one', async (t) => {
        const { app } = await anApp(t)
        const { id, etag } = await created(app)

        const unchanged = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { 'if-none-match': etag } })
        await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry() })
        const changed = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { 'if-none-match': etag } })

        assert.equal(unchanged.statusCode, 304)
        assert.equal(changed.statusCode, 200)
        assert.equal(changed.headers.etag, '"2"')
      })

      test('when writes must be conditional, then PUT, PATCH and DELETE without If-Match answer 428 and change nothing', async (t) => {
        const { app, store } = await anApp(t, { requireIfMatch: true })
        const { id } = await created(app)

        const answers = [
          await app.inject({ method: 'PUT', url: `/addresses/${id}`, payload: anEntry() }),
          await app.inject({ url: `/addresses/${id}`, ...mergePatch({ full_name: 'X' }) }),
          await app.inject({ method: 'DELETE', url: `/addresses/${id}` }),
        ]

        for (const response of answers) {
          assert.equal(response.statusCode, 428)
          assert.equal(problemOf(response).type, 'urn:addrservice:problem:precondition-required')
        }
        assert.equal((await storedEntries(store, 'default'))[0]?.version, 1)
        assert.equal((await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: { 'if-match': '"1"' } })).statusCode, 204)
      })
    })

    describe('PATCH', () => {
      test('when a merge patch arrives, then the merged entry is stored, null removes a field, arrays are replaced whole, and 204 has the new ETag', async (t) => {
        const { app } = await anApp(t)
        const { id } = await created(app)

        const response = await app.inject({
          url: `/addresses/${id}`,
          ...mergePatch({ fax_numbers: null, emails: [{ kind: 'home', email: 'grace@home.example' }] }),
        })
        const read = await app.inject({ method: 'GET', url: `/addresses/${id}` })

        assert.equal(response.statusCode, 204)
        assert.equal(response.headers.etag, '"2"')
        const expected: Partial<ReturnType<typeof aFullEntry>> = { ...aFullEntry(), emails: [{ kind: 'home', email: 'grace@home.example' }] }
        delete expected.fax_numbers
        assert.deepEqual(read.json(), expected)
      })

      test('when the patch comes as application/json, then it is a merge patch too', async (t) => {
        const { app } = await anApp(t)
        const { id } = await created(app)

        const response = await app.inject({ method: 'PATCH', url: `/addresses/${id}`, payload: { full_name: 'G. Hopper' } })

        assert.equal(response.statusCode, 204)
      })

      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/json-patch+json']) {
        test(`when the patch comes as ${contentType}, then 415 unsupported-media-type and nothing changes`, async (t) => {
          const { app, store } = await anApp(t)
          const { id } = await created(app)

          const response = await app.inject({ method: 'PATCH', url: `/addresses/${id}`, payload: '{"full_name":"X"}', headers: { 'content-type': contentType } })

          assert.equal(response.statusCode, 415)
          assert.equal(problemOf(response).type, 'urn:addrservice:problem:unsupported-media-type')
          assert.equal((await storedEntries(store, 'default'))[0]?.version, 1)
        })
      }

      for (const [name, patch, path] of [
        ['removes full_name', { full_name: null }, '/full_name'],
        ['makes a phone invalid', { phone_numbers: [{ kind: 'home' }] }, '/phone_numbers/0/country_code'],
        ['carries a __proto__ member', JSON.parse('{"__proto__": {"isAdmin": true}}') as unknown, '/__proto__'],
      ] as const) {
        test(`when the patch ${name}, then 400 with the field error and nothing stored`, async (t) => {
          const { app, store } = await anApp(t)
          const { id } = await created(app)

          const response = await app.inject({ url: `/addresses/${id}`, ...mergePatch(patch) })

          assert.equal(response.statusCode, 400)
          assert.ok(problemOf(response).errors?.some((error) => error.path === path), response.body)
          assert.equal((await storedEntries(store, 'default'))[0]?.version, 1)
        })
      }

      test('when the patch is not JSON, then 400 invalid-json-body', async (t) => {
        const { app } = await anApp(t)
        const { id } = await created(app)

        const response = await app.inject({ method: 'PATCH', url: `/addresses/${id}`, payload: '{oops', headers: { 'content-type': 'application/merge-patch+json' } })

        assert.equal(problemOf(response).type, 'urn:addrservice:problem:invalid-json-body')
      })
    })

    describe('paging, filters, search and sorting', () => {
      async function aBook(t: TestContext, count: number) {
        const { app, store } = await anApp(t)
        const ids: string[] = []
        for (let index = 0; index < count; index++) ids.push((await created(app, anEntry({ full_name: `Person ${String(index).padStart(3, '0')}` }))).id)
        return { app, store, ids }
      }

      test('when a book of 250 is listed, then 100 come with a Link to the next page, and following the links gives each entry once', async (t) => {
        const { app, ids } = await aBook(t, 250)

        const seen: string[] = []
        let url: string | undefined = '/addresses?count=true'
        const sizes: number[] = []
        while (url !== undefined) {
          const response: LightMyRequestResponse = await app.inject({ method: 'GET', url })
          assert.equal(response.statusCode, 200)
          assert.equal(response.headers['x-total-count'], '250')
          const page = Object.keys(response.json<Record<string, unknown>>())
          sizes.push(page.length)
          seen.push(...page)
          const link = response.headers.link
          url = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(String(link))?.[1]
        }

        assert.deepEqual(sizes, [100, 100, 50])
        assert.deepEqual(seen, ids)
      })

      test('when limit and sort are given, then the page has that size in that order, and the total is absent unless asked', async (t) => {
        const { app, ids } = await aBook(t, 5)

        const response = await app.inject({ method: 'GET', url: '/addresses?limit=2&sort=-created' })

        assert.deepEqual(Object.keys(response.json<Record<string, unknown>>()), [ids[4], ids[3]])
        assert.equal(response.headers['x-total-count'], undefined)
        assert.match(String(response.headers.link), /^<\/addresses\?limit=2&sort=-created&cursor=[A-Za-z0-9_-]+>; rel="next"$/)
      })

      test('when filters and a search are given, then only matching entries, and the next link keeps them', async (t) => {
        const { app } = await anApp(t)
        await created(app, anEntry({ full_name: 'Ada Lovelace', phone_numbers: [{ kind: 'home', country_code: 44, area_code: 20, local_number: 79460000 }] }))
        await created(app, anEntry({ full_name: 'Grace Hopper', emails: [{ kind: 'work', email: 'grace@navy.example' }] }))
        await created(app, anEntry({ full_name: 'Ada Byron' }))

        const byPhone = await app.inject({ method: 'GET', url: `/addresses?phone=${encodeURIComponent('+44 20 7946 0000')}` })
        const byEmail = await app.inject({ method: 'GET', url: '/addresses?email=GRACE@navy.example' })
        const bySearch = await app.inject({ method: 'GET', url: '/addresses?q=ada&sort=-full_name&limit=1' })

        const names = (response: LightMyRequestResponse) => Object.values(response.json<Record<string, { full_name: string }>>()).map((entry) => entry.full_name)
        assert.deepEqual(names(byPhone), ['Ada Lovelace'])
        assert.deepEqual(names(byEmail), ['Grace Hopper'])
        assert.deepEqual(names(bySearch), ['Ada Lovelace'])
        const next = /^<([^>]+)>/.exec(String(bySearch.headers.link))?.[1]
        assert.match(String(next), /q=ada&sort=-full_name&limit=1&cursor=/)
        assert.deepEqual(names(await app.inject({ method: 'GET', url: String(next) })), ['Ada Byron'])
      })

      for (const [query, parameter] of [
        ['limit=0', '/limit'],
        ['limit=1001', '/limit'],
        ['limit=ten', '/limit'],
        ['sort=name', '/sort'],
        ['q=', '/q'],
        [`q=${encodeURIComponent('a\u0001b')}`, '/q'],
        ['count=maybe', '/count'],
        ['cursor=not-a-cursor', '/cursor'],
      ] as const) {
        test(`when the query is ${query}, then 400 invalid-query-parameter naming ${parameter}`, async (t) => {
          const { app } = await anApp(t)

          const response = await app.inject({ method: 'GET', url: `/addresses?${query}` })

          assert.equal(response.statusCode, 400)
          assert.equal(response.statusMessage, 'Invalid query parameter')
          const problem = problemOf(response)
          assert.equal(problem.type, 'urn:addrservice:problem:invalid-query-parameter')
          assert.ok(problem.errors?.some((error) => error.path === parameter), response.body)
        })
      }

      test('when a cursor made for one search is used with another, then 400 naming the cursor', async (t) => {
        const { app } = await aBook(t, 3)
        const first = await app.inject({ method: 'GET', url: '/addresses?q=person&limit=1' })
        const cursor = /cursor=([^&>]+)/.exec(String(first.headers.link))?.[1]

        const response = await app.inject({ method: 'GET', url: `/addresses?q=someone&limit=1&cursor=${String(cursor)}` })

        assert.equal(response.statusCode, 400)
        assert.deepEqual(problemOf(response).errors, [{ path: '/cursor', message: 'was made for other filters or another order' }])
      })
    })
  })
}
