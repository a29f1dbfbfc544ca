import type { FieldError } from './address-entry.js'
import type { Scope } from './principal.js'

/**
 * The closed list of domain error codes. They are stable: clients and logs may rely on them.
 * Domain errors know nothing about transport; the HTTP layer maps each code to a response.
 */
export const DomainErrorCode = {
  entryNotFound: 'entry_not_found',
  invalidEntry: 'invalid_entry',
  entryExists: 'entry_exists',
  storeUnavailable: 'store_unavailable',
  insufficientScope: 'insufficient_scope',
  preconditionFailed: 'precondition_failed',
  preconditionRequired: 'precondition_required',
  invalidCursor: 'invalid_cursor',
  invalidImport: 'invalid_import',
  idempotencyKeyInUse: 'idempotency_key_in_use',
  idempotencyKeyReused: 'idempotency_key_reused',
  invalidSyncToken: 'invalid_sync_token',
  syncTokenExpired: 'sync_token_expired',
} as const

export type DomainErrorCode = (typeof DomainErrorCode)[keyof typeof DomainErrorCode]

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode
}

export class EntryNotFoundError extends DomainError {
  readonly code = DomainErrorCode.entryNotFound
  constructor(readonly id: string) {
    super(`No address entry with id ${JSON.stringify(id.slice(0, 100))}`)
    this.name = 'EntryNotFoundError'
  }
}

export class InvalidEntryError extends DomainError {
  readonly code = DomainErrorCode.invalidEntry
  constructor(readonly errors: readonly FieldError[]) {
    super(`Invalid address entry: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`)
    this.name = 'InvalidEntryError'
  }
}

export class EntryExistsError extends DomainError {
  readonly code = DomainErrorCode.entryExists
  constructor(readonly id: string) {
    super(`An address entry with id ${JSON.stringify(id)} already exists`)
    this.name = 'EntryExistsError'
  }
}

/** The store cannot be reached right now; the same request may succeed later. */
export class StoreUnavailableError extends DomainError {
  readonly code = DomainErrorCode.storeUnavailable
  constructor(options?: { cause?: unknown }) {
    super('The address book store is unavailable', options)
    this.name = 'StoreUnavailableError'
  }
}

/** The caller may not do this: its credential lacks the scope. */
export class InsufficientScopeError extends DomainError {
  readonly code = DomainErrorCode.insufficientScope
  constructor(readonly needed: Scope) {
    super(`This needs the ${needed} scope`)
    this.name = 'InsufficientScopeError'
  }
}

/** The entry is not at a version the caller named (or, for a conditional create, it exists). */
export class PreconditionFailedError extends DomainError {
  readonly code = DomainErrorCode.preconditionFailed
  constructor(readonly id: string) {
    super(`The address entry ${JSON.stringify(id.slice(0, 100))} is not in the state the request is conditional on`)
    this.name = 'PreconditionFailedError'
  }
}

/** Writes must name the version they change, and this one did not. */
export class PreconditionRequiredError extends DomainError {
  readonly code = DomainErrorCode.preconditionRequired
  constructor() {
    super('This write must be conditional on the version it changes (If-Match)')
    this.name = 'PreconditionRequiredError'
  }
}

/** A listing cursor that this service did not make, or made for other filters or another order. */
export class InvalidCursorError extends DomainError {
  readonly code = DomainErrorCode.invalidCursor
  constructor(readonly reason: string) {
    super(`The cursor ${reason}`)
    this.name = 'InvalidCursorError'
  }
}

/** What is wrong with one item of an import: its position (0-based, and in its source) and each failing field. */
export interface ImportItemErrors {
  readonly index: number
  readonly line?: number | undefined
  readonly card?: number | undefined
  readonly errors: readonly FieldError[]
}

/** An import of several entries of which at least one cannot be stored; none is. */
export class InvalidImportError extends DomainError {
  readonly code = DomainErrorCode.invalidImport
  constructor(readonly items: readonly ImportItemErrors[]) {
    super(`${String(items.length)} item(s) of the import are not valid entries; nothing was stored`)
    this.name = 'InvalidImportError'
  }
}

/** A request with an idempotency key whose first request has not finished yet. */
export class IdempotencyKeyInUseError extends DomainError {
  readonly code = DomainErrorCode.idempotencyKeyInUse
  constructor() {
    super('A request with this idempotency key is still being processed')
    this.name = 'IdempotencyKeyInUseError'
  }
}

/** An idempotency key sent again with a different request. */
export class IdempotencyKeyReusedError extends DomainError {
  readonly code = DomainErrorCode.idempotencyKeyReused
  constructor() {
    super('This idempotency key was used for a different request')
    this.name = 'IdempotencyKeyReusedError'
  }
}

/** A sync token this service did not make, or made for another owner. */
export class InvalidSyncTokenError extends DomainError {
  readonly code = DomainErrorCode.invalidSyncToken
  constructor(readonly reason: string) {
    super(`The sync token ${reason}`)
    this.name = 'InvalidSyncTokenError'
  }
}

/** A sync token older than the deletions the store still remembers: the client must sync in full. */
export class SyncTokenExpiredError extends DomainError {
  readonly code = DomainErrorCode.syncTokenExpired
  constructor() {
    super('The sync token is older than the changes kept; sync in full and use the new token')
    this.name = 'SyncTokenExpiredError'
  }
}
