import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import Database from 'better-sqlite3'
import type { App } from '../../src/http/app.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js'
import type { AddressBookStore } from '../../src/storage/store.js'
import { buildTestApp } from '../helpers/app.js'
import { aLargeEntry, anEntry } from '../helpers/factories.js'
import { httpRequest } from '../helpers/http-client.js'
import { aSqliteStore, storedEntries } from '../helpers/stores.js'
import { runOriginalSequence, type Send, type SimpleResponse } from '../helpers/original-sequence.js'


/** A second connection to the store's file that holds the write lock until released. */
function holdWriteLock(t: TestContext, store: SqliteStore): { release: () => void } {
  const other = new Database(store.path)
  other.exec('BEGIN IMMEDIATE')
  const release = () => {
    if (other.open) other.close()
  }
  t.after(release)
  return { release }
}

const stores = [
  ['memory', () => new MemoryStore()],
  ['sqlite', (t: TestContext): AddressBookStore => aSqliteStore(t)],
] as const

function injectSender(app: App): Send {
  return async (method, url, body) => {
    const response = await app.inject({
      method: method as 'GET',
      url,
      ...(body === undefined ? {} : { payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    })
    return { status: response.statusCode, reason: response.statusMessage, headers: response.headers as SimpleResponse['headers'], body: response.body }
  }
}

async function listen(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  return `http://127.0.0.1:${String(address.port)}`
}

for (const [name, makeStore] of stores) {
  describe(`the original integration sequence on the ${name} store`, () => {
    test('when run through app.inject, then every step answers as the original did', async (t) => {
      const app = buildTestApp(t, { store: makeStore(t) })

      await runOriginalSequence(injectSender(app))
    })

    test('when run over a real socket with curl-style form content types, then every step answers as the original did', async (t) => {
      const app = buildTestApp(t, { store: makeStore(t) })
      const base = await listen(app)

      await runOriginalSequence((method, path, body) =>
        httpRequest(base, {
          method,
          path,
          ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        }),
      )
    })
  })
}

describe('a SQLite file another process keeps locked', () => {
  test('when a POST waits past the busy timeout, then 503 store-unavailable with Retry-After, and nothing is stored', async (t) => {
    const store = aSqliteStore(t, { busyTimeoutMs: 50 })
    const app = buildTestApp(t, { store })
    const lock = holdWriteLock(t, store)

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    lock.release()
    const listed = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(response.statusCode, 503)
    assert.equal(response.headers['retry-after'], '2')
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
    assert.equal((JSON.parse(response.body) as ProblemBody).type, 'urn:addrservice:problem:store-unavailable')
    assert.equal(response.headers.location, undefined)
    assert.deepEqual(JSON.parse(listed.body), {})
  })
})

describe('over a real socket', () => {
  test('when a gzip body is posted and the entry read back with Accept-Encoding: gzip, then both directions are compressed', async (t) => {
    const app = buildTestApp(t, { store: aSqliteStore(t) })
    const base = await listen(app)

    const created = await httpRequest(base, {
      method: 'POST',
      path: '/addresses',
      headers: { 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(aLargeEntry())),
    })
    const read = await httpRequest(base, {
      method: 'GET',
      path: String(created.headers.location),
      headers: { 'accept-encoding': 'gzip, deflate, br;q=0.1' },
    })

    assert.equal(created.status, 201)
    assert.equal(read.headers['content-encoding'], 'gzip')
    assert.match(String(read.headers.vary), /accept-encoding/i)
    assert.deepEqual(JSON.parse(gunzipSync(read.raw).toString()), aLargeEntry())
  })

  test('when a request is not valid HTTP, then 400 in problem form and the connection closes', async (t) => {
    const app = buildTestApp(t)
    const base = new URL(await listen(app))
    const { connect } = await import('node:net')

    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(base.port), base.hostname, () => socket.write('GARBAGE / HTTP/9.9\r\n\r\n'))
      let text = ''
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
      socket.on('end', () => {
        resolve(text)
      })
      socket.on('error', reject)
    })

    assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.match(reply, /content-type: application\/problem\+json/i)
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { status: number; code: number }
    assert.deepEqual([body.status, body.code], [400, 400])
  })

  test('when hostile requests arrive, then each is refused and nothing is stored', async (t) => {
    const store = aSqliteStore(t)
    const app = buildTestApp(t, { store })
    const base = await listen(app)
    const hostile = [
      { method: 'POST', path: '/addresses', body: '{"full_name":"X","__proto__":{"admin":true}}' },
      { method: 'POST', path: '/addresses', body: `{"full_name":"X","addresses":${'['.repeat(5000)}${']'.repeat(5000)}}` },
      { method: 'POST', path: '/addresses', body: JSON.stringify(anEntry({ emails: Array.from({ length: 21 }, () => ({ kind: 'home' as const, email: 'a@example.com' })) })) },
      { method: 'POST', path: '/addresses', body: JSON.stringify({ full_name: 'x'.repeat(70_000) }) },
      { method: 'PUT', path: '/addresses/..%2F..%2Fetc%2Fpasswd', body: JSON.stringify(anEntry()) },
      { method: 'PUT', path: "/addresses/1'%3B%20DROP%20TABLE%20address_entries%3B--", body: JSON.stringify(anEntry()) },
      { method: 'PUT', path: `/addresses/${'a'.repeat(5000)}`, body: JSON.stringify(anEntry()) },
      { method: 'DELETE', path: '/addresses/%00' },
      { method: 'POST', path: '/addresses', body: '{"full_name":"y","emails":[{"kind":"home","email":"\\"\\u0000\\"@example.com"}]}' },
      { method: 'POST', path: '/addresses', body: '{"full_name":"y","emails":[{"kind":"home","email":"\\"\\udc00\\"@example.com"}]}' },
    ]

    for (const request of hostile) {
      const response = await httpRequest(base, request)

      assert.ok(response.status >= 400 && response.status < 500, `${request.method} ${request.path.slice(0, 40)}: ${String(response.status)}`)
      assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
    }
    assert.deepEqual(await storedEntries(store, 'default'), [])
  })
})
