import Type from 'typebox'
import { describeSchemaErrors, type SchemaError } from '../../domain/address-entry.js'
import { DomainError, ErrorCode, type CodedError, type ItemFieldError } from '../../domain/errors.js'

/** One kind of error response. `title` is also the HTTP reason phrase and the body's `message`. */
export interface ProblemType {
  readonly code: ErrorCode
  readonly status: number
  readonly title: string
  /** What the body's `detail` says when the error says nothing more particular. */
  readonly detail: string
  /** Headers every answer of this type carries. */
  readonly headers?: (error: CodedError) => ProblemHeaders
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 2
const RETRY = { 'retry-after': String(RETRY_AFTER_SECONDS) } as const
const retryLater = () => RETRY

/** RFC 6750's answer to a token without the scope a request needs. */
function scopeChallenge(error: CodedError): ProblemHeaders {
  const needed = 'needed' in error ? String(error.needed) : 'write'
  return { 'www-authenticate': `Bearer realm="addrservice", error="insufficient_scope", scope="addresses:${needed}"` }
}

type Row = readonly [status: number, title: string, detail: string, headers?: (error: CodedError) => ProblemHeaders]

/**
 * How the JSON API answers each code of the closed list: one row per code. The `type` member of
 * a problem body is `urn:addrservice:problem:<code>`; codes are stable and documented in
 * docs/api.md.
 */
const ROWS: { readonly [K in keyof typeof ErrorCode]: Row } = {
  malformedRequest: [400, 'Bad Request', 'The request could not be read as HTTP.'],
  requestTimeout: [408, 'Request Timeout', 'The request did not arrive within the time limit.'],
  idTooLong: [414, 'URI Too Long', 'An id is at most 100 characters long.'],
  rangeNotSatisfiable: [416, 'Range Not Satisfiable', 'The file has no part in the range the request asks for.'],
  expectationFailed: [417, 'Expectation Failed', 'This server meets no expectation but 100-continue; send the request without the Expect header.'],
  headerFieldsTooLarge: [431, 'Request Header Fields Too Large', 'The request headers are over the limit.'],
  methodNotImplemented: [501, 'Not Implemented', 'This API is not a proxy: it implements no CONNECT tunnel, to any destination.'],
  invalidJsonBody: [400, 'Invalid JSON body', 'The request body is not valid JSON.'],
  invalidCompressedBody: [400, 'Invalid compressed body', 'The request body could not be decompressed with its Content-Encoding.'],
  unsupportedContentEncoding: [
    415,
    'Unsupported Media Type',
    'The request body has a Content-Encoding this API does not accept (use gzip or deflate).',
  ],
  unsupportedMediaType: [415, 'Unsupported Media Type', 'The request body has a media type this endpoint does not take.'],
  payloadTooLarge: [413, 'Payload Too Large', 'The request body is larger than the limit.'],
  invalidHeader: [400, 'Invalid header', 'A request header is not valid; "errors" names each one.'],
  invalidQuery: [400, 'Invalid query parameter', 'A query parameter is not valid; "errors" names each one.'],
  unknownEndpoint: [404, 'Unknown Endpoint', 'The API has no endpoint at this path.'],
  methodNotAllowed: [405, 'Method Not Allowed', 'This endpoint does not support the request method; the Allow header lists those it does.'],
  tooManyRequests: [429, 'Too Many Requests', 'Too many requests in this window; retry after the Retry-After delay.'],
  unauthorized: [401, 'Unauthorized', 'This request needs valid credentials.'],
  insufficientScope: [403, 'Forbidden', 'The credentials do not allow this.', scopeChallenge],
  identityProviderUnavailable: [
    503,
    'Service Unavailable',
    "The identity provider's keys cannot be fetched right now; retry after the Retry-After delay.",
    retryLater,
  ],
  invalidEntry: [
    400,
    'JSON Schema validation failed',
    'The request body is not a valid address entry; "errors" lists every failing field.',
  ],
  invalidImport: [
    400,
    'Invalid import',
    'Some items of the import are not valid entries; "errors" names each failing field with its line or card. Nothing was stored.',
  ],
  entryNotFound: [404, 'Address entry not found', 'No address entry has this id.'],
  entryExists: [409, 'Conflict', 'An address entry with this id already exists.'],
  preconditionFailed: [
    412,
    'Precondition Failed',
    'The entry is not at the version the request is conditional on; nothing was changed. Read it again (GET) for its current ETag.',
  ],
  preconditionRequired: [428, 'Precondition Required', 'Writes must be conditional: send If-Match with the ETag of the version you change.'],
  idempotencyKeyInUse: [409, 'Conflict', 'A request with this Idempotency-Key is still being processed; retry once it has finished.'],
  idempotencyKeyReused: [
    422,
    'Unprocessable Content',
    'This Idempotency-Key was used for a request with a different body; use a new key for a new request.',
  ],
  invalidSyncToken: [400, 'Invalid sync token', 'The sync token was not made by this service for this address book.'],
  syncTokenExpired: [
    410,
    'Gone',
    'The sync token is older than the changes this service keeps: sync in full (GET /addresses), then start again with a new token.',
  ],
  uidConflict: [409, 'Conflict', 'Another card of the address book has this UID; nothing was changed.'],
  unsupportedCard: [415, 'Unsupported Media Type', 'The body is not a vCard (text/vcard); nothing was changed.'],
  invalidCard: [400, 'Invalid card', 'The body is not one well-formed vCard; nothing was changed.'],
  invalidXml: [400, 'Invalid XML', 'The request body is not well-formed XML of the request it should be (a DOCTYPE is never accepted).'],
  depthInfinityRefused: [403, 'Forbidden', 'PROPFIND with Depth: infinity is not served; ask with Depth 0 or 1.'],
  collectionNotAllowed: [403, 'Forbidden', 'Each owner has one address book; no other collection can be made.'],
  invalidKeyRequest: [400, 'Invalid key request', 'The request for a key is not one that can be granted; "errors" names each failing member.'],
  keyNotFound: [404, 'Key not found', 'No key of yours has this id.'],
  labelNotFound: [404, 'Label not found', 'No entry of the address book has this label.'],
  invalidLabel: [400, 'Invalid label', 'The new name is not a label an entry can hold; "errors" says why. Nothing was changed.'],
  invalidPhoto: [400, 'Invalid photo', 'The body is not a whole JPEG, PNG or WebP image; nothing was stored.'],
  photoTooLarge: [413, 'Payload Too Large', 'The image has more pixels than this service decodes; nothing was stored.'],
  photoNotFound: [404, 'Photo not found', 'The entry has no photo.'],
  invalidRestoreTime: [400, 'Invalid restore time', 'The time is not one the book can be put back to: it must lie within the history kept; the detail names the window.'],
  labelBusy: [409, 'Conflict', 'Entries with this label kept changing while it was renamed or deleted; nothing was changed. Try again.'],
  storeUnavailable: [
    503,
    'Service Unavailable',
    'The address book store cannot be reached right now; retry after the Retry-After delay.',
    retryLater,
  ],
  notReady: [503, 'Service Unavailable', 'The service is not ready to serve requests.', retryLater],
  internalError: [500, 'Internal Server Error', 'The server failed to handle the request; request_id identifies it in the logs.'],
}

function problemTypes(): { readonly [K in keyof typeof ErrorCode]: ProblemType } {
  const types: Partial<Record<keyof typeof ErrorCode, ProblemType>> = {}
  for (const name of Object.keys(ROWS) as (keyof typeof ErrorCode)[]) {
    const [status, title, detail, headers] = ROWS[name]
    types[name] = Object.freeze({ code: ErrorCode[name], status, title, detail, ...(headers ? { headers } : {}) })
  }
  return types as { readonly [K in keyof typeof ErrorCode]: ProblemType }
}

/** The problem type of each code, by the code's name: `Problems.entryNotFound`. */
export const Problems = problemTypes()

const BY_CODE: ReadonlyMap<ErrorCode, ProblemType> = new Map(Object.values(Problems).map((problem) => [problem.code, problem]))

/** The problem type of a code; every code of the closed list has one. */
export function problemOf(code: ErrorCode): ProblemType {
  const problem = BY_CODE.get(code)
  if (!problem) throw new Error(`no problem type for the error code ${code}`)
  return problem
}

/** A failing field, and in an import the line or card it is in. */
export type ProblemFieldError = ItemFieldError

/** Headers an error response carries beside its body; a list becomes one header line per value. */
export type ProblemHeaders = Readonly<Record<string, string | readonly string[]>>

/** An error decided by the HTTP layer itself: a code from the list, and what this answer adds to it. */
export class HttpProblem extends Error implements CodedError {
  readonly code: ErrorCode
  readonly detail: string | undefined
  readonly fieldErrors: readonly ItemFieldError[]
  readonly headers: ProblemHeaders | undefined

  constructor(problem: ProblemType, options: { detail?: string; errors?: readonly ItemFieldError[]; headers?: ProblemHeaders } = {}) {
    super(options.detail ?? problem.detail)
    this.name = 'HttpProblem'
    this.code = problem.code
    this.detail = options.detail
    this.fieldErrors = options.errors ?? []
    this.headers = options.headers
  }
}

const FieldErrorSchema = Type.Object(
  {
    line: Type.Optional(Type.Integer({ minimum: 1, description: 'in an NDJSON import: the line (counting from 1) the path is in' })),
    card: Type.Optional(Type.Integer({ minimum: 1, description: 'in a vCard import: the card (counting from 1) the path is in' })),
    path: Type.String({ description: 'where, as a JSON Pointer into the request body (or /<name> of a query parameter)' }),
    message: Type.String({ description: 'why' }),
  },
  { additionalProperties: false },
)

const nullableString = (description: string) => Type.Union([Type.String(), Type.Null()], { description })

/** The body of every error response: RFC 9457 problem details plus the original's members. */
export const ProblemDetails = Type.Object(
  {
    type: Type.String({ description: 'the problem type, urn:addrservice:problem:<slug>; slugs are stable', examples: ['urn:addrservice:problem:entry-not-found'] }),
    title: Type.String({ description: 'short summary of the problem type; also the HTTP reason phrase' }),
    status: Type.Integer({ description: 'the HTTP status code' }),
    detail: Type.String({ description: 'what went wrong with this request' }),
    instance: nullableString('the request path (without its query); null only when the request line could not be read'),
    method: nullableString('the request method; null only when the request line could not be read'),
    uri: nullableString('the request path, as the original API named it'),
    code: Type.Integer({ description: 'the HTTP status code, as the original API named it' }),
    message: Type.String({ description: 'the title, as the original API named it' }),
    request_id: Type.String({ description: 'the X-Request-ID of the request, for the logs' }),
    errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'each failing field or query parameter' })),
    trace: Type.Optional(Type.String({ description: 'the stack trace; only in debug mode' })),
  },
  { additionalProperties: false, title: 'Problem details' },
)


export type ProblemBody = Type.Static<typeof ProblemDetails>

/** What an error becomes on the wire: its problem type, detail and extra members. */
export interface ResolvedProblem {
  problem: ProblemType
  detail: string
  errors?: readonly ProblemFieldError[]
  headers?: ProblemHeaders
}

interface Translation {
  readonly code: ErrorCode
  /** Where the code's own description is not precise enough. */
  readonly detail?: string
}

/** Fastify's and its plugins' errors, by their code, as codes of the list. */
const FRAMEWORK_CODES: Readonly<Record<string, Translation>> = {
  FST_ERR_BAD_URL: { code: ErrorCode.malformedRequest, detail: 'The request path is not valid percent-encoding.' },
  FST_ERR_MAX_PARAM_LENGTH: { code: ErrorCode.idTooLong },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: ErrorCode.payloadTooLarge },
  FST_CP_ERR_INVALID_CONTENT: { code: ErrorCode.invalidCompressedBody },
  FST_CP_ERR_INVALID_CONTENT_ENCODING: { code: ErrorCode.unsupportedContentEncoding },
}

/**
 * The web app's files answer conditional requests and ranges themselves (@fastify/static), with
 * errors that carry only a status. Any other 4xx of the framework is a request it could not read.
 */
const FRAMEWORK_STATUSES: Readonly<Record<number, Translation>> = {
  412: { code: ErrorCode.preconditionFailed, detail: 'The file is not in the state the request is conditional on.' },
  416: { code: ErrorCode.rangeNotSatisfiable },
}

interface FrameworkError {
  code?: unknown
  statusCode?: unknown
  validation?: unknown
  validationContext?: unknown
}

/**
 * An error that is not ours, as a code of the list: Fastify's validation of query strings and
 * headers, and its and its plugins' refusals. Anything else is an internal error, whose detail
 * says nothing about what failed inside.
 */
function codedFrameworkError(error: unknown, bodyLimit: number): CodedError {
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError
  if (Array.isArray(framework.validation)) {
    const errors = describeSchemaErrors(framework.validation as SchemaError[])
    if (framework.validationContext === 'headers') {
      return { code: ErrorCode.invalidHeader, detail: undefined, fieldErrors: errors.map(({ path, message }) => ({ path: path.replace(/^\//, '/headers/'), message })) }
    }
    return { code: ErrorCode.invalidQuery, detail: undefined, fieldErrors: errors }
  }
  const status = typeof framework.statusCode === 'number' ? framework.statusCode : 500
  const { code, detail } = (typeof framework.code === 'string' ? FRAMEWORK_CODES[framework.code] : undefined) ??
    FRAMEWORK_STATUSES[status] ?? { code: status >= 400 && status < 500 ? ErrorCode.malformedRequest : ErrorCode.internalError }
  if (code === ErrorCode.payloadTooLarge) return { code, detail: `The request body is larger than the limit of ${String(bodyLimit)} bytes.`, fieldErrors: [] }
  return { code, detail, fieldErrors: [] }
}

/**
 * Maps any error to the problem it is answered with: the one table of codes, and the error's own
 * detail, failing fields and headers. Only the table's words and those the errors choose to tell
 * reach the client.
 */
export function resolveProblem(error: unknown, bodyLimit: number): ResolvedProblem {
  const coded: CodedError = error instanceof DomainError || error instanceof HttpProblem ? error : codedFrameworkError(error, bodyLimit)
  const problem = problemOf(coded.code)
  const headers = { ...problem.headers?.(coded), ...(error instanceof HttpProblem ? error.headers : {}) }
  return {
    problem,
    detail: coded.detail ?? problem.detail,
    ...(coded.fieldErrors.length > 0 ? { errors: coded.fieldErrors } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  }
}

/** What debug mode tells of an error: its stack trace, or what it says. */
export function traceOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? String(error)) : String(error)
}

export function problemTypeUri(problem: ProblemType): string {
  return `urn:addrservice:problem:${problem.code}`
}

/** Which request a problem answers: its method and request target, null when they could not be read. */
export interface ProblemRequest {
  readonly method: string | null
  readonly target: string | null
  readonly requestId: string
}

/**
 * The members every error body has, whichever layer answers. An answer to HEAD carries no body
 * but the Content-Length of the answer to GET (RFC 9110 sections 9.3.2 and 8.6); since the body
 * names the method, it is the GET's body, built alike for both.
 */
export function problemBody(problem: ProblemType, detail: string, { method, target, requestId }: ProblemRequest): ProblemBody {
  const uri = target === null ? null : truncate(pathOf(target), 1024)
  return {
    type: problemTypeUri(problem),
    title: problem.title,
    status: problem.status,
    detail,
    instance: uri,
    method: method === 'HEAD' ? 'GET' : method,
    uri,
    code: problem.status,
    message: problem.title,
    request_id: requestId,
  }
}

/** A request target without its query. */
export function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text
}
