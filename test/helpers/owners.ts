import type { Authenticator } from '../../src/auth/authenticator.js'

/**
 * An authenticator for tests of several owners and scopes: `Bearer <owner>-<scope>` (alice-write,
 * alice-read, bob-write) acts for that owner with that scope; any other token is refused.
 */
export const OWNER_TOKENS: Authenticator = {
  mode: 'jwt',
  schemes: ['Bearer'],
  authenticate: ({ scheme, ...credential }) => {
    const token = scheme === 'bearer' && 'token' in credential ? credential.token : ''
    const [owner, scope] = token.split('-')
    if (owner !== undefined && (scope === 'read' || scope === 'write')) return Promise.resolve({ principal: { owner, scopes: [scope], method: 'jwt' } })
    return Promise.resolve({ reason: 'unknown token' })
  },
}
