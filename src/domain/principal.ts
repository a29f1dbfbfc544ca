/** What a caller may do: `read` (look) or `write` (everything, reading included). */
export const SCOPES = ['read', 'write'] as const
export type Scope = (typeof SCOPES)[number]

/** How the caller proved who it is. */
export type AuthenticationMethod = 'none' | 'api-key' | 'jwt'

/**
 * Who is calling, decided at the edge and handed down as a plain value: the owner whose address
 * book every operation acts on, and what the caller may do there.
 */
export interface Principal {
  readonly owner: string
  readonly scopes: readonly Scope[]
  readonly method: AuthenticationMethod
}

/** The owner of every entry when authentication is off; the original service's one book. */
export const DEFAULT_OWNER = 'default'

/** The caller when authentication is off: the one book, every scope. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({ owner: DEFAULT_OWNER, scopes: Object.freeze(['read', 'write'] as const), method: 'none' })

export function hasScope(principal: Principal, needed: Scope): boolean {
  return principal.scopes.includes('write') || principal.scopes.includes(needed)
}

const MAX_OWNER_LENGTH = 200
// Control characters and unpaired surrogates: an owner name is printable text.
// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** An owner name: 1 to 200 characters of printable text, as an identity provider's subject can be. */
export function isOwnerName(value: string): boolean {
  return value.length > 0 && value.length <= MAX_OWNER_LENGTH && !NOT_PRINTABLE.test(value)
}
