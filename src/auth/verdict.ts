import { DomainError, ErrorCode } from '../domain/errors.js'
import type { Principal } from '../domain/principal.js'

/**
 * What checking a credential concludes: who the caller is, or why the credential is refused.
 * The reason is for the log line only; clients learn no more than "missing" or "invalid".
 */
export type Verdict = { readonly principal: Principal } | { readonly reason: string }

/** The identity provider's keys cannot be fetched right now; the same request may succeed later. */
export class IdentityProviderUnavailableError extends DomainError {
  readonly code = ErrorCode.identityProviderUnavailable
  constructor(options?: { cause?: unknown }) {
    super("The identity provider's keys cannot be fetched", { detail: null, cause: options?.cause })
  }
}
