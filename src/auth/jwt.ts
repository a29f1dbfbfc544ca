import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose'
import { isOwnerName, type Principal, type Scope } from '../domain/principal.js'
import { IdentityProviderUnavailableError, type Verdict } from './verdict.js'

export interface JwtSettings {
  readonly jwksUrl: string | null
  readonly publicKeyFile: string | null
  readonly secret: string | null
  readonly issuer: string | null
  readonly audience: string | null
  readonly ownerClaim: string
  readonly scopeClaim: string
  readonly clockToleranceS: number
}

/** The scope values a token may carry, and what each allows. */
const SCOPE_VALUES: Readonly<Record<string, Scope>> = { 'addresses:read': 'read', 'addresses:write': 'write' }

/** Signatures a JWKS may use: public-key algorithms only, so that no HMAC can be forged with a public key. */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

const CURVE_ALGORITHMS: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }

/** The algorithms a public key can verify, decided by the key's type rather than by the token. */
export function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512']
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const algorithm = CURVE_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? '']
      if (algorithm) return [algorithm]
      break
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519']
  }
  throw new Error(`keys of type ${String(key.asymmetricKeyType)} are not supported (use RSA, EC P-256/384/521 or Ed25519)`)
}

/** A PEM public key (SPKI) or certificate, as a key object. */
export function readPublicKey(file: string): KeyObject {
  const pem = readFileSync(file, 'utf8')
  return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem)
}

/**
 * Verifies bearer JSON Web Tokens from the users' identity provider: signature (by a key from
 * a JWKS, a public key file, or an HS256 secret; the algorithms are pinned by the key's type),
 * issuer, audience, expiry, then reads the owner and the scopes from the configured claims.
 */
export class JwtVerifier {
  readonly #key: JWTVerifyGetKey | KeyObject | Uint8Array
  readonly #algorithms: string[]
  readonly #settings: JwtSettings

  /**
   * `jwksCooldownMs`: after a fetch, how long a token with an unknown `kid` is refused without
   * fetching the JWKS again (so that a flood of made-up kids cannot hammer the provider).
   */
  constructor(settings: JwtSettings, { jwksCooldownMs = 30_000 }: { jwksCooldownMs?: number } = {}) {
    this.#settings = settings
    if (settings.secret !== null) {
      this.#key = new TextEncoder().encode(settings.secret)
      this.#algorithms = ['HS256']
    } else if (settings.publicKeyFile !== null) {
      const key = readPublicKey(settings.publicKeyFile)
      this.#key = key
      this.#algorithms = algorithmsFor(key)
    } else if (settings.jwksUrl !== null) {
      this.#key = remoteKeys(new URL(settings.jwksUrl), jwksCooldownMs)
      this.#algorithms = ASYMMETRIC
    } else {
      throw new Error('a JWT verifier needs a JWKS URL, a public key file or a secret')
    }
  }

  /** Who the token names, or why it is refused. Rejects with IdentityProviderUnavailableError when the JWKS cannot be fetched. */
  async verify(token: string): Promise<Verdict> {
    let payload
    try {
      const options = {
        algorithms: this.#algorithms,
        ...(this.#settings.issuer === null ? {} : { issuer: this.#settings.issuer }),
        ...(this.#settings.audience === null ? {} : { audience: this.#settings.audience }),
        clockTolerance: this.#settings.clockToleranceS,
        requiredClaims: ['exp'],
      }
      // Two calls, because jose types the key and the key-getting function as separate overloads.
      const result = typeof this.#key === 'function' ? await jwtVerify(token, this.#key, options) : await jwtVerify(token, this.#key, options)
      payload = result.payload
    } catch (error) {
      if (error instanceof IdentityProviderUnavailableError) throw error
      return { reason: describeRefusal(error) }
    }
    const owner = payload[this.#settings.ownerClaim]
    if (typeof owner !== 'string' || !isOwnerName(owner)) return { reason: `jwt claim ${this.#settings.ownerClaim} is not an owner name` }
    const principal: Principal = { owner, scopes: scopesOf(payload[this.#settings.scopeClaim]), method: 'jwt' }
    return { principal }
  }
}

/** A JWKS fetched on first use, cached, and fetched again for a key id it does not have. */
function remoteKeys(url: URL, cooldownMs: number): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(url, { timeoutDuration: 3000, cooldownDuration: cooldownMs, cacheMaxAge: 600_000 })
  return async (header, token) => {
    try {
      return await jwks(header, token)
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error
      throw new IdentityProviderUnavailableError({ cause: error })
    }
  }
}

/** Scopes as a space-separated string (RFC 8693) or a list (as some providers send them). */
function scopesOf(claim: unknown): Scope[] {
  const values = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : []
  const scopes = new Set<Scope>()
  for (const value of values) {
    const scope = typeof value === 'string' ? SCOPE_VALUES[value] : undefined
    if (scope) scopes.add(scope)
  }
  return [...scopes]
}

/** Why jose refused a token, for the log line (never the token itself). */
function describeRefusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'jwt expired'
  if (error instanceof errors.JWTClaimValidationFailed) return `jwt claim ${error.claim} is not acceptable (${error.reason})`
  if (error instanceof errors.JOSEAlgNotAllowed) return 'jwt algorithm not allowed'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'jwt signature does not verify'
  if (error instanceof errors.JWKSNoMatchingKey) return 'jwt key id is not in the JWKS'
  if (error instanceof errors.JOSEError) return `jwt refused (${error.code})`
  return 'jwt refused'
}
