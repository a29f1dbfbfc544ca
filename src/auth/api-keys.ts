import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal, Scope } from '../domain/principal.js'
import { systemClock, type ApiKeyRecord, type Clock, type CredentialStore } from '../storage/store.js'
import type { Verdict } from './verdict.js'

/**
 * API keys look like `addr_<id>_<secret>`: a fixed prefix that secret scanners can match, an id
 * (16 hex digits) that finds the key without a scan, and 43 base62 characters of secret
 * (256 bits from the system's CSPRNG). The store keeps only the SHA-256 of the secret: with that
 * much entropy a fast hash is safe, and it keeps verification cheap on every request.
 */
const KEY_PATTERN = /^addr_([0-9a-f]{16})_([0-9A-Za-z]{43})$/
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const SECRET_LENGTH = 43

/** A key's id, when the text has the shape of a key. */
export function parseApiKey(text: string): { id: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(text)
  return match ? { id: match[1] ?? '', secret: match[2] ?? '' } : undefined
}

function randomBase62(length: number): string {
  let text = ''
  while (text.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: rejecting the bytes above it keeps every character equally likely.
      if (byte < 248 && text.length < length) text += BASE62.charAt(byte % 62)
    }
  }
  return text
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

/** A new key, once, as its owner will use it; and what the store keeps of it. */
export interface CreatedApiKey {
  readonly key: string
  readonly record: ApiKeyRecord
}

export interface ApiKeysOptions {
  /** How long a key read from the store is trusted before it is read again (revocation shows within this). */
  cacheMs?: number
  /** Most keys remembered at once; the oldest are forgotten first. */
  cacheSize?: number
  clock?: Clock
  /** Told when recording a key's last use fails; authentication does not depend on it. */
  onBackgroundError?: (error: unknown) => void
}

interface Cached {
  readonly expires: number
  readonly record: Promise<ApiKeyRecord | undefined>
  /** Whether this read of the key has recorded a use already. */
  touched: boolean
}

/** Last use is recorded at most this often per key, so that busy keys do not write on every request. */
const TOUCH_INTERVAL_MS = 60_000

/**
 * Creates, lists and revokes API keys, and tells who presents one. What a key is, is read from
 * the store at most once per `cacheMs` on each instance, so that a request does not wait on the
 * database for it, and a revoked key stops working everywhere within that time.
 */
export class ApiKeys {
  readonly #store: CredentialStore
  readonly #cacheMs: number
  readonly #cacheSize: number
  readonly #clock: Clock
  readonly #onBackgroundError: (error: unknown) => void
  readonly #cache = new Map<string, Cached>()

  constructor(store: CredentialStore, options: ApiKeysOptions = {}) {
    this.#store = store
    this.#cacheMs = options.cacheMs ?? 2000
    this.#cacheSize = options.cacheSize ?? 10_000
    this.#clock = options.clock ?? systemClock
    this.#onBackgroundError = options.onBackgroundError ?? (() => undefined)
  }

  async create(owner: string, scope: Scope, label: string | null): Promise<CreatedApiKey> {
    const id = randomBytes(8).toString('hex')
    const secret = randomBase62(SECRET_LENGTH)
    const record = await this.#store.createApiKey({
      id,
      owner,
      scope,
      label,
      secretHash: hashSecret(secret).toString('hex'),
      createdAt: this.#clock().toISOString(),
    })
    return { key: `addr_${id}_${secret}`, record }
  }

  list(owner?: string): Promise<ApiKeyRecord[]> {
    return this.#store.listApiKeys(owner)
  }

  /** Revokes the key with this id; resolves it as stored (revoked earlier, maybe), or undefined when there is none. */
  revoke(id: string): Promise<ApiKeyRecord | undefined> {
    this.#cache.delete(id)
    return this.#store.revokeApiKey(id, this.#clock().toISOString())
  }

  /** Who presents `key`, or why nobody does. Rejects only when the store cannot be read. */
  async authenticate(key: string): Promise<Verdict> {
    const parsed = parseApiKey(key)
    if (!parsed) return { reason: 'malformed api key' }
    const cached = this.#lookUp(parsed.id)
    const record = await cached.record
    if (!record) return { reason: 'unknown api key' }
    // Compared in constant time, so that the time taken says nothing of how much of it matched.
    if (!timingSafeEqual(hashSecret(parsed.secret), Buffer.from(record.secretHash, 'hex'))) return { reason: 'wrong api key secret' }
    if (record.revokedAt !== null) return { reason: 'revoked api key' }
    if (!cached.touched) {
      cached.touched = true
      this.#touchIfDue(record)
    }
    const principal: Principal = { owner: record.owner, scopes: [record.scope], method: 'api-key' }
    return { principal }
  }

  #lookUp(id: string): Cached {
    const now = Date.now()
    const cached = this.#cache.get(id)
    if (cached && cached.expires > now) return cached
    const fresh: Cached = { expires: now + this.#cacheMs, record: this.#store.findApiKey(id), touched: false }
    this.#remember(id, fresh)
    fresh.record.catch(() => {
      // A failed read is not remembered: the next request tries again.
      if (this.#cache.get(id) === fresh) this.#cache.delete(id)
    })
    return fresh
  }

  #remember(id: string, cached: Cached): void {
    this.#cache.delete(id)
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next()
      if (!oldest.done) this.#cache.delete(oldest.value)
    }
    if (this.#cacheMs > 0) this.#cache.set(id, cached)
  }

  #touchIfDue(record: ApiKeyRecord): void {
    const now = this.#clock()
    if (record.lastUsedAt !== null && now.getTime() - Date.parse(record.lastUsedAt) < TOUCH_INTERVAL_MS) return
    this.#store.touchApiKey(record.id, now.toISOString()).catch(this.#onBackgroundError)
  }
}
