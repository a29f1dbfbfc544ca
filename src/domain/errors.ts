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
