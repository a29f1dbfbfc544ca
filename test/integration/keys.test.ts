import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator, jwtAuthenticator } from '../../src/auth/authenticator.js'
import { JwtVerifier } from '../../src/auth/jwt.js'
import { DeviceKeyService } from '../../src/service/device-keys.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { buildTestApp } from '../helpers/app.js'
import { aToken, jwtSettings } from '../helpers/jwt.js'

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const bearer = (token: string) => `Bearer ${token}`

interface WireKey {
  id: string
  key?: string
  label: string | null
  scope: string
  revoked_at: string | null
}

/** An app in api-key mode with a write key for maria, a read key for her, and a key for bob. */
async function world(t: TestContext) {
  const store = new MemoryStore()
  // A millisecond a key: keys are listed oldest first, and two made in one millisecond tie.
  let now = Date.parse('2026-12-01T10:00:00.000Z')
  const keys = new ApiKeys(store, { cacheMs: 0, clock: () => new Date(now++) })
  const maria = (await keys.create('maria', 'write', 'laptop')).key
  const mariaReader = (await keys.create('maria', 'read', null)).key
  const bob = await keys.create('bob', 'write', null)
  const app = buildTestApp(t, { store, authenticator: apiKeyAuthenticator(keys), deviceKeys: new DeviceKeyService(keys) })
  return { app, maria: bearer(maria), mariaReader: bearer(mariaReader), bob: bearer(bob.key), bobKeyId: bob.record.id }
}

describe('device keys', () => {
  test('when maria makes a key for her phone, then it is shown once, works as her CardDAV password, and is listed without its secret', async (t) => {
    const { app, maria } = await world(t)

    const created = await app.inject({ method: 'POST', url: '/keys', headers: { authorization: maria }, payload: { label: "Maria's iPhone" } })
    const made = created.json<WireKey>()
    const dav = await app.inject({ method: 'PROPFIND', url: '/dav/addressbooks/maria/contacts/', headers: { authorization: basic('maria', String(made.key)), depth: '0' } })
    const listed = await app.inject({ method: 'GET', url: '/keys', headers: { authorization: maria } })

    assert.equal(created.statusCode, 201)
    assert.equal(created.headers['cache-control'], 'no-store')
    assert.equal(created.headers.location, `/keys/${made.id}`)
    assert.match(String(made.key), /^addr_[0-9a-f]{16}_/)
    assert.equal(made.scope, 'write')
    assert.equal(dav.statusCode, 207)
    const keys = listed.json<{ keys: WireKey[] }>().keys
    assert.deepEqual(keys.map((key) => key.label), ['laptop', null, "Maria's iPhone"])
    assert.ok(!listed.body.includes(String(made.key).slice(-20)), 'no secret in the list')
  })

  test('when a key is revoked, then it stops working, and another owner\'s key answers as a missing one and stays', async (t) => {
    const { app, maria, bob, bobKeyId } = await world(t)
    const made = (await app.inject({ method: 'POST', url: '/keys', headers: { authorization: maria }, payload: { label: 'old phone' } })).json<WireKey>()

    const revoked = await app.inject({ method: 'DELETE', url: `/keys/${made.id}`, headers: { authorization: maria } })
    const refused = await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bearer(String(made.key)) } })
    const others = await app.inject({ method: 'DELETE', url: `/keys/${bobKeyId}`, headers: { authorization: maria } })
    const missing = await app.inject({ method: 'DELETE', url: '/keys/0123456789abcdef', headers: { authorization: maria } })

    assert.equal(revoked.statusCode, 204)
    assert.equal(refused.statusCode, 401)
    assert.equal(others.statusCode, 404)
    assert.equal(others.json<{ type: string }>().type, missing.json<{ type: string }>().type)
    assert.equal((await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bob } })).statusCode, 200)
  })

  test('when a read-only key asks for a key, then 403; a write key may make a read key', async (t) => {
    const { app, maria, mariaReader } = await world(t)

    const fromReader = await app.inject({ method: 'POST', url: '/keys', headers: { authorization: mariaReader }, payload: { label: 'x', scope: 'read' } })
    const readKey = await app.inject({ method: 'POST', url: '/keys', headers: { authorization: maria }, payload: { label: 'tablet', scope: 'read' } })
    const listedByReader = await app.inject({ method: 'GET', url: '/keys', headers: { authorization: mariaReader } })

    assert.equal(fromReader.statusCode, 403)
    assert.equal(readKey.statusCode, 201)
    assert.equal(readKey.json<WireKey>().scope, 'read')
    assert.equal(listedByReader.statusCode, 200)
  })

  test('when the request for a key is not one, then 400 invalid-key-request naming each member, and no key is made', async (t) => {
    const { app, maria } = await world(t)

    const response = await app.inject({ method: 'POST', url: '/keys', headers: { authorization: maria }, payload: { label: ' ', scope: 'admin', extra: 1 } })
    const after = await app.inject({ method: 'GET', url: '/keys', headers: { authorization: maria } })

    assert.equal(response.statusCode, 400)
    assert.equal(response.json<{ type: string }>().type, 'urn:addrservice:problem:invalid-key-request')
    assert.deepEqual(response.json<{ errors: { path: string }[] }>().errors.map((error) => error.path).sort(), ['/extra', '/label', '/scope'])
    assert.equal(after.json<{ keys: unknown[] }>().keys.length, 2)
  })

  test('when someone signs in with a JWT, then they make a key, and their phone signs in to CardDAV with it as Basic', async (t) => {
    const secret = 'a-secret-of-the-identity-provider-32b'
    const store = new MemoryStore()
    const keys = new ApiKeys(store)
    const app = buildTestApp(t, { store, authenticator: jwtAuthenticator(new JwtVerifier(jwtSettings({ secret })), keys), deviceKeys: new DeviceKeyService(keys) })
    const token = await aToken(new TextEncoder().encode(secret), { sub: 'lena' })

    const made = (await app.inject({ method: 'POST', url: '/keys', headers: { authorization: bearer(token) }, payload: { label: 'Android' } })).json<WireKey>()
    const dav = await app.inject({ method: 'PROPFIND', url: '/dav/addressbooks/lena/contacts/', headers: { authorization: basic('lena', String(made.key)), depth: '0' } })
    const challenge = await app.inject({ method: 'PROPFIND', url: '/dav/addressbooks/lena/contacts/', headers: { depth: '0' } })

    assert.equal(dav.statusCode, 207)
    assert.equal(challenge.statusCode, 401)
    assert.match(String(challenge.headers['www-authenticate']), /Basic/)
  })
})
