import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import type { Authenticator, Credential } from '../../auth/authenticator.js'
import { InsufficientScopeError } from '../../domain/errors.js'
import { ANONYMOUS_PRINCIPAL, hasScope, type Principal } from '../../domain/principal.js'
import { HttpProblem, Problems } from './problems.js'
import { problemResponses, type Guard } from './responses.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who is calling: decided by the authentication hooks, before the handler runs; absent from
     * requests outside the routes authentication guards (probes, unknown endpoints).
     */
    principal?: Principal | null
    /** Why the credentials were refused, when they were; answered with 401 once the rate limit has counted the request. */
    authFailure: AuthFailure | null
  }
}

export interface AuthFailure {
  /** Whether a credential was presented at all (RFC 6750: only then is it an invalid_token). */
  readonly presented: boolean
  /** A short, fixed reason for the log line and the metric label; never the credential. */
  readonly reason: string
}

export const REALM = 'addrservice'
/** All a client learns of a refusal: whether credentials were missing or are not valid. */
const MISSING = 'This request needs credentials in the Authorization header.'
const INVALID = 'The credentials in the Authorization header are not valid.'

/** Methods that only look; every other one needs the write scope. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

/** A header of the form `Scheme credentials`; the scheme is case-insensitive (RFC 9110). */
const AUTHORIZATION = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: +(.*))?$/
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/

/** What the Authorization header holds: nothing, a credential, or something refused as it stands. */
export function parseAuthorization(header: string | undefined): Credential | AuthFailure | undefined {
  if (header === undefined) return undefined
  const match = AUTHORIZATION.exec(header.trim())
  const scheme = match?.[1]?.toLowerCase()
  const value = match?.[2]?.trim() ?? ''
  if (scheme === 'bearer') {
    return TOKEN68.test(value) ? { scheme: 'bearer', token: value } : { presented: true, reason: 'malformed bearer token' }
  }
  if (scheme === 'basic') {
    const decoded = TOKEN68.test(value) ? Buffer.from(value, 'base64').toString('utf8') : ''
    const colon = decoded.indexOf(':')
    if (colon <= 0) return { presented: true, reason: 'malformed basic credentials' }
    return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  return { presented: false, reason: 'unsupported authorization scheme' }
}

/** The challenges of a 401: each scheme the mode accepts, with RFC 6750's error when a credential was presented. */
export function challenges(authenticator: Authenticator, presented: boolean): string[] {
  return authenticator.schemes.map((scheme) =>
    scheme === 'Bearer'
      ? `Bearer realm="${REALM}"${presented ? ', error="invalid_token"' : ''}`
      : `Basic realm="${REALM}", charset="UTF-8"`,
  )
}

/** An OpenAPI security scheme object. */
export interface SecurityScheme {
  readonly type: 'http'
  readonly scheme: 'bearer' | 'basic'
  readonly bearerFormat?: string
  readonly description: string
}

/** The OpenAPI security schemes a mode accepts, by the names its operations refer to them. */
export function securitySchemes(authenticator: Authenticator): Record<string, SecurityScheme> {
  const schemes: Record<string, SecurityScheme> = {}
  for (const scheme of authenticator.schemes) {
    if (scheme === 'Basic') {
      schemes.basic = { type: 'http', scheme: 'basic', description: "the key's owner as the user name and the API key as the password" }
    } else if (authenticator.mode === 'jwt') {
      schemes.bearer = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a JSON Web Token from the configured issuer' }
    } else {
      schemes.bearer = { type: 'http', scheme: 'bearer', description: 'an API key, as `addrservice keys create` prints it' }
    }
  }
  return schemes
}

/** What authentication adds to the description of each route it guards: its schemes (any one will do), 401 and 403. */
export function authenticationGuard(authenticator: Authenticator): Pick<Guard, 'security' | 'authentication'> {
  return {
    security: Object.keys(securitySchemes(authenticator)).map((name) => ({ [name]: [] })),
    authentication: problemResponses({ 401: [Problems.unauthorized], 403: [Problems.insufficientScope] }),
  }
}

export interface AuthenticationOptions {
  /** None: authentication is off, every request acts for the default owner with every scope. */
  readonly authenticator: Authenticator | undefined
  readonly metrics?: Registry | undefined
  /** The methods that only look, which a read-only credential may use: GET, HEAD and OPTIONS by default. */
  readonly readMethods?: ReadonlySet<string> | undefined
}

/**
 * Decides who calls each request of this scope: an onRequest hook resolves the principal (or
 * the reason there is none) and a preParsing hook refuses the request, so that a rate limiter
 * registered in between counts refused requests per client address, and a refused request
 * never has its body read. Writing with a read-only credential is refused here too.
 */
export function addAuthentication(app: FastifyInstance, { authenticator, metrics, readMethods = READ_METHODS }: AuthenticationOptions): void {
  if (!authenticator) {
    // Every request of this scope acts for the default owner: a property of the scope's requests,
    // so that no hook has to run for each of them.
    app.decorateRequest('principal', { getter: () => ANONYMOUS_PRINCIPAL })
    return
  }
  app.decorateRequest('principal', null)
  const failures = metrics
    ? authFailureCounter(metrics)
    : undefined
  const refuse = (request: FastifyRequest, failure: AuthFailure) => {
    request.authFailure = failure
    failures?.inc({ reason: failure.reason })
  }

  app.addHook('onRequest', async (request) => {
    // OPTIONS describes the endpoint and needs no credentials (CORS preflights never carry any).
    if (request.method === 'OPTIONS') return
    const parsed = parseAuthorization(request.headers.authorization)
    if (parsed === undefined) {
      refuse(request, { presented: false, reason: 'missing credentials' })
      return
    }
    if ('reason' in parsed) {
      refuse(request, parsed)
      return
    }
    const verdict = await authenticator.authenticate(parsed)
    if ('principal' in verdict) request.principal = verdict.principal
    else refuse(request, { presented: true, reason: verdict.reason })
  })

  app.addHook('preParsing', (request, _reply, payload, done) => {
    const { authFailure, principal } = request
    if (authFailure) {
      done(
        new HttpProblem(Problems.unauthorized, {
          detail: authFailure.presented ? INVALID : MISSING,
          headers: { 'www-authenticate': challenges(authenticator, authFailure.presented) },
        }),
      )
      return
    }
    if (principal && !readMethods.has(request.method) && !hasScope(principal, 'write')) {
      done(new InsufficientScopeError('write'))
      return
    }
    done(null, payload)
  })
}

const AUTH_FAILURES = 'addrservice_auth_failures_total'

/** The one counter of refusals in a registry, whichever protocol's scope counts them. */
function authFailureCounter(metrics: Registry): Counter<'reason'> {
  const existing = metrics.getSingleMetric(AUTH_FAILURES)
  if (existing instanceof Counter) return existing
  return new Counter({ name: AUTH_FAILURES, help: 'Requests refused by authentication, by reason', labelNames: ['reason'], registers: [metrics] })
}

/** The caller of a request that passed authentication; a route reached without one is a defect, not a guest. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('no principal: the route is outside the authentication scope')
  return request.principal
}
