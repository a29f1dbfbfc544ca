import type { ApiKeys } from './api-keys.js'
import type { JwtVerifier } from './jwt.js'
import type { Verdict } from './verdict.js'

/** A credential as the Authorization header carried it. */
export type Credential =
  | { readonly scheme: 'bearer'; readonly token: string }
  | { readonly scheme: 'basic'; readonly user: string; readonly password: string }

/** Turns a credential into a principal; one per authentication mode. */
export interface Authenticator {
  readonly mode: 'api-key' | 'jwt'
  /** The HTTP authentication schemes this mode accepts, for the challenges of a 401. */
  readonly schemes: readonly ('Bearer' | 'Basic')[]
  /** Who presents the credential, or why it is refused. Rejects only when the verdict cannot be reached now. */
  authenticate(credential: Credential): Promise<Verdict>
}

/**
 * API keys, as a bearer token or as the password of Basic authentication (for contacts apps
 * and tools that speak nothing else), where the user name must be the key's owner.
 */
export function apiKeyAuthenticator(keys: ApiKeys): Authenticator {
  return {
    mode: 'api-key',
    schemes: ['Bearer', 'Basic'],
    async authenticate(credential) {
      if (credential.scheme === 'bearer') return keys.authenticate(credential.token)
      const verdict = await keys.authenticate(credential.password)
      if ('principal' in verdict && verdict.principal.owner !== credential.user) return { reason: 'basic user name is not the key owner' }
      return verdict
    },
  }
}

/**
 * Bearer JSON Web Tokens; and, given the owners' API keys, Basic with one of them, so that the
 * devices of people who sign in with a JWT (a phone's contacts app speaks Basic only) have a
 * password of their own. A bearer credential is always a JWT here.
 */
export function jwtAuthenticator(verifier: JwtVerifier, keys?: ApiKeys): Authenticator {
  const basic = keys ? apiKeyAuthenticator(keys) : undefined
  return {
    mode: 'jwt',
    schemes: basic ? ['Bearer', 'Basic'] : ['Bearer'],
    authenticate(credential) {
      if (credential.scheme === 'bearer') return verifier.verify(credential.token)
      return basic ? basic.authenticate(credential) : Promise.resolve({ reason: 'basic authentication is not accepted with jwt' })
    },
  }
}
