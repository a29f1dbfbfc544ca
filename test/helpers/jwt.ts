import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import type { JwtSettings } from '../../src/auth/jwt.js'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

export const ISSUER = 'https://id.example.test'
export const AUDIENCE = 'addrservice'

/** The JWT settings of a service trusting ISSUER for AUDIENCE, with overrides (a key source among them). */
export function jwtSettings(overrides: Partial<JwtSettings>): JwtSettings {
  return {
    jwksUrl: null,
    publicKeyFile: null,
    secret: null,
    issuer: ISSUER,
    audience: AUDIENCE,
    ownerClaim: 'sub',
    scopeClaim: 'scope',
    clockToleranceS: 30,
    ...overrides,
  }
}

/** A key pair of an identity provider, with its public half as PEM and as a JWK (with `kid`). */
export interface SigningKey {
  readonly kid: string
  readonly alg: string
  readonly privateKey: CryptoKey
  readonly publicPem: string
  readonly publicJwk: JWK
}

export async function aSigningKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicPem: await exportSPKI(publicKey), publicJwk }
}

/** A token as an identity provider would issue it, valid for an hour unless the claims say otherwise. */
export function aToken(key: SigningKey | Uint8Array, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const signing = key instanceof Uint8Array ? { alg: 'HS256' } : { alg: key.alg, kid: key.kid }
  const now = Math.floor(Date.now() / 1000)
  const payload = { sub: 'alice', scope: 'addresses:read addresses:write', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600, ...claims }
  return new SignJWT(payload)
    .setProtectedHeader({ ...signing, ...header, typ: 'JWT' })
    .sign(key instanceof Uint8Array ? key : key.privateKey)
}

/** An unsigned token (`alg: none`), which no verifier may accept. */
export function anUnsignedToken(claims: Record<string, unknown> = {}): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: 'alice', scope: 'addresses:write', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600, ...claims })}.`
}

/** A local JWKS endpoint whose keys the test changes at will, and that counts its fetches. */
export interface JwksServer {
  readonly url: string
  keys: JWK[]
  fetches: number
  /** When set, the endpoint answers this status instead of the keys. */
  failWith: number | undefined
}

export async function aJwksServer(t: TestContext, keys: JWK[]): Promise<JwksServer> {
  const state = { url: '', keys, fetches: 0, failWith: undefined as number | undefined }
  const server: Server = createServer((_request, response) => {
    state.fetches++
    if (state.failWith !== undefined) {
      response.writeHead(state.failWith).end()
      return
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => { resolve() })))
  state.url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/.well-known/jwks.json`
  return state
}
