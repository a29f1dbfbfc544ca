import { validateAddressEntry, type AddressEntry, type FieldError } from '../domain/address-entry.js'
import { InsufficientScopeError, InvalidEntryError } from '../domain/errors.js'
import { normalizeLabels } from '../domain/labels.js'
import { hasScope, type Principal, type Scope } from '../domain/principal.js'

/**
 * The one gate every protocol's entries pass, whichever service takes them: the entry judged
 * against the schema, and the caller's scope checked.
 */

/**
 * The value as an entry, its labels trimmed and each once (see labels.ts); InvalidEntryError
 * naming every failing field when it is not one.
 */
export function checkedEntry(value: unknown): AddressEntry {
  const { entry, errors } = judgedEntry(value)
  if (!entry) throw new InvalidEntryError(errors)
  return entry
}

/** The value as an entry (its labels trimmed and each once), or every way it is not one. */
export function judgedEntry(value: unknown): { entry?: AddressEntry; errors: FieldError[] } {
  const entry = withNormalLabels(value)
  const errors = validateAddressEntry(entry)
  return errors.length > 0 ? { errors } : { entry: entry as AddressEntry, errors }
}

function withNormalLabels(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !('labels' in value) || !Array.isArray(value.labels)) return value
  return { ...value, labels: normalizeLabels(value.labels as unknown[]) }
}

export function requireScope(principal: Principal, needed: Scope): void {
  if (!hasScope(principal, needed)) throw new InsufficientScopeError(needed)
}
