import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { algorithmsFor, JwtVerifier } from '../../src/auth/jwt.js'
import { IdentityProviderUnavailableError, type Verdict } from '../../src/auth/verdict.js'
import { aJwksServer, aSigningKey, aToken, anUnsignedToken, AUDIENCE, ISSUER, jwtSettings } from '../helpers/jwt.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'


function pemFile(t: TestContext, pem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-jwt-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const file = join(dir, 'key.pem')
  writeFileSync(file, pem)
  return file
}

function reasonOf(verdict: Verdict): string {
  assert.ok('reason' in verdict, `expected a refusal, got ${JSON.stringify(verdict)}`)
  return verdict.reason
}

function principalOf(verdict: Verdict) {
  assert.ok('principal' in verdict, `expected a principal, got ${JSON.stringify(verdict)}`)
  return verdict.principal
}

const secretKey = new TextEncoder().encode(SECRET)

describe('JwtVerifier', () => {
  describe('with an HS256 secret', () => {
    const verifier = new JwtVerifier(jwtSettings({ secret: SECRET }))

    test('when a valid token comes, then its subject with its scopes, by jwt', async () => {
      const verdict = await verifier.verify(await aToken(secretKey))

      assert.deepEqual(principalOf(verdict), { owner: 'alice', scopes: ['read', 'write'], method: 'jwt' })
    })

    test('when the scope claim is a list, or has other scopes too, then only ours are kept', async () => {
      const listed = await verifier.verify(await aToken(secretKey, { scope: ['openid', 'addresses:read'] }))
      const spaced = await verifier.verify(await aToken(secretKey, { scope: 'openid profile addresses:write' }))

      assert.deepEqual(principalOf(listed).scopes, ['read'])
      assert.deepEqual(principalOf(spaced).scopes, ['write'])
    })

    test('when there is no scope claim, then a principal without scopes (who may do nothing)', async () => {
      const verdict = await verifier.verify(await aToken(secretKey, { scope: undefined }))

      assert.deepEqual(principalOf(verdict).scopes, [])
    })

    for (const [name, claims, reason] of [
      ['expired an hour ago', { exp: Math.floor(Date.now() / 1000) - 3600 }, /expired/],
      ['from another issuer', { iss: 'https://evil.example' }, /iss/],
      ['for another audience', { aud: 'someone-else' }, /aud/],
      ['not valid before an hour from now', { nbf: Math.floor(Date.now() / 1000) + 3600 }, /nbf/],
      ['without a subject', { sub: undefined }, /sub is not an owner name/],
      ['with a subject that is not text', { sub: 42 as unknown as string }, /sub is not an owner name/],
      ['with a subject holding a control character', { sub: 'ali\u0000ce' }, /sub is not an owner name/],
    ] as const) {
      test(`when the token is ${name}, then it is refused`, async () => {
        assert.match(reasonOf(await verifier.verify(await aToken(secretKey, claims))), reason)
      })
    }

    test('when the token expired within the clock tolerance, then it is still accepted', async () => {
      const verdict = await verifier.verify(await aToken(secretKey, { exp: Math.floor(Date.now() / 1000) - 10 }))

      assert.equal(principalOf(verdict).owner, 'alice')
    })

    test('when the token has no expiry, then it is refused', async () => {
      const token = await aToken(secretKey)
      const [header, , ] = token.split('.')
      const payload = Buffer.from(JSON.stringify({ sub: 'alice', iss: ISSUER, aud: AUDIENCE })).toString('base64url')
      const signature = createHmac('sha256', SECRET).update(`${String(header)}.${payload}`).digest('base64url')

      assert.match(reasonOf(await verifier.verify(`${String(header)}.${payload}.${signature}`)), /exp/)
    })

    test('when the token is signed with another secret, then its signature does not verify', async () => {
      const other = new TextEncoder().encode('another-secret-another-secret-another')

      assert.equal(reasonOf(await verifier.verify(await aToken(other))), 'jwt signature does not verify')
    })

    test('when the payload was tampered with after signing, then its signature does not verify', async () => {
      const [header, payload, signature] = (await aToken(secretKey, { sub: 'alice' })).split('.')
      const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(String(payload), 'base64url').toString()), sub: 'bob' })).toString('base64url')

      assert.equal(reasonOf(await verifier.verify(`${String(header)}.${forged}.${String(signature)}`)), 'jwt signature does not verify')
    })

    test('when the token is unsigned (alg none), then it is refused', async () => {
      assert.match(reasonOf(await verifier.verify(anUnsignedToken())), /jwt/)
    })

    test('when the token is not a JWT at all, then it is refused', async () => {
      assert.match(reasonOf(await verifier.verify('not-a-token')), /jwt refused/)
    })

    test('when another claim names the owner, then that claim is read', async () => {
      const byEmail = new JwtVerifier(jwtSettings({ secret: SECRET, ownerClaim: 'email', scopeClaim: 'scp' }))

      const verdict = await byEmail.verify(await aToken(secretKey, { email: 'alice@example.org', scp: ['addresses:read'] }))

      assert.deepEqual(principalOf(verdict), { owner: 'alice@example.org', scopes: ['read'], method: 'jwt' })
    })
  })

  describe('with a public key file', () => {
    test('when a token is signed with the matching RSA key, then it is accepted', async (t) => {
      const key = await aSigningKey('k1', 'RS256')
      const verifier = new JwtVerifier(jwtSettings({ publicKeyFile: pemFile(t, key.publicPem) }))

      assert.equal(principalOf(await verifier.verify(await aToken(key))).owner, 'alice')
    })

    test('when a token is signed with an EC P-256 key, then ES256 is the algorithm and it is accepted', async (t) => {
      const key = await aSigningKey('k1', 'ES256')
      const verifier = new JwtVerifier(jwtSettings({ publicKeyFile: pemFile(t, key.publicPem) }))

      assert.equal(principalOf(await verifier.verify(await aToken(key))).owner, 'alice')
    })

    test('when an HS256 token is signed with the RSA public key as its secret, then it is refused (no algorithm confusion)', async (t) => {
      const key = await aSigningKey('k1', 'RS256')
      const verifier = new JwtVerifier(jwtSettings({ publicKeyFile: pemFile(t, key.publicPem) }))

      const forged = await aToken(new TextEncoder().encode(key.publicPem))

      assert.equal(reasonOf(await verifier.verify(forged)), 'jwt algorithm not allowed')
    })

    test('when a token is signed by another key of the same type, then its signature does not verify', async (t) => {
      const key = await aSigningKey('k1', 'RS256')
      const other = await aSigningKey('k1', 'RS256')
      const verifier = new JwtVerifier(jwtSettings({ publicKeyFile: pemFile(t, key.publicPem) }))

      assert.equal(reasonOf(await verifier.verify(await aToken(other))), 'jwt signature does not verify')
    })

    test('when the file is a certificate-less garbage file, then the verifier cannot be made', (t) => {
      assert.throws(() => new JwtVerifier(jwtSettings({ publicKeyFile: pemFile(t, 'not a key') })))
    })
  })

  describe('algorithms by key type', () => {
    for (const [type, options, expected] of [
      ['rsa', { modulusLength: 2048 }, ['RS256', 'RS384', 'RS512']],
      ['rsa-pss', { modulusLength: 2048 }, ['PS256', 'PS384', 'PS512']],
      ['ec', { namedCurve: 'P-384' }, ['ES384']],
      ['ed25519', {}, ['EdDSA', 'Ed25519']],
    ] as const) {
      test(`when the key is ${type}, then only ${expected.join(', ')}`, () => {
        const { publicKey } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number })

        assert.deepEqual(algorithmsFor(publicKey), expected)
      })
    }

    test('when the key is of a type no JWT algorithm uses, then it is refused', () => {
      const { publicKey } = generateKeyPairSync('x25519')

      assert.throws(() => algorithmsFor(publicKey), /not supported/)
    })
  })

  describe('with a JWKS', () => {
    test('when a token names a key of the JWKS, then it is accepted, and the JWKS is fetched once for many tokens', async (t) => {
      const key = await aSigningKey('k1')
      const jwks = await aJwksServer(t, [key.publicJwk])
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: jwks.url }))

      for (let count = 0; count < 5; count++) assert.equal(principalOf(await verifier.verify(await aToken(key))).owner, 'alice')

      assert.equal(jwks.fetches, 1)
    })

    test('when the provider rotates to a new key, then a token with the new kid makes the JWKS be fetched again and is accepted', async (t) => {
      const first = await aSigningKey('k1')
      const second = await aSigningKey('k2')
      const jwks = await aJwksServer(t, [first.publicJwk])
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: jwks.url }), { jwksCooldownMs: 0 })
      await verifier.verify(await aToken(first))

      jwks.keys = [first.publicJwk, second.publicJwk]
      const verdict = await verifier.verify(await aToken(second))

      assert.equal(principalOf(verdict).owner, 'alice')
      assert.equal(jwks.fetches, 2)
    })

    test('when a token names a kid the JWKS does not have, then it is refused after one more fetch', async (t) => {
      const key = await aSigningKey('k1')
      const stranger = await aSigningKey('k9')
      const jwks = await aJwksServer(t, [key.publicJwk])
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: jwks.url }), { jwksCooldownMs: 0 })
      await verifier.verify(await aToken(key))

      assert.equal(reasonOf(await verifier.verify(await aToken(stranger))), 'jwt key id is not in the JWKS')
      assert.equal(jwks.fetches, 2)
    })

    test('when many tokens name unknown kids within the cooldown, then the JWKS is not fetched again for each', async (t) => {
      const key = await aSigningKey('k1')
      const jwks = await aJwksServer(t, [key.publicJwk])
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: jwks.url }))
      await verifier.verify(await aToken(key))

      for (let count = 0; count < 5; count++) {
        const stranger = await aSigningKey(`made-up-${String(count)}`, 'ES256')
        assert.equal(reasonOf(await verifier.verify(await aToken(stranger))), 'jwt key id is not in the JWKS')
      }

      assert.equal(jwks.fetches, 1)
    })

    test('when an HS256 token comes, then it is refused before any key is looked for', async (t) => {
      const key = await aSigningKey('k1')
      const jwks = await aJwksServer(t, [key.publicJwk])
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: jwks.url }))

      assert.equal(reasonOf(await verifier.verify(await aToken(secretKey))), 'jwt algorithm not allowed')
      assert.equal(jwks.fetches, 0)
    })

    test('when the JWKS answers 500, then IdentityProviderUnavailableError, not a refusal of the token', async (t) => {
      const key = await aSigningKey('k1')
      const jwks = await aJwksServer(t, [key.publicJwk])
      jwks.failWith = 500
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: jwks.url }))

      await assert.rejects(verifier.verify(await aToken(key)), IdentityProviderUnavailableError)
    })

    test('when nothing listens at the JWKS URL, then IdentityProviderUnavailableError', async () => {
      const port = await aClosedPort()
      const key = await aSigningKey('k1')
      const verifier = new JwtVerifier(jwtSettings({ jwksUrl: `http://127.0.0.1:${String(port)}/jwks` }))

      await assert.rejects(verifier.verify(await aToken(key)), IdentityProviderUnavailableError)
    })
  })

  test('when no key source is given, then the verifier cannot be made', () => {
    assert.throws(() => new JwtVerifier(jwtSettings({})), /needs a JWKS URL, a public key file or a secret/)
  })
})

/** A port on 127.0.0.1 that nothing listens on. */
async function aClosedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}
