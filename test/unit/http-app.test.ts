import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { brotliDecompressSync, gunzipSync, gzipSync, deflateSync } from 'node:zlib'
import { ANONYMOUS_PRINCIPAL } from '../../src/domain/principal.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { EntryExistsError, EntryNotFoundError, InvalidEntryError, StoreUnavailableError } from '../../src/domain/errors.js'
import { COMPRESSION_THRESHOLD, requestIdFrom } from '../../src/http/app.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { buildTestApp, type TestAppOptions } from '../helpers/app.js'
import { aFullEntry, aLargeEntry, anEntry } from '../helpers/factories.js'
import { capturingLogger } from '../helpers/logger.js'
import { listenOnLoopback } from '../helpers/raw-socket.js'
import { storedEntries } from '../helpers/stores.js'
import { StubAddressBook } from '../helpers/stub-address-book.js'
import { Registry } from 'prom-client'

const ID = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'
const PROBLEM_MEMBERS = ['code', 'detail', 'instance', 'message', 'method', 'request_id', 'status', 'title', 'type', 'uri']

function appWith(t: TestContext, service = new StubAddressBook(), config: TestAppOptions['config'] = {}) {
  return { service, app: buildTestApp(t, { service, config }) }
}

/** An app over the real service and a memory store: for what the service judges. */
function appWithBook(t: TestContext) {
  const store = new MemoryStore()
  return { store, app: buildTestApp(t, { store }) }
}

async function storedIds(store: MemoryStore): Promise<string[]> {
  return (await storedEntries(store, ANONYMOUS_PRINCIPAL.owner)).map((stored) => stored.id)
}

function problemOf(response: { headers: Record<string, unknown>; body: string }): ProblemBody {
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
  return JSON.parse(response.body) as ProblemBody
}

describe('routes', () => {
  test('when an entry is posted, then 201 with an empty body and its Location', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })

    assert.equal(response.statusCode, 201)
    assert.equal(response.statusMessage, 'Created')
    assert.equal(response.headers.location, `/addresses/${service.createdId}`)
    assert.equal(response.body, '')
    assert.deepEqual(service.calls, [{ method: 'create', args: [anEntry()] }])
  })

  test('when an entry is read, then 200 with the entry exactly as the service returned it', async (t) => {
    const { app, service } = appWith(t, new StubAddressBook({ entry: aFullEntry() }))

    const response = await app.inject({ method: 'GET', url: `/addresses/${ID}` })

    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^application\/json/)
    assert.deepEqual(response.json(), aFullEntry())
    assert.deepEqual(service.calls, [{ method: 'get', args: [ID] }])
  })

  test('when an entry is replaced, then 204 with an empty body', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({ method: 'PUT', url: `/addresses/${ID}`, payload: anEntry({ full_name: 'New' }) })

    assert.equal(response.statusCode, 204)
    assert.equal(response.body, '')
    assert.deepEqual(service.calls, [{ method: 'update', args: [ID, { full_name: 'New' }, { ifMatch: undefined, ifNoneMatch: undefined }] }])
  })

  test('when an entry is deleted, then 204 with an empty body', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({ method: 'DELETE', url: `/addresses/${ID}` })

    assert.equal(response.statusCode, 204)
    assert.equal(response.body, '')
    assert.deepEqual(service.calls, [{ method: 'delete', args: [ID, { ifMatch: undefined, ifNoneMatch: undefined }] }])
  })

  test('when the address book is listed, then 200 with every entry keyed by id', async (t) => {
    const entries = { [ID]: aFullEntry(), '01890a5d4b8e7bd2a0f0c3b1d2e3f406': anEntry() }
    const { app } = appWith(t, new StubAddressBook({ entries }))

    const response = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), entries)
  })

  test('when a path has a trailing slash, then it reaches the same route', async (t) => {
    const { app, service } = appWith(t)

    const list = await app.inject({ method: 'GET', url: '/addresses/' })
    const one = await app.inject({ method: 'GET', url: `/addresses/${ID}/` })
    const created = await app.inject({ method: 'POST', url: '/addresses/', payload: anEntry() })

    assert.deepEqual([list.statusCode, one.statusCode, created.statusCode], [200, 200, 201])
    assert.deepEqual(
      service.calls.map((call) => call.method),
      ['list', 'get', 'create'],
    )
  })

  test('when HEAD asks for an entry, then the headers of GET come without a body', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'HEAD', url: `/addresses/${ID}` })

    assert.equal(response.statusCode, 200)
    assert.equal(response.body, '')
    assert.ok(response.headers.etag)
  })
})

describe('request bodies', () => {
  for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-8']) {
    test(`when a JSON body comes as ${contentType}, then it is read as JSON`, async (t) => {
      const { app, service } = appWith(t)

      const response = await app.inject({
        method: 'POST',
        url: '/addresses',
        headers: { 'content-type': contentType },
        payload: '{"full_name": "Bill Gates"}',
      })

      assert.equal(response.statusCode, 201)
      assert.deepEqual(service.calls[0]?.args, [{ full_name: 'Bill Gates' }])
    })
  }

  for (const method of ['POST', 'PUT', 'PATCH'] as const) {
    test(`when a ${method} body starts with a UTF-8 byte order mark, then the mark is dropped and the JSON read`, async (t) => {
      const { app, service } = appWith(t)
      const url = method === 'POST' ? '/addresses' : `/addresses/${ID}`

      const response = await app.inject({ method, url, payload: '\uFEFF{"full_name":"X"}', headers: { 'content-type': 'application/json' } })

      assert.equal(response.statusCode, method === 'POST' ? 201 : 204)
      assert.deepEqual(service.calls[0]?.args.at(method === 'POST' ? 0 : 1), { full_name: 'X' })
    })
  }

  test('when an NDJSON import starts with a UTF-8 byte order mark, then its first line is read like the others', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({
      method: 'POST',
      url: '/addresses',
      payload: '\uFEFF{"full_name":"A"}\n{"full_name":"B"}\n',
      headers: { 'content-type': 'application/x-ndjson' },
    })

    assert.equal(response.statusCode, 200)
    assert.deepEqual((service.calls[0]?.args[0] as { entry: unknown }[]).map((item) => item.entry), [{ full_name: 'A' }, { full_name: 'B' }])
  })

  test('when a JSON body comes without a content type, then it is read as JSON', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: Buffer.from('{"full_name":"X"}') })

    assert.equal(response.statusCode, 201)
    assert.deepEqual(service.calls[0]?.args, [{ full_name: 'X' }])
  })

  for (const [name, payload] of [
    ['unparseable JSON', '{"full_name": "Bill Gates"'],
    ['an empty body', ''],
    ['JSON whose name is bytes that are not UTF-8', Buffer.concat([Buffer.from('{"full_name":"'), Buffer.from([0xff, 0xfe, 0x20]), Buffer.from('"}')])],
    ['JSON with a lone UTF-8 continuation byte', Buffer.concat([Buffer.from('{"full_name":"A'), Buffer.from([0x80]), Buffer.from('"}')])],
  ] as const) {
    test(`when a POST body is ${name}, then 400 Invalid JSON body and the service is not called`, async (t) => {
      const { app, service } = appWith(t)

      const response = await app.inject({ method: 'POST', url: '/addresses', payload, headers: { 'content-type': 'application/json' } })

      assert.equal(response.statusCode, 400)
      assert.equal(response.statusMessage, 'Invalid JSON body')
      assert.equal(problemOf(response).message, 'Invalid JSON body')
      assert.deepEqual(service.calls, [])
    })
  }

  test('when a PUT has no body at all, then 400 Invalid JSON body', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({ method: 'PUT', url: `/addresses/${ID}` })

    assert.equal(response.statusCode, 400)
    assert.equal(response.statusMessage, 'Invalid JSON body')
    assert.deepEqual(service.calls, [])
  })

  test('when a body is JSON, then it reaches the service as parsed, unjudged: the service is the gate', async (t) => {
    const { app, service } = appWith(t)
    const payload = '{"full_name":"","middle_name":"x"}'

    const put = await app.inject({ method: 'PUT', url: `/addresses/${ID}`, payload, headers: { 'content-type': 'application/json' } })
    const post = await app.inject({ method: 'POST', url: '/addresses', payload, headers: { 'content-type': 'application/json' } })

    assert.deepEqual([put.statusCode, post.statusCode], [204, 201])
    assert.deepEqual(
      service.calls.map((call) => [call.method, call.args[call.method === 'create' ? 0 : 1]]),
      [
        ['update', { full_name: '', middle_name: 'x' }],
        ['create', { full_name: '', middle_name: 'x' }],
      ],
    )
  })

  test('when the service refuses an entry, then 400 lists each failing field it named', async (t) => {
    const errors = [
      { path: '/full_name', message: 'must not be blank' },
      { path: '/middle_name', message: 'is not allowed' },
    ]
    const { app } = appWith(t, new StubAddressBook({ failure: new InvalidEntryError(errors) }))

    const response = await app.inject({ method: 'PUT', url: `/addresses/${ID}`, payload: { full_name: '' } })

    assert.equal(response.statusCode, 400)
    assert.equal(response.statusMessage, 'JSON Schema validation failed')
    const problem = problemOf(response)
    assert.equal(problem.type, 'urn:addrservice:problem:schema-validation-failed')
    assert.equal(problem.message, 'JSON Schema validation failed')
    assert.deepEqual(problem.errors, errors)
  })

  test('when a body breaks the schema, then 400 lists every failing field and nothing is stored', async (t) => {
    const { app, store } = appWithBook(t)
    const payload = { full_name: '', emails: [{ kind: 'mobile', email: 'not-an-email' }], middle_name: 'x' }

    const created = await app.inject({ method: 'POST', url: '/addresses', payload })

    assert.equal(created.statusCode, 400)
    assert.equal(created.statusMessage, 'JSON Schema validation failed')
    const problem = problemOf(created)
    assert.equal(problem.message, 'JSON Schema validation failed')
    assert.deepEqual(
      problem.errors?.map((error) => error.path).sort(),
      ['/emails/0/email', '/emails/0/kind', '/full_name', '/middle_name'],
    )
    assert.deepEqual(await storedIds(store), [])
  })

  test('when a body has eight or more unknown members, then POST, PUT and PATCH refuse it as they do seven, and nothing changes', async (t) => {
    const { app, store } = appWithBook(t)
    const created = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    const item = String(created.headers.location)
    const withUnknown = (count: number) => ({ full_name: '', ...Object.fromEntries(Array.from({ length: count }, (_, index) => [`x${String(index)}`, 1])) })

    for (const count of [7, 8, 9, 50]) {
      for (const [method, url, type] of [
        ['POST', '/addresses', 'application/json'],
        ['PUT', item, 'application/json'],
        ['PATCH', item, 'application/merge-patch+json'],
      ] as const) {
        const response = await app.inject({ method, url, payload: JSON.stringify(withUnknown(count)), headers: { 'content-type': type } })

        assert.equal(response.statusCode, 400, `${method} with ${String(count)} unknown members`)
        assert.ok((problemOf(response).errors?.length ?? 0) > 0, `${method} with ${String(count)} unknown members: errors are named`)
      }
    }
    const stored = await storedEntries(store, ANONYMOUS_PRINCIPAL.owner)
    assert.deepEqual(stored.map(({ version, entry }) => ({ version, entry })), [{ version: 1, entry: anEntry() }])
  })

  for (const [name, email] of [
    ['a NUL', '\\u0000'],
    ['an unpaired surrogate', '\\ud800'],
  ] as const) {
    test(`when an email's quoted local part holds ${name}, then 400 names /emails/0/email and nothing is stored`, async (t) => {
      const { app, store } = appWithBook(t)
      const payload = `{"full_name":"y","emails":[{"kind":"home","email":"\\"${email}\\"@example.com"}]}`

      const response = await app.inject({ method: 'POST', url: '/addresses', payload, headers: { 'content-type': 'application/json' } })

      assert.equal(response.statusCode, 400)
      const problem = problemOf(response)
      assert.equal(problem.type, 'urn:addrservice:problem:schema-validation-failed')
      assert.deepEqual(problem.errors, [{ path: '/emails/0/email', message: 'must not contain NUL characters or unpaired surrogates' }])
      assert.deepEqual(await storedIds(store), [])
    })
  }

  for (const [name, payload] of [
    ['an array', '[{"full_name":"X"}]'],
    ['a string', '"Bill Gates"'],
    ['null', 'null'],
    ['a number', '42'],
  ] as const) {
    test(`when the body is ${name}, then 400 JSON Schema validation failed`, async (t) => {
      const { app, store } = appWithBook(t)

      const response = await app.inject({ method: 'POST', url: '/addresses', payload, headers: { 'content-type': 'application/json' } })

      assert.equal(response.statusMessage, 'JSON Schema validation failed')
      assert.deepEqual(problemOf(response).errors?.[0]?.path, '')
      assert.deepEqual(await storedIds(store), [])
    })
  }

  for (const key of ['__proto__', 'constructor']) {
    test(`when a body has a ${key} key, then 400 names it and nothing is stored`, async (t) => {
      const { app, store } = appWithBook(t)

      const response = await app.inject({
        method: 'POST',
        url: '/addresses',
        payload: `{"full_name":"X","${key}":{"isAdmin":true}}`,
      })

      assert.equal(response.statusCode, 400)
      assert.deepEqual(problemOf(response).errors, [{ path: `/${key}`, message: 'is not allowed' }])
      assert.deepEqual(await storedIds(store), [])
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
    })
  }

  test('when a body is nested thousands of levels deep, then 400 and the server keeps serving', async (t) => {
    const { app, store } = appWithBook(t)
    const deep = `{"full_name":"X","addresses":[${'['.repeat(10_000)}${']'.repeat(10_000)}]}`

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: deep })
    const after = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(response.statusCode, 400)
    assert.equal(after.statusCode, 200)
    assert.deepEqual(await storedIds(store), [])
  })

  test('when a body is over the limit, then 413 and the service is not called', async (t) => {
    const { app, service } = appWith(t, undefined, { server: { bodyLimit: 2048 } })
    const payload = JSON.stringify({ full_name: 'x'.repeat(3000) })

    const response = await app.inject({ method: 'POST', url: '/addresses', payload })

    assert.equal(response.statusCode, 413)
    assert.match(problemOf(response).detail, /2048 bytes/)
    assert.deepEqual(service.calls, [])
  })

  test('when a body is exactly at the 64 KiB default limit, then it is read (and judged by the schema)', async (t) => {
    const { app } = appWithBook(t)
    const frame = '{"full_name":""}'
    const payload = `{"full_name":"${'x'.repeat(64 * 1024 - frame.length)}"}`
    assert.equal(Buffer.byteLength(payload), 64 * 1024)

    const response = await app.inject({ method: 'POST', url: '/addresses', payload })

    assert.equal(response.statusCode, 400)
    assert.deepEqual(problemOf(response).errors?.map((error) => error.path), ['/full_name'])
  })

  for (const [encoding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const) {
    test(`when a body is ${encoding}-compressed, then it is decompressed and read`, async (t) => {
      const { app, service } = appWith(t)

      const response = await app.inject({
        method: 'POST',
        url: '/addresses',
        headers: { 'content-encoding': encoding, 'content-type': 'application/json' },
        payload: compress(JSON.stringify(aFullEntry())),
      })

      assert.equal(response.statusCode, 201)
      assert.deepEqual(service.calls[0]?.args, [aFullEntry()])
    })
  }

  test('when a gzip body is corrupt, then 400 and the service is not called', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({
      method: 'POST',
      url: '/addresses',
      headers: { 'content-encoding': 'gzip' },
      payload: Buffer.from('definitely not gzip'),
    })

    assert.equal(response.statusCode, 400)
    assert.equal(problemOf(response).type, 'urn:addrservice:problem:invalid-compressed-body')
    assert.deepEqual(service.calls, [])
  })

  test('when a compressed body inflates past the limit, then 413', async (t) => {
    const { app, service } = appWith(t)
    const bomb = gzipSync(JSON.stringify({ full_name: 'x'.repeat(10 * 1024 * 1024) }))

    const response = await app.inject({ method: 'POST', url: '/addresses', headers: { 'content-encoding': 'gzip' }, payload: bomb })

    assert.equal(response.statusCode, 413)
    assert.deepEqual(service.calls, [])
  })

  test('when a body has an unsupported content encoding, then 415', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'POST', url: '/addresses', headers: { 'content-encoding': 'zstd' }, payload: '{}' })

    assert.equal(response.statusCode, 415)
    assert.equal(problemOf(response).status, 415)
  })
})

describe('imports', () => {
  test('when a small gzip body holds a million bad lines, then 400 names the first 100 in a small answer, and nothing is stored', async (t) => {
    const { app, store } = appWithBook(t)
    const payload = gzipSync('0\n'.repeat(1_000_000))
    assert.ok(payload.length < 4096, `${String(payload.length)} bytes of gzip`)

    const response = await app.inject({
      method: 'POST',
      url: '/addresses',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      payload,
    })

    assert.equal(response.statusCode, 400)
    const problem = problemOf(response)
    assert.equal(problem.type, 'urn:addrservice:problem:invalid-import')
    assert.equal(problem.errors?.length, 100)
    assert.deepEqual(problem.errors[99], { line: 100, path: '', message: 'must be object' })
    assert.match(problem.detail, /Checking stopped after the first 100 errors/)
    assert.ok(response.body.length < 16_384, `an answer of ${String(response.body.length)} characters`)
    assert.deepEqual(await storedIds(store), [])
  })

  test('when an import is big enough for its answer to be made in slices, then the answer is still one JSON document naming every line once', async (t) => {
    const { app, store } = appWithBook(t)
    const lines = 30_000
    // About 1 MB of NDJSON, within the import limit; sent compressed, as a big upload would be.
    const payload = gzipSync(Array.from({ length: lines }, (_, n) => `{"full_name":"Imported ${String(n)}"}\n`).join(''))

    const response = await app.inject({
      method: 'POST',
      url: '/addresses',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      payload,
    })

    assert.equal(response.statusCode, 200, response.body)
    assert.match(String(response.headers['content-type']), /^application\/json/)
    const { created } = response.json<{ created: { id: string; etag: string; line: number }[] }>()
    assert.equal(created.length, lines)
    assert.deepEqual(created.map((item) => item.line), Array.from({ length: lines }, (_, n) => n + 1))
    assert.equal(new Set(created.map((item) => item.id)).size, lines)
    assert.ok(created.every((item) => item.etag === '"1"'))
    assert.equal((await storedIds(store)).length, lines)
  })

  test('when a vCard import breaks off after good cards, then 400 names where and nothing is stored', async (t) => {
    const { app, store } = appWithBook(t)
    const card = 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\nEND:VCARD\r\n'

    const response = await app.inject({
      method: 'POST',
      url: '/addresses',
      headers: { 'content-type': 'text/vcard' },
      payload: `${card.repeat(3)}BEGIN:VCARD\r\nFN:Unfinished\r\n`,
    })

    assert.equal(response.statusCode, 400)
    assert.deepEqual(problemOf(response).errors, [{ line: 13, path: '', message: 'the card that begins on this line has no END:VCARD' }])
    assert.deepEqual(await storedIds(store), [])
  })
})

describe('error responses', () => {
  test('when the service reports a missing entry, then 404 in problem-details form with the original members', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ failure: new EntryNotFoundError(ID) }))

    const response = await app.inject({ method: 'GET', url: `/addresses/${ID}?x=1`, headers: { 'x-request-id': 'req-42' } })

    assert.equal(response.statusCode, 404)
    assert.equal(response.statusMessage, 'Address entry not found')
    const problem = problemOf(response)
    assert.deepEqual(Object.keys(problem).sort(), PROBLEM_MEMBERS)
    assert.deepEqual(
      { ...problem, detail: undefined },
      {
        type: 'urn:addrservice:problem:entry-not-found',
        title: 'Address entry not found',
        status: 404,
        detail: undefined,
        instance: `/addresses/${ID}`,
        method: 'GET',
        uri: `/addresses/${ID}`,
        code: 404,
        message: 'Address entry not found',
        request_id: 'req-42',
      },
    )
    assert.equal(response.headers['x-request-id'], 'req-42')
    assert.equal(response.headers.etag, undefined)
  })

  test('when the service rejects an entry, then 400 with its field errors', async (t) => {
    const errors = [{ path: '/full_name', message: 'must not be blank' }]
    const { app } = appWith(t, new StubAddressBook({ failure: new InvalidEntryError(errors) }))

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })

    assert.equal(response.statusMessage, 'JSON Schema validation failed')
    assert.deepEqual(problemOf(response).errors, errors)
  })

  test('when the service reports a taken id, then 409', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ failure: new EntryExistsError(ID) }))

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })

    assert.equal(response.statusCode, 409)
    assert.equal(problemOf(response).code, 409)
  })

  test('when the store is unavailable, then 503 with Retry-After and nothing about the cause', async (t) => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.5:5432')
    const { app } = appWith(t, new StubAddressBook({ failure: new StoreUnavailableError({ cause }) }))

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })

    assert.equal(response.statusCode, 503)
    assert.equal(response.statusMessage, 'Service Unavailable')
    assert.equal(response.headers['retry-after'], '2')
    assert.equal(problemOf(response).type, 'urn:addrservice:problem:store-unavailable')
    assert.doesNotMatch(response.body, /ECONNREFUSED|10\.0\.0\.5/)
  })

  const secret = new Error('SQLITE_CORRUPT: SELECT entry FROM address_entries at /srv/addrservice/src/storage.ts:12')

  test('when the service fails unexpectedly, then 500 says nothing of the cause', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ failure: secret }))

    const response = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(response.statusCode, 500)
    assert.equal(response.statusMessage, 'Internal Server Error')
    const problem = problemOf(response)
    assert.equal(problem.trace, undefined)
    assert.doesNotMatch(response.body, /SQLITE|SELECT|address_entries|\/srv|storage\.ts|Error:/)
    assert.deepEqual(Object.keys(problem).sort(), PROBLEM_MEMBERS)
  })

  test('when the service fails unexpectedly in debug mode, then the body carries the stack as trace', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ failure: secret }), { debug: true })

    const response = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(response.statusCode, 500)
    assert.match(problemOf(response).trace ?? '', /SQLITE_CORRUPT[\s\S]*at /)
  })

  test('when a client error happens in debug mode, then it carries a trace too', async (t) => {
    const { app } = appWith(t, undefined, { debug: true })

    const response = await app.inject({ method: 'POST', url: '/addresses', payload: '{', headers: { 'content-type': 'application/json' } })

    assert.equal(typeof problemOf(response).trace, 'string')
  })

  for (const url of ['/', '/nope', '/addresses/a/b', '/address', `/addresses/..%2F..%2Fetc%2Fpasswd`, "/addresses/1'%20OR%20'1'='1"]) {
    test(`when ${url} is requested, then 404 Unknown Endpoint`, async (t) => {
      // With the web app on and built (npm test builds it), / redirects to it: see web-app.test.ts.
      const { app, service } = appWith(t, undefined, { ui: { enabled: false } })

      const response = await app.inject({ method: 'GET', url })

      assert.equal(response.statusCode, 404)
      assert.equal(response.statusMessage, 'Unknown Endpoint')
      assert.equal(problemOf(response).message, 'Unknown Endpoint')
      assert.deepEqual(service.calls, [])
    })
  }

  test('when an id is 5,000 characters long, then a 4xx problem that does not echo it all', async (t) => {
    const { app, service } = appWith(t)

    const response = await app.inject({ method: 'GET', url: `/addresses/${'a'.repeat(5000)}` })

    assert.equal(response.statusCode, 414)
    assert.ok(response.body.length < 3000)
    assert.equal(problemOf(response).status, 414)
    assert.deepEqual(service.calls, [])
  })

  test('when a path is not valid percent-encoding, then 400 in problem form', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'GET', url: '/addresses/%zz' })

    assert.equal(response.statusCode, 400)
    assert.equal(problemOf(response).status, 400)
  })

  for (const [name, url, status] of [
    ['an id longer than 100 characters', `/addresses/${'a'.repeat(101)}`, 414],
    ['a path that is not valid percent-encoding', '/addresses/%zz', 400],
  ] as const) {
    test(`when ${name} is requested, then the ${String(status)} carries Vary, X-Request-ID and the security headers like every response`, async (t) => {
      const { app } = appWith(t)

      const response = await app.inject({ method: 'GET', url, headers: { 'x-request-id': 'odd-url' } })

      assert.equal(response.statusCode, status)
      assert.equal(response.headers.vary, 'accept-encoding')
      assert.equal(response.headers['x-request-id'], 'odd-url')
      assert.equal(response.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'")
      assert.equal(response.headers['x-content-type-options'], 'nosniff')
      assert.equal(problemOf(response).request_id, 'odd-url')
    })
  }

  for (const [url, method, allow] of [
    ['/addresses', 'PATCH', 'GET, HEAD, POST, OPTIONS'],
    ['/addresses', 'DELETE', 'GET, HEAD, POST, OPTIONS'],
    ['/addresses', 'PUT', 'GET, HEAD, POST, OPTIONS'],
    [`/addresses/${ID}`, 'POST', 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS'],
    [`/addresses/${ID}`, 'PROPFIND', 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS'],
  ] as const) {
    test(`when ${method} ${url} is requested, then 405 with Allow: ${allow}`, async (t) => {
      const { app, service } = appWith(t)

      const response = await app.inject({ method: method as 'PATCH', url, payload: anEntry() })

      assert.equal(response.statusCode, 405)
      assert.equal(response.statusMessage, 'Method Not Allowed')
      assert.equal(response.headers.allow, allow)
      assert.equal(problemOf(response).method, method)
      assert.deepEqual(service.calls, [])
    })
  }

  test('when OPTIONS is requested, then 204 with Allow', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'OPTIONS', url: '/addresses' })

    assert.equal(response.statusCode, 204)
    assert.equal(response.headers.allow, 'GET, HEAD, POST, OPTIONS')
  })
})

describe('client addresses', () => {
  test('when proxies are trusted, then the log ip is the X-Forwarded-For client; otherwise the peer', async (t) => {
    const trusting = buildTestApp(t, { config: { server: { trustProxy: '127.0.0.1' } } })
    const wary = buildTestApp(t)
    for (const app of [trusting, wary]) {
      app.get('/whoami', (request) => ({ ip: request.ip }))
    }

    const viaProxy = await trusting.inject({ method: 'GET', url: '/whoami', headers: { 'x-forwarded-for': '203.0.113.9' } })
    const direct = await wary.inject({ method: 'GET', url: '/whoami', headers: { 'x-forwarded-for': '203.0.113.9' } })

    assert.deepEqual(viaProxy.json(), { ip: '203.0.113.9' })
    assert.deepEqual(direct.json(), { ip: '127.0.0.1' })
  })
})

describe('request ids', () => {
  test('when a request brings a sane X-Request-ID, then the response echoes it', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'GET', url: '/addresses', headers: { 'x-request-id': 'abc-123_x.y:z' } })

    assert.equal(response.headers['x-request-id'], 'abc-123_x.y:z')
  })

  for (const [name, header] of [
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'a b'],
    ['with a newline-like character', 'a\u0085b'],
    ['with quotes', '"x"'],
    ['empty', ''],
  ] as const) {
    test(`when X-Request-ID is ${name}, then a fresh UUID replaces it`, () => {
      assert.match(requestIdFrom(header), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    })
  }

  test('when a request has no X-Request-ID, then each response gets a different one', async (t) => {
    const { app } = appWith(t)

    const first = await app.inject({ method: 'GET', url: '/addresses' })
    const second = await app.inject({ method: 'GET', url: '/nope' })

    assert.ok(first.headers['x-request-id'])
    assert.notEqual(first.headers['x-request-id'], second.headers['x-request-id'])
    assert.equal(problemOf(second).request_id, second.headers['x-request-id'])
  })
})

describe('serialization', () => {
  test('when entries with every field are listed, then the serializer knows every format and warns of none', async (t) => {
    const warn = t.mock.method(console, 'warn', () => undefined)
    const log = t.mock.method(console, 'log', () => undefined)
    const { app } = appWith(t, new StubAddressBook({ entries: { [ID]: aFullEntry() } }))

    const response = await app.inject({ method: 'GET', url: '/addresses' })

    assert.deepEqual(response.json(), { [ID]: aFullEntry() })
    assert.equal(warn.mock.callCount() + log.mock.callCount(), 0)
  })
})

describe('conditional requests', () => {
  test('when an entry is read, then its ETag is strong and names its version', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ entry: aFullEntry(), version: 7 }))

    const response = await app.inject({ method: 'GET', url: `/addresses/${ID}` })

    assert.equal(response.headers.etag, '"7"')
  })

  test('when If-None-Match carries the current ETag (compared weakly), then 304 without a body', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ entry: aFullEntry() }))
    const first = await app.inject({ method: 'GET', url: `/addresses/${ID}` })
    const etag = String(first.headers.etag)

    for (const ifNoneMatch of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const response = await app.inject({ method: 'GET', url: `/addresses/${ID}`, headers: { 'if-none-match': ifNoneMatch } })

      assert.equal(response.statusCode, 304, ifNoneMatch)
      assert.equal(response.body, '')
      assert.equal(response.headers.etag, etag)
      assert.equal(response.headers['content-length'], undefined)
    }
  })

  test('when the entry changes, then its ETag changes and the old one no longer matches', async (t) => {
    const service = new StubAddressBook({ entry: anEntry() })
    const { app } = appWith(t, service)
    const before = await app.inject({ method: 'GET', url: `/addresses/${ID}` })
    service.entry = anEntry({ full_name: 'Changed' })
    service.version = 2

    const after = await app.inject({ method: 'GET', url: `/addresses/${ID}`, headers: { 'if-none-match': String(before.headers.etag) } })

    assert.equal(after.statusCode, 200)
    assert.deepEqual([before.headers.etag, after.headers.etag], ['"1"', '"2"'])
  })

  test('when the list is read, then it has an ETag too', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'GET', url: '/addresses' })

    assert.match(String(response.headers.etag), /^W\/"/)
  })
})

describe('response compression', () => {
  test('when a body is under 1 KiB, then it is sent plain even to a client that accepts gzip', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ entry: aFullEntry() }))

    const response = await app.inject({ method: 'GET', url: `/addresses/${ID}`, headers: { 'accept-encoding': 'gzip' } })

    assert.ok(response.body.length < COMPRESSION_THRESHOLD)
    assert.equal(response.headers['content-encoding'], undefined)
    assert.deepEqual(JSON.parse(response.body), aFullEntry())
  })

  test('when the client accepts gzip, then the body is gzipped with Vary: Accept-Encoding', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ entry: aLargeEntry() }))

    const response = await app.inject({ method: 'GET', url: `/addresses/${ID}`, headers: { 'accept-encoding': 'gzip' } })

    assert.equal(response.headers['content-encoding'], 'gzip')
    assert.match(String(response.headers.vary), /accept-encoding/i)
    assert.deepEqual(JSON.parse(gunzipSync(response.rawPayload).toString()), aLargeEntry())
  })

  test('when the client prefers br, then the body is brotli-compressed', async (t) => {
    const { app } = appWith(t, new StubAddressBook({ entry: aLargeEntry() }))

    const response = await app.inject({ method: 'GET', url: `/addresses/${ID}`, headers: { 'accept-encoding': 'br;q=1, gzip;q=0.5' } })

    assert.equal(response.headers['content-encoding'], 'br')
    assert.deepEqual(JSON.parse(brotliDecompressSync(response.rawPayload).toString()), aLargeEntry())
  })

  test('when the client accepts no encoding, then the body is plain and still varies on Accept-Encoding', async (t) => {
    const { app } = appWith(t)

    const response = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(response.headers['content-encoding'], undefined)
    assert.match(String(response.headers.vary), /accept-encoding/i)
  })
})

describe('request logging', () => {
  const cases = [
    { name: 'a success', status: 200, level: 30, failure: undefined, url: '/addresses' },
    { name: 'a client error', status: 404, level: 40, failure: undefined, url: '/nope' },
    { name: 'a server error', status: 500, level: 50, failure: new Error('boom'), url: '/addresses' },
  ]
  for (const { name, status, level, failure, url } of cases) {
    test(`when a request ends in ${name}, then exactly one canonical line at the matching level`, async (t) => {
      const { lines, logger } = capturingLogger()
      const app = buildTestApp(t, { service: new StubAddressBook(failure ? { failure } : {}), logger })

      await app.inject({ method: 'GET', url: `${url}?q=secret`, headers: { 'x-request-id': 'log-me' } })

      const requestLines = lines.filter((line) => line.req_id === 'log-me')
      assert.equal(requestLines.length, 1)
      const [line] = requestLines
      assert.deepEqual(
        { method: line?.method, uri: line?.uri, ip: line?.ip, status: line?.status, level: line?.level },
        { method: 'GET', uri: url, ip: '127.0.0.1', status, level },
      )
      assert.equal(typeof line?.time_ms, 'number')
      if (failure) assert.match(String((line?.err as { stack?: string } | undefined)?.stack), /boom[\s\S]*at /)
      assert.ok(lines.every((entry) => entry.req_id === undefined || entry.req_id === 'log-me'))
    })
  }

  test('when the client closes the connection mid-export, then the request is still logged, with aborted: true and the status sent, and counted', async (t) => {
    // A book whose NDJSON (about 3 MB) is more than the socket buffers hold, so that the export is
    // still being written when the client leaves.
    const store = new MemoryStore()
    await store.createMany('default', Array.from({ length: 10_000 }, (_, index) => ({ id: `entry-${String(index)}`, entry: aFullEntry({ full_name: `Entry ${String(index)}` }) })))
    const { lines, logger } = capturingLogger()
    const metrics = new Registry()
    const app = buildTestApp(t, { store, logger, metrics, serveMetrics: true, conformance: false })
    const port = await listenOnLoopback(app)

    await new Promise<void>((resolve, reject) => {
      const exporting = httpRequest({ port, host: '127.0.0.1', path: '/addresses', headers: { accept: 'application/x-ndjson', 'x-request-id': 'left-early' } }, (response) => {
        response.once('data', () => {
          exporting.destroy()
          resolve()
        })
      })
      exporting.on('error', (error) => {
        if (!exporting.destroyed) reject(error)
      })
      exporting.end()
    })
    let line: Record<string, unknown> | undefined
    for (let waited = 0; !line && waited < 5000; waited += 20) {
      await delay(20)
      line = lines.find((entry) => entry.req_id === 'left-early')
    }

    assert.deepEqual(
      { method: line?.method, uri: line?.uri, status: line?.status, aborted: line?.aborted, owner: line?.owner, msg: line?.msg, level: line?.level },
      { method: 'GET', uri: '/addresses', status: 200, aborted: true, owner: 'default', msg: 'request aborted', level: 30 },
    )
    assert.equal(typeof line?.time_ms, 'number')
    const text = await metrics.metrics()
    assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/addresses",status_code="200"\} 1\n/)
    assert.match(text, /http_requests_aborted_total\{method="GET",route="\/addresses",status_code="200"\} 1\n/)
    assert.match(text, /http_requests_in_flight 0\n/)
  })
})
