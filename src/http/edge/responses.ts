import Type from 'typebox'
import { ProblemDetails, problemTypeUri, type ProblemType } from './problems.js'

/**
 * The responses routes declare in their schemas: their bodies (serialized from these schemas)
 * and their headers. The OpenAPI document is generated from the same declarations.
 */

/** A response header as the document describes it. */
type HeaderSchema = ReturnType<typeof Type.String>

const digits = (description: string): HeaderSchema => Type.String({ pattern: '^[0-9]+$', description })

export const Headers = {
  etag: Type.String({
    pattern: '^"[1-9][0-9]*(-vcard[34])?"$',
    description: 'the strong entity tag of the entry\'s stored version: "3" for JSON, "3-vcard4" or "3-vcard3" for vCard; send it back in If-Match',
  }),
  idempotentReplayed: Type.String({ enum: ['true'], description: 'this is the recorded response to an earlier request with the same Idempotency-Key' }),
  vary: Type.String({ description: 'the request headers the response depends on' }),
  bodyEtag: Type.String({ pattern: '^W/"[A-Za-z0-9_-]+"$', description: 'a weak entity tag of this body; send it back in If-None-Match to get 304 while it is unchanged' }),
  location: Type.String({ pattern: '^/addresses/[a-zA-Z0-9-]+$', description: 'the path of the new entry' }),
  link: Type.String({ description: 'the next page: <…?cursor=…>; rel="next" (RFC 8288); absent on the last page' }),
  totalCount: digits('how many entries match the filters, over all pages; only with count=true'),
  allow: Type.String({ description: 'the methods this path answers' }),
  retryAfter: digits('seconds to wait before retrying'),
  wwwAuthenticate: Type.String({ description: 'the challenges of the authentication schemes this server accepts (RFC 6750 errors for Bearer)' }),
  rateLimitLimit: digits('the requests allowed in a window'),
  rateLimitRemaining: digits('the requests left in this window'),
  rateLimitReset: digits('seconds until the window resets'),
} satisfies Record<string, HeaderSchema>

export type ResponseHeaders = Record<string, HeaderSchema>

/** A response with no body. */
export function emptyResponse(description: string, headers?: ResponseHeaders) {
  return { type: 'null', description, ...(headers ? { headers } : {}) } as const
}

/** A JSON response body. */
export function jsonResponse<T extends Type.TSchema>(description: string, schema: T, headers?: ResponseHeaders) {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } }
}

/** A response body in several media types, as the client's Accept chooses. */
export function contentResponse(description: string, content: Readonly<Record<string, Type.TSchema>>, headers?: ResponseHeaders) {
  return { description, ...(headers ? { headers } : {}), content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])) }
}

/** The headers an error response of each status carries. */
const PROBLEM_HEADERS: Readonly<Record<number, ResponseHeaders>> = {
  401: { 'WWW-Authenticate': Headers.wwwAuthenticate },
  403: { 'WWW-Authenticate': Headers.wwwAuthenticate },
  429: { 'Retry-After': Headers.retryAfter },
  503: { 'Retry-After': Headers.retryAfter },
}

/** An error response; its description names each problem type a route may answer it with. */
function problemResponse(problems: readonly ProblemType[], headers?: ResponseHeaders) {
  const description = problems.map((problem) => `${problemTypeUri(problem)}: ${problem.detail}`).join('\n\n')
  return { description, ...(headers ? { headers } : {}), content: { 'application/problem+json': { schema: ProblemDetails } } }
}

/** The problem types a route may answer, by status. */
export type ProblemsByStatus = Readonly<Partial<Record<number, readonly ProblemType[]>>>

/** Error responses for several lists of problems, merged status by status. */
export function problemResponses(...lists: readonly ProblemsByStatus[]): Responses {
  const merged = new Map<number, ProblemType[]>()
  for (const list of lists) {
    for (const [status, problems = []] of Object.entries(list)) {
      const known = merged.get(Number(status)) ?? []
      merged.set(Number(status), [...known, ...problems.filter((problem) => !known.includes(problem))])
    }
  }
  return Object.fromEntries([...merged].map(([status, problems]) => [status, problemResponse(problems, PROBLEM_HEADERS[status])]))
}

export type RouteResponse = ReturnType<typeof emptyResponse> | ReturnType<typeof jsonResponse> | ReturnType<typeof contentResponse> | ReturnType<typeof problemResponse>

export type Responses = Record<number, RouteResponse>

/**
 * What the hooks in front of a group of routes add to each route's responses: authentication
 * (401 and 403, and the security requirement), the rate limit (429, and its headers on every
 * response). Empty when neither is on.
 */
export interface Guard {
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[]
  readonly authentication: Responses
  readonly rateLimit: Responses
  readonly rateLimitHeaders: ResponseHeaders
}

export const NO_GUARD: Guard = { authentication: {}, rateLimit: {}, rateLimitHeaders: {} }

/** A route's responses with those its guard adds; `authenticated: false` for routes that need no credentials. */
export function withGuard(guard: Guard, responses: Responses, { authenticated = true } = {}): Responses {
  const all: Responses = { ...responses, ...(authenticated ? guard.authentication : {}), ...guard.rateLimit }
  if (Object.keys(guard.rateLimitHeaders).length === 0) return all
  return Object.fromEntries(
    Object.entries(all).map(([status, response]) => [status, { ...response, headers: { ...response.headers, ...guard.rateLimitHeaders } }]),
  )
}
