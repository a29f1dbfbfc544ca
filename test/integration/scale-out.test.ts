import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { anEntry } from '../helpers/factories.js'
import { httpRequest } from '../helpers/http-client.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'
import { startServer } from '../helpers/server-process.js'

describe('two instances over one PostgreSQL database', { skip: POSTGRES_SKIP }, () => {
  const postgres = POSTGRES_SKIP ? undefined : useTestPostgres()

  test('when both serve concurrent writes, then every write is visible through both and the data stays consistent', async (t) => {
    assert.ok(postgres)
    const db = await postgres.freshSchemaUrl(t)
    const [a, b] = await Promise.all([startServer(['--db', db]), startServer(['--db', db])])
    t.after(() => {
      a.child.kill('SIGKILL')
      b.child.kill('SIGKILL')
    })
    assert.notEqual(a.baseUrl, b.baseUrl)
    const send = (base: string, method: string, path: string, body?: unknown) =>
      httpRequest(base, { method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

    // A write through one instance is read back at once through the other.
    const created = await send(a.baseUrl, 'POST', '/addresses', anEntry({ full_name: 'Seen Everywhere' }))
    const location = String(created.headers.location)
    const readThroughB = await send(b.baseUrl, 'GET', location)
    assert.equal(readThroughB.status, 200)
    assert.deepEqual(JSON.parse(readThroughB.body), anEntry({ full_name: 'Seen Everywhere' }))

    // Concurrent creates through both: all succeed, no id collides, both list them all.
    const creates = await Promise.all(
      Array.from({ length: 60 }, (_, index) => send(index % 2 ? a.baseUrl : b.baseUrl, 'POST', '/addresses', anEntry({ full_name: `P${String(index)}` }))),
    )
    assert.deepEqual(new Set(creates.map((response) => response.status)), new Set([201]))
    const ids = new Set(creates.map((response) => String(response.headers.location)))
    assert.equal(ids.size, 60)
    const [listA, listB] = await Promise.all([send(a.baseUrl, 'GET', '/addresses'), send(b.baseUrl, 'GET', '/addresses')])
    assert.equal(Object.keys(JSON.parse(listA.body) as object).length, 61)
    assert.deepEqual(JSON.parse(listA.body), JSON.parse(listB.body))

    // Concurrent replacements of one entry: each is whole, and both instances agree on the last.
    const bodies = Array.from({ length: 30 }, (_, index) => anEntry({ full_name: `Version ${String(index)}`, emails: [{ kind: 'home', email: `v${String(index)}@example.com` }] }))
    const updates = await Promise.all(bodies.map((body, index) => send(index % 2 ? a.baseUrl : b.baseUrl, 'PUT', location, body)))
    assert.deepEqual(new Set(updates.map((response) => response.status)), new Set([204]))
    const [finalA, finalB] = await Promise.all([send(a.baseUrl, 'GET', location), send(b.baseUrl, 'GET', location)])
    assert.deepEqual(JSON.parse(finalA.body), JSON.parse(finalB.body))
    assert.ok(bodies.some((body) => JSON.stringify(body) === JSON.stringify(JSON.parse(finalA.body))), 'the final entry is one of the written ones, not a mix')

    // Concurrent deletes of one entry: exactly one succeeds; updates racing them never resurrect it.
    const victim = String(creates[0]?.headers.location)
    const racing = await Promise.all([
      ...Array.from({ length: 6 }, (_, index) => send(index % 2 ? a.baseUrl : b.baseUrl, 'DELETE', victim)),
      ...Array.from({ length: 6 }, (_, index) => send(index % 2 ? a.baseUrl : b.baseUrl, 'PUT', victim, anEntry())),
    ])
    const deletes = racing.slice(0, 6).map((response) => response.status)
    assert.equal(deletes.filter((status) => status === 204).length, 1)
    assert.equal(deletes.filter((status) => status === 404).length, 5)
    assert.ok(racing.slice(6).every((response) => response.status === 204 || response.status === 404))
    assert.equal((await send(a.baseUrl, 'GET', victim)).status, 404)
    assert.equal((await send(b.baseUrl, 'GET', victim)).status, 404)

    a.child.kill('SIGTERM')
    b.child.kill('SIGTERM')
    assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0])
  })
})
