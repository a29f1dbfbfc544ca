import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator, jwtAuthenticator } from '../../src/auth/authenticator.js'
import { JwtVerifier } from '../../src/auth/jwt.js'
import type { App } from '../../src/http/app.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import type { Store, StoredEntry } from '../../src/storage/store.js'
import { buildTestApp } from '../helpers/app.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'
import { aJwksServer, aSigningKey, aToken, anUnsignedToken, jwtSettings } from '../helpers/jwt.js'
import { durableStores, storedEntries } from '../helpers/stores.js'

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const bearer = (token: string) => `Bearer ${token}`
const MISSING = 'This request needs credentials in the Authorization header.'
const INVALID = 'The credentials in the Authorization header are not valid.'

/** Every address route, each with a method that reads or writes. */
function everyRoute(id: string) {
  return [
    { method: 'GET', url: '/addresses' },
    { method: 'HEAD', url: '/addresses' },
    { method: 'GET', url: `/addresses/${id}` },
    { method: 'HEAD', url: `/addresses/${id}` },
    { method: 'POST', url: '/addresses', payload: anEntry({ full_name: 'Mallory' }) },
    { method: 'PUT', url: `/addresses/${id}`, payload: anEntry({ full_name: 'Mallory' }) },
    { method: 'PATCH', url: `/addresses/${id}`, payload: { full_name: 'Mallory' } },
    { method: 'DELETE', url: `/addresses/${id}` },
  ] as const
}

async function snapshot(store: Store): Promise<Record<string, StoredEntry[]>> {
  return { alice: await storedEntries(store, 'alice'), bob: await storedEntries(store, 'bob') }
}

function problemOf(response: LightMyRequestResponse): ProblemBody {
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
  return JSON.parse(response.body) as ProblemBody
}

async function create(app: App, authorization: string, entry = aFullEntry()): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/addresses', headers: { authorization }, payload: entry })
  assert.equal(response.statusCode, 201, response.body)
  return String(response.headers.location).slice('/addresses/'.length)
}

/** An app in api-key mode over `store`, with keys for alice (write and read) and bob, and one revoked key. */
async function apiKeyWorld(t: TestContext, store: Store) {
  const keys = new ApiKeys(store)
  const alice = (await keys.create('alice', 'write', 'phone')).key
  const aliceReader = (await keys.create('alice', 'read', null)).key
  const bob = (await keys.create('bob', 'write', null)).key
  const revoked = await keys.create('alice', 'write', null)
  await keys.revoke(revoked.record.id)
  const app = buildTestApp(t, { store, authenticator: apiKeyAuthenticator(keys) })
  const id = await create(app, bearer(alice))
  return { app, keys, alice, aliceReader, bob, revoked: revoked.key, id }
}

/** An app in jwt mode over `store`, trusting a local JWKS with one RSA key. */
async function jwtWorld(t: TestContext, store: Store) {
  const key = await aSigningKey('current')
  const jwks = await aJwksServer(t, [key.publicJwk])
  const verifier = new JwtVerifier(
    jwtSettings({ jwksUrl: jwks.url }),
    { jwksCooldownMs: 0 },
  )
  const app = buildTestApp(t, { store, authenticator: jwtAuthenticator(verifier) })
  const id = await create(app, bearer(await aToken(key)))
  return { app, key, jwks, id }
}

/** Sends the request on every route and asserts each is refused with 401 and that nothing changed. */
async function assertRefusedEverywhere(app: App, store: Store, id: string, authorization: string | undefined, presented: boolean, schemes: string[]) {
  const before = await snapshot(store)
  for (const route of everyRoute(id)) {
    const response = await app.inject({ ...route, headers: authorization === undefined ? {} : { authorization } })
    const where = `${route.method} ${route.url}`

    assert.equal(response.statusCode, 401, where)
    assert.equal(response.statusMessage, 'Unauthorized', where)
    const challenges = [response.headers['www-authenticate']].flat()
    assert.deepEqual(
      challenges,
      schemes.map((scheme) =>
        scheme === 'Bearer' ? `Bearer realm="addrservice"${presented ? ', error="invalid_token"' : ''}` : 'Basic realm="addrservice", charset="UTF-8"',
      ),
      where,
    )
    if (route.method !== 'HEAD') {
      const problem = problemOf(response)
      assert.equal(problem.type, 'urn:addrservice:problem:unauthorized', where)
      assert.equal(problem.detail, presented ? INVALID : MISSING, where)
    }
  }
  assert.deepEqual(await snapshot(store), before)
}

for (const { name, make, skip } of durableStores()) {
  describe(`authentication and owners on ${name}`, { skip }, () => {
    describe('api-key mode', () => {
      const cases: { when: string; authorization: (world: Awaited<ReturnType<typeof apiKeyWorld>>) => string | undefined; presented: boolean }[] = [
        { when: 'no Authorization header', authorization: () => undefined, presented: false },
        { when: 'an empty Bearer', authorization: () => 'Bearer ', presented: true },
        { when: 'a Bearer of spaces and nothing else', authorization: () => 'Bearer    ', presented: true },
        { when: 'another scheme', authorization: ({ alice }) => `Token ${alice}`, presented: false },
        { when: 'Digest', authorization: () => 'Digest username="alice", realm="addrservice"', presented: false },
        { when: 'a malformed Basic (not base64)', authorization: () => 'Basic !!!not-base64!!!', presented: true },
        { when: 'a Basic without a colon', authorization: () => `Basic ${Buffer.from('alice').toString('base64')}`, presented: true },
        { when: 'an unknown key', authorization: () => bearer(`addr_${randomBytes(8).toString('hex')}_${'A'.repeat(43)}`), presented: true },
        { when: 'something that is not a key', authorization: () => bearer('hunter2'), presented: true },
        { when: 'the right id with a wrong secret', authorization: ({ alice }) => bearer(`${alice.slice(0, -5)}ZZZZZ`), presented: true },
        { when: 'a revoked key', authorization: ({ revoked }) => bearer(revoked), presented: true },
        { when: 'Basic with the wrong owner', authorization: ({ alice }) => basic('bob', alice), presented: true },
        { when: 'Basic with a revoked key', authorization: ({ revoked }) => basic('alice', revoked), presented: true },
      ]
      for (const { when, authorization, presented } of cases) {
        test(`when a request has ${when}, then every route answers 401 with both challenges and nothing changes`, async (t) => {
          const store = await make(t)
          const world = await apiKeyWorld(t, store)

          await assertRefusedEverywhere(world.app, store, world.id, authorization(world), presented, ['Bearer', 'Basic'])
        })
      }

      test('when the key comes as Bearer or as Basic with its owner, then the owner reads their book', async (t) => {
        const store = await make(t)
        const { app, alice, id } = await apiKeyWorld(t, store)

        for (const authorization of [bearer(alice), basic('alice', alice), `bearer ${alice}`]) {
          const response = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { authorization } })
          assert.equal(response.statusCode, 200, authorization.slice(0, 6))
          assert.deepEqual(response.json(), aFullEntry())
        }
      })

      test('when a read-only key writes, then 403 insufficient-scope with its challenge, and nothing changes; reading works', async (t) => {
        const store = await make(t)
        const { app, aliceReader, id } = await apiKeyWorld(t, store)
        const before = await snapshot(store)

        for (const route of everyRoute(id).filter((route) => !['GET', 'HEAD'].includes(route.method))) {
          const response = await app.inject({ ...route, headers: { authorization: bearer(aliceReader) } })
          assert.equal(response.statusCode, 403, route.method)
          assert.equal(problemOf(response).type, 'urn:addrservice:problem:insufficient-scope')
          assert.equal(response.headers['www-authenticate'], 'Bearer realm="addrservice", error="insufficient_scope", scope="addresses:write"')
        }
        const read = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { authorization: bearer(aliceReader) } })

        assert.equal(read.statusCode, 200)
        assert.deepEqual(await snapshot(store), before)
      })

      test('when a read-only key sends an invalid body, then still 403 (the scope is checked before the body is read)', async (t) => {
        const store = await make(t)
        const { app, aliceReader } = await apiKeyWorld(t, store)

        const response = await app.inject({ method: 'POST', url: '/addresses', headers: { authorization: bearer(aliceReader) }, payload: 'not json' })

        assert.equal(response.statusCode, 403)
      })

      test('when probes are asked without credentials, then they answer', async (t) => {
        const store = await make(t)
        const { app } = await apiKeyWorld(t, store)

        assert.equal((await app.inject({ method: 'GET', url: '/livez' })).statusCode, 200)
        assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
        assert.equal((await app.inject({ method: 'OPTIONS', url: '/addresses' })).statusCode, 204)
      })
    })

    describe('jwt mode', () => {
      const now = () => Math.floor(Date.now() / 1000)
      const cases: { when: string; token: (world: Awaited<ReturnType<typeof jwtWorld>>) => Promise<string> }[] = [
        { when: 'an expired token', token: ({ key }) => aToken(key, { exp: now() - 3600 }) },
        { when: 'a token from another issuer', token: ({ key }) => aToken(key, { iss: 'https://evil.example' }) },
        { when: 'a token for another audience', token: ({ key }) => aToken(key, { aud: 'another-service' }) },
        { when: 'an unsigned token (alg none)', token: () => Promise.resolve(anUnsignedToken()) },
        { when: 'an HS256 token signed with the RSA public key', token: ({ key }) => aToken(new TextEncoder().encode(key.publicPem), {}, { kid: key.kid }) },
        { when: 'a bad signature', token: async ({ key }) => aToken({ ...(await aSigningKey(key.kid)), kid: key.kid }) },
        {
          when: 'a tampered payload',
          token: async ({ key }) => {
            const [header, payload, signature] = (await aToken(key)).split('.')
            const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString()) as Record<string, unknown>
            return `${String(header)}.${Buffer.from(JSON.stringify({ ...claims, sub: 'bob' })).toString('base64url')}.${String(signature)}`
          },
        },
        { when: 'a token from an unknown kid', token: async () => aToken(await aSigningKey('somebody-else', 'ES256')) },
      ]
      for (const { when, token } of cases) {
        test(`when a request has ${when}, then every route answers 401 with the Bearer challenge and nothing changes`, async (t) => {
          const store = await make(t)
          const world = await jwtWorld(t, store)

          await assertRefusedEverywhere(world.app, store, world.id, bearer(await token(world)), true, ['Bearer'])
        })
      }

      test('when no token comes, then 401 with the Bearer challenge alone, without an error', async (t) => {
        const store = await make(t)
        const world = await jwtWorld(t, store)

        await assertRefusedEverywhere(world.app, store, world.id, undefined, false, ['Bearer'])
      })

      test('when Basic comes in jwt mode, then 401 (tokens only)', async (t) => {
        const store = await make(t)
        const world = await jwtWorld(t, store)

        await assertRefusedEverywhere(world.app, store, world.id, basic('alice', 'secret'), true, ['Bearer'])
      })

      test("when the subject's token is valid, then it acts on the subject's own book only", async (t) => {
        const store = await make(t)
        const { app, key, id } = await jwtWorld(t, store)
        const bob = bearer(await aToken(key, { sub: 'bob' }))

        assert.equal((await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { authorization: bob } })).statusCode, 404)
        assert.deepEqual((await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bob } })).json(), {})
        assert.deepEqual(Object.keys(await storedEntries(store, 'alice').then((entries) => Object.fromEntries(entries.map((e) => [e.id, e])))), [id])
      })

      test('when the token has no scope for the address book, then even reading is 403', async (t) => {
        const store = await make(t)
        const { app, key } = await jwtWorld(t, store)

        const response = await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bearer(await aToken(key, { scope: 'openid' })) } })

        assert.equal(response.statusCode, 403)
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="addrservice", error="insufficient_scope", scope="addresses:read"')
      })

      test('when the JWKS cannot be fetched, then 503 with Retry-After and readiness stays 200', async (t) => {
        const store = await make(t)
        const { app, jwks } = await jwtWorld(t, store)
        jwks.failWith = 503
        const rotated = await aSigningKey('rotated', 'ES256')

        const response = await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bearer(await aToken(rotated)) } })

        assert.equal(response.statusCode, 503)
        assert.equal(problemOf(response).type, 'urn:addrservice:problem:identity-provider-unavailable')
        assert.equal(response.headers['retry-after'], '2')
        assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
      })
    })

    describe('owners are strictly apart', () => {
      const OTHER_ID = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'

      /** The parts of a response that may tell apart an id of another owner from a missing one. */
      function answerOf(response: LightMyRequestResponse, id: string) {
        const body = response.body === '' ? '' : response.body.replaceAll(id, '<id>').replace(/"request_id":"[^"]+"/, '')
        // What differs from one request to the next whatever the id: the date, the request id, the rate limit's count.
        const varying = new Set(['date', 'x-request-id', 'ratelimit-remaining', 'ratelimit-reset'])
        const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !varying.has(name)))
        return { status: response.statusCode, reason: response.statusMessage, headers, body }
      }

      const methods = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'POST', 'OPTIONS', 'PROPFIND'] as const
      for (const method of methods) {
        test(`when bob sends ${method} to alice's entry, then the answer is exactly that for an id that does not exist, and alice's entry is unchanged`, async (t) => {
          const store = await make(t)
          const { app, bob, id } = await apiKeyWorld(t, store)
          const before = await snapshot(store)
          const send = (target: string) =>
            app.inject({
              method,
              url: `/addresses/${target}`,
              headers: { authorization: bearer(bob) },
              ...(method === 'PUT' || method === 'POST' || method === 'PATCH' ? { payload: anEntry({ full_name: 'Bob was here' }) } : {}),
            })

          const theirs = await send(id)
          const missing = await send(OTHER_ID)

          assert.deepEqual(answerOf(theirs, id), answerOf(missing, OTHER_ID))
          assert.ok([404, 405, 204].includes(theirs.statusCode), String(theirs.statusCode))
          assert.deepEqual(await snapshot(store), before)
        })
      }

      test("when bob lists, then none of alice's entries appear, and alice sees only hers", async (t) => {
        const store = await make(t)
        const { app, alice, bob, id } = await apiKeyWorld(t, store)
        const bobs = await create(app, bearer(bob), anEntry({ full_name: 'Bob' }))

        const bobList = (await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bearer(bob) } })).json<Record<string, unknown>>()
        const aliceList = (await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bearer(alice) } })).json<Record<string, unknown>>()

        assert.deepEqual(Object.keys(bobList), [bobs])
        assert.deepEqual(Object.keys(aliceList), [id])
        assert.ok(!JSON.stringify(aliceList).includes('alice') && !JSON.stringify(bobList).includes('bob'), 'an owner appears in a body')
      })

      test("when bob asks for alice's entry and for a missing one, then the store is asked the same thing, in bob's name", async (t) => {
        const store = await make(t)
        const { keys, bob, id } = await apiKeyWorld(t, store)
        const calls: unknown[][] = []
        const spy: Store = Object.create(store) as Store
        spy.get = (owner, entryId) => {
          calls.push(['get', owner, entryId === id ? '<id>' : entryId === OTHER_ID ? '<id>' : entryId])
          return store.get(owner, entryId)
        }
        const app = buildTestApp(t, { store: spy, authenticator: apiKeyAuthenticator(keys) })

        await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { authorization: bearer(bob) } })
        await app.inject({ method: 'GET', url: `/addresses/${OTHER_ID}`, headers: { authorization: bearer(bob) } })

        assert.deepEqual(calls, [['get', 'bob', '<id>'], ['get', 'bob', '<id>']])
      })
    })
  })
}

describe('a public key file in jwt mode', () => {
  test('when a token is signed by the key in the file, then it is accepted through the HTTP layer', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-jwt-'))
    t.after(() => {
      rmSync(dir, { recursive: true, force: true })
    })
    const key = await aSigningKey('k', 'ES256')
    writeFileSync(join(dir, 'key.pem'), key.publicPem)
    const verifier = new JwtVerifier(jwtSettings({ publicKeyFile: join(dir, 'key.pem') }))
    const app = buildTestApp(t, { authenticator: jwtAuthenticator(verifier) })

    const response = await app.inject({ method: 'GET', url: '/addresses', headers: { authorization: bearer(await aToken(key)) } })

    assert.equal(response.statusCode, 200)
  })
})
