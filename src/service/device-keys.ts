import { InvalidKeyRequestError, KeyNotFoundError } from '../domain/errors.js'
import { hasScope, SCOPES, type Principal, type Scope } from '../domain/principal.js'
import type { ApiKeyRecord } from '../storage/store.js'
import { requireScope } from './gate.js'

/**
 * Each caller's own API keys, for its devices: a phone's contacts app signs in with the owner's
 * name and one of them (CardDAV speaks Basic only), also when the web app signs in with a JWT.
 * A caller sees, makes and revokes only its own owner's keys, and never a key with more power
 * than its own credential has.
 */

/** A key as its owner sees it: never its secret, nor its hash. */
export interface DeviceKey {
  readonly id: string
  readonly label: string | null
  readonly scope: Scope
  /** ISO 8601 timestamps in UTC, with milliseconds. */
  readonly createdAt: string
  readonly lastUsedAt: string | null
  readonly revokedAt: string | null
}

export interface NewDeviceKey {
  /** The key itself, shown this once. */
  readonly key: string
  readonly device: DeviceKey
}

/** What keys are made and kept with: the API keys of auth/. */
export interface KeyIssuer {
  create(owner: string, scope: Scope, label: string | null): Promise<{ readonly key: string; readonly record: ApiKeyRecord }>
  list(owner?: string): Promise<ApiKeyRecord[]>
  revoke(id: string): Promise<ApiKeyRecord | undefined>
}

export interface DeviceKeys {
  /** The caller's owner's keys, oldest first, revoked ones included. */
  list(principal: Principal): Promise<DeviceKey[]>
  /** Rejects with InvalidKeyRequestError (a bad label or scope, or a scope the caller lacks). */
  create(principal: Principal, request: unknown): Promise<NewDeviceKey>
  /** Rejects with KeyNotFoundError, also for another owner's key. */
  revoke(principal: Principal, id: string): Promise<DeviceKey>
}

/** The longest label: "Maria's iPhone", "Thunderbird at work". */
export const MAX_LABEL_LENGTH = 100
// Control characters: a label is one line of printable text.
// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f]/

export class DeviceKeyService implements DeviceKeys {
  readonly #keys: KeyIssuer

  constructor(keys: KeyIssuer) {
    this.#keys = keys
  }

  async list(principal: Principal): Promise<DeviceKey[]> {
    requireScope(principal, 'read')
    return (await this.#keys.list(principal.owner)).map(deviceKeyOf)
  }

  async create(principal: Principal, request: unknown): Promise<NewDeviceKey> {
    requireScope(principal, 'write')
    const { label, scope } = checkedRequest(request)
    if (!hasScope(principal, scope)) throw new InvalidKeyRequestError([{ path: '/scope', message: `is more than the credential of this request may give (${principal.scopes.join(', ')})` }])
    const { key, record } = await this.#keys.create(principal.owner, scope, label)
    return { key, device: deviceKeyOf(record) }
  }

  async revoke(principal: Principal, id: string): Promise<DeviceKey> {
    requireScope(principal, 'write')
    const own = (await this.#keys.list(principal.owner)).find((record) => record.id === id)
    if (!own) throw new KeyNotFoundError(id)
    return deviceKeyOf((await this.#keys.revoke(own.id)) ?? own)
  }
}

function deviceKeyOf({ id, label, scope, createdAt, lastUsedAt, revokedAt }: ApiKeyRecord): DeviceKey {
  return { id, label, scope, createdAt, lastUsedAt, revokedAt }
}

function checkedRequest(request: unknown): { label: string; scope: Scope } {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new InvalidKeyRequestError([{ path: '', message: 'must be an object with a label' }])
  const { label, scope = 'write', ...rest } = request as Record<string, unknown>
  const errors = Object.keys(rest).map((name) => ({ path: `/${name}`, message: 'is not allowed' }))
  if (typeof label !== 'string' || label.trim() === '' || label.length > MAX_LABEL_LENGTH || NOT_PRINTABLE.test(label)) {
    errors.push({ path: '/label', message: `must be 1 to ${String(MAX_LABEL_LENGTH)} characters of printable text` })
  }
  if (typeof scope !== 'string' || !(SCOPES as readonly string[]).includes(scope)) errors.push({ path: '/scope', message: `must be one of: ${SCOPES.join(', ')}` })
  if (errors.length > 0) throw new InvalidKeyRequestError(errors)
  return { label: (label as string).trim(), scope: scope as Scope }
}
