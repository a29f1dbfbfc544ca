import { validateAddressEntry, type AddressEntry } from '../domain/address-entry.js'
import { InsufficientScopeError, InvalidEntryError } from '../domain/errors.js'
import { hasScope, type Principal, type Scope } from '../domain/principal.js'

/**
 * The one gate every protocol's entries pass, whichever service takes them: the entry judged
 * against the schema, and the caller's scope checked.
 */

/** The value as an entry; InvalidEntryError naming every failing field when it is not one. */
export function checkedEntry(value: unknown): AddressEntry {
  const errors = validateAddressEntry(value)
  if (errors.length > 0) throw new InvalidEntryError(errors)
  return value as AddressEntry
}

export function requireScope(principal: Principal, needed: Scope): void {
  if (!hasScope(principal, needed)) throw new InsufficientScopeError(needed)
}
