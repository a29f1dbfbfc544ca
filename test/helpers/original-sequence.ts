import assert from 'node:assert/strict'
import { aFullEntry, anEntry } from './factories.js'

export interface SimpleResponse {
  status: number
  reason: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** Sends one request with an optional raw body, the way the client under test does it. */
export type Send = (method: string, url: string, body?: string) => Promise<SimpleResponse>

/**
 * The original service's integration test, step by step: list empty, create, bad JSON, schema
 * failure, get, get missing, update, update errors, delete, delete again, list empty. After
 * every failed request the stored data is checked to be unchanged.
 */
export async function runOriginalSequence(send: Send): Promise<void> {
  const addr0 = aFullEntry()
  const addr1 = anEntry({ full_name: 'Bill Gates', emails: [{ kind: 'work', email: 'bill@example.com' }] })
  const listAll = async () => {
    const response = await send('GET', '/addresses/')
    assert.equal(response.status, 200)
    return JSON.parse(response.body) as Record<string, unknown>
  }

  assert.deepEqual(await listAll(), {})

  const created = await send('POST', '/addresses/', JSON.stringify(addr0))
  assert.equal(created.status, 201)
  assert.equal(created.body, '')
  const location = String(created.headers.location)
  assert.match(location, /^\/addresses\/[0-9a-f]{32}$/)
  const id = location.slice('/addresses/'.length)

  const notJson = await send('POST', '/addresses/', 'it is not json')
  assert.equal(notJson.status, 400)
  assert.equal(notJson.reason, 'Invalid JSON body')
  const notValid = await send('POST', '/addresses/', JSON.stringify({}))
  assert.equal(notValid.status, 400)
  assert.equal(notValid.reason, 'JSON Schema validation failed')
  assert.deepEqual(Object.keys(await listAll()), [id])

  const read = await send('GET', location)
  assert.equal(read.status, 200)
  assert.deepEqual(JSON.parse(read.body), addr0)

  const missing = await send('GET', '/addresses/no-such-id')
  assert.equal(missing.status, 404)

  const updated = await send('PUT', location, JSON.stringify(addr1))
  assert.equal(updated.status, 204)
  assert.equal(updated.body, '')
  assert.deepEqual(JSON.parse((await send('GET', location)).body), addr1)

  const badUpdate = await send('PUT', location, 'it is not json')
  assert.equal(badUpdate.status, 400)
  assert.equal(badUpdate.reason, 'Invalid JSON body')
  const invalidUpdate = await send('PUT', location, JSON.stringify({ full_name: 'X', phone_numbers: [{ kind: 'home' }] }))
  assert.equal(invalidUpdate.status, 400)
  assert.equal(invalidUpdate.reason, 'JSON Schema validation failed')
  const missingUpdate = await send('PUT', '/addresses/1234', JSON.stringify(addr1))
  assert.equal(missingUpdate.status, 404)
  assert.deepEqual(await listAll(), { [id]: addr1 })

  const deleted = await send('DELETE', location)
  assert.equal(deleted.status, 204)
  assert.equal((await send('GET', location)).status, 404)
  assert.equal((await send('DELETE', location)).status, 404)

  assert.deepEqual(await listAll(), {})

  const unknown = await send('GET', '/does-not-exist')
  assert.equal(unknown.status, 404)
  assert.equal(unknown.reason, 'Unknown Endpoint')
}
