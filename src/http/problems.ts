import Type from 'typebox'
import { STATUS_CODES } from 'node:http'
import { describeSchemaErrors, type FieldError, type SchemaError } from '../domain/address-entry.js'
import { IdentityProviderUnavailableError } from '../auth/verdict.js'
import {
  DomainError,
  DomainErrorCode,
  InsufficientScopeError,
  InvalidCursorError,
  InvalidEntryError,
  InvalidImportError,
  StoreUnavailableError,
} from '../domain/errors.js'

/** One kind of error response. `title` is also the HTTP reason phrase and the body's `message`. */
export interface ProblemType {
  readonly slug: string
  readonly status: number
  readonly title: string
  readonly detail: string
}

const problemType = (slug: string, status: number, title: string, detail: string): ProblemType =>
  Object.freeze({ slug, status, title, detail })

/**
 * The closed list of problem types this API answers with. The `type` member of a problem
 * body is `urn:addrservice:problem:<slug>`; slugs are stable and documented in the README.
 */
export const Problems = {
  invalidJsonBody: problemType('invalid-json-body', 400, 'Invalid JSON body', 'The request body is not valid JSON.'),
  schemaValidationFailed: problemType(
    'schema-validation-failed',
    400,
    'JSON Schema validation failed',
    'The request body is not a valid address entry; "errors" lists every failing field.',
  ),
  invalidQuery: problemType(
    'invalid-query-parameter',
    400,
    'Invalid query parameter',
    'A query parameter is not valid; "errors" names each one.',
  ),
  invalidCompressedBody: problemType(
    'invalid-compressed-body',
    400,
    'Invalid compressed body',
    'The request body could not be decompressed with its Content-Encoding.',
  ),
  badRequest: problemType('bad-request', 400, 'Bad Request', 'The request could not be understood.'),
  invalidHeader: problemType('invalid-header', 400, 'Invalid header', 'A request header is not valid; "errors" names each one.'),
  malformedRequest: problemType('http-400', 400, 'Bad Request', 'The request could not be read as HTTP.'),
  malformedPath: problemType('http-400', 400, 'Bad Request', 'The request path is not valid percent-encoding.'),
  idTooLong: problemType('http-414', 414, 'URI Too Long', 'An id is at most 100 characters long.'),
  unauthorized: problemType('unauthorized', 401, 'Unauthorized', 'This request needs valid credentials.'),
  insufficientScope: problemType(
    'insufficient-scope',
    403,
    'Forbidden',
    'The credentials do not allow this.',
  ),
  unknownEndpoint: problemType('unknown-endpoint', 404, 'Unknown Endpoint', 'The API has no endpoint at this path.'),
  entryNotFound: problemType('entry-not-found', 404, 'Address entry not found', 'No address entry has this id.'),
  methodNotAllowed: problemType(
    'method-not-allowed',
    405,
    'Method Not Allowed',
    'This endpoint does not support the request method; the Allow header lists those it does.',
  ),
  entryExists: problemType('entry-exists', 409, 'Conflict', 'An address entry with this id already exists.'),
  requestTimeout: problemType('http-408', 408, 'Request Timeout', 'The request did not arrive within the time limit.'),
  preconditionFailed: problemType(
    'precondition-failed',
    412,
    'Precondition Failed',
    'The entry is not at the version the request is conditional on; nothing was changed. Read it again (GET) for its current ETag.',
  ),
  payloadTooLarge: problemType('payload-too-large', 413, 'Payload Too Large', 'The request body is larger than the limit.'),
  unsupportedContentEncoding: problemType(
    'unsupported-content-encoding',
    415,
    'Unsupported Media Type',
    'The request body has a Content-Encoding this API does not accept (use gzip or deflate).',
  ),
  expectationFailed: problemType(
    'http-417',
    417,
    'Expectation Failed',
    'This server meets no expectation but 100-continue; send the request without the Expect header.',
  ),
  headerFieldsTooLarge: problemType(
    'http-431',
    431,
    'Request Header Fields Too Large',
    'The request headers are over the limit.',
  ),
  unsupportedMediaType: problemType('unsupported-media-type', 415, 'Unsupported Media Type', 'The request body has a media type this endpoint does not take.'),
  invalidImport: problemType(
    'invalid-import',
    400,
    'Invalid import',
    'Some items of the import are not valid entries; "errors" names each failing field with its line or card. Nothing was stored.',
  ),
  idempotencyKeyInUse: problemType(
    'idempotency-key-in-use',
    409,
    'Conflict',
    'A request with this Idempotency-Key is still being processed; retry once it has finished.',
  ),
  idempotencyKeyReused: problemType(
    'idempotency-key-reused',
    422,
    'Unprocessable Content',
    'This Idempotency-Key was used for a request with a different body; use a new key for a new request.',
  ),
  invalidSyncToken: problemType('invalid-sync-token', 400, 'Invalid sync token', 'The sync token was not made by this service for this address book.'),
  syncTokenExpired: problemType(
    'sync-token-expired',
    410,
    'Gone',
    'The sync token is older than the changes this service keeps: sync in full (GET /addresses), then start again with a new token.',
  ),
  preconditionRequired: problemType(
    'precondition-required',
    428,
    'Precondition Required',
    'Writes must be conditional: send If-Match with the ETag of the version you change.',
  ),
  tooManyRequests: problemType(
    'too-many-requests',
    429,
    'Too Many Requests',
    'Too many requests in this window; retry after the Retry-After delay.',
  ),
  storeUnavailable: problemType(
    'store-unavailable',
    503,
    'Service Unavailable',
    'The address book store cannot be reached right now; retry after the Retry-After delay.',
  ),
  identityProviderUnavailable: problemType(
    'identity-provider-unavailable',
    503,
    'Service Unavailable',
    "The identity provider's keys cannot be fetched right now; retry after the Retry-After delay.",
  ),
  notReady: problemType('not-ready', 503, 'Service Unavailable', 'The service is not ready to serve requests.'),
  methodNotImplemented: problemType(
    'http-501',
    501,
    'Not Implemented',
    'This API is not a proxy: it implements no CONNECT tunnel, to any destination.',
  ),
  internalError: problemType(
    'internal-error',
    500,
    'Internal Server Error',
    'The server failed to handle the request; request_id identifies it in the logs.',
  ),
} as const

/** A failing field, and in an import the line or card it is in. */
export type ProblemFieldError = FieldError & { readonly line?: number; readonly card?: number }

/** Headers an error response carries beside its body; a list becomes one header line per value. */
export type ProblemHeaders = Readonly<Record<string, string | readonly string[]>>

/** An error response decided by the HTTP layer itself. */
export class HttpProblem extends Error {
  constructor(
    readonly problem: ProblemType,
    readonly options: { detail?: string; errors?: readonly ProblemFieldError[]; headers?: ProblemHeaders } = {},
  ) {
    super(options.detail ?? problem.detail)
    this.name = 'HttpProblem'
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

const DOMAIN_PROBLEMS: Record<DomainErrorCode, ProblemType> = {
  [DomainErrorCode.entryNotFound]: Problems.entryNotFound,
  [DomainErrorCode.invalidEntry]: Problems.schemaValidationFailed,
  [DomainErrorCode.entryExists]: Problems.entryExists,
  [DomainErrorCode.storeUnavailable]: Problems.storeUnavailable,
  [DomainErrorCode.insufficientScope]: Problems.insufficientScope,
  [DomainErrorCode.preconditionFailed]: Problems.preconditionFailed,
  [DomainErrorCode.preconditionRequired]: Problems.preconditionRequired,
  [DomainErrorCode.invalidCursor]: Problems.invalidQuery,
  [DomainErrorCode.invalidImport]: Problems.invalidImport,
  [DomainErrorCode.idempotencyKeyInUse]: Problems.idempotencyKeyInUse,
  [DomainErrorCode.idempotencyKeyReused]: Problems.idempotencyKeyReused,
  [DomainErrorCode.invalidSyncToken]: Problems.invalidSyncToken,
  [DomainErrorCode.syncTokenExpired]: Problems.syncTokenExpired,
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 2

const FRAMEWORK_PROBLEMS: Record<string, ProblemType> = {
  FST_ERR_BAD_URL: Problems.malformedPath,
  FST_ERR_MAX_PARAM_LENGTH: Problems.idTooLong,
  FST_ERR_CTP_BODY_TOO_LARGE: Problems.payloadTooLarge,
  FST_CP_ERR_INVALID_CONTENT: Problems.invalidCompressedBody,
  FST_CP_ERR_INVALID_CONTENT_ENCODING: Problems.unsupportedContentEncoding,
}

interface FrameworkError {
  code?: unknown
  statusCode?: unknown
  validation?: unknown
  validationContext?: unknown
}

/**
 * Maps any error to the problem it is answered with. Only the problem catalogue's own words
 * and the domain's messages reach the client; every other error becomes a 500 whose detail
 * says nothing about what failed inside.
 */
export function resolveProblem(error: unknown, bodyLimit: number): ResolvedProblem {
  if (error instanceof HttpProblem) {
    return { problem: error.problem, detail: error.message, ...error.options }
  }
  if (error instanceof InvalidEntryError) {
    return { problem: Problems.schemaValidationFailed, detail: Problems.schemaValidationFailed.detail, errors: error.errors }
  }
  if (error instanceof StoreUnavailableError || error instanceof IdentityProviderUnavailableError) {
    const problem = error instanceof StoreUnavailableError ? Problems.storeUnavailable : Problems.identityProviderUnavailable
    return { problem, detail: problem.detail, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } }
  }
  if (error instanceof InsufficientScopeError) {
    const problem = Problems.insufficientScope
    const challenge = `Bearer realm="addrservice", error="insufficient_scope", scope="addresses:${error.needed}"`
    return { problem, detail: `The credentials do not allow this: it needs the ${error.needed} scope.`, headers: { 'www-authenticate': challenge } }
  }
  if (error instanceof InvalidImportError) {
    const errors = error.items.flatMap(({ line, card, errors: fields }) =>
      fields.map((field) => ({ ...(line === undefined ? {} : { line }), ...(card === undefined ? {} : { card }), ...field })),
    )
    return { problem: Problems.invalidImport, detail: Problems.invalidImport.detail, errors }
  }
  if (error instanceof InvalidCursorError) {
    return { problem: Problems.invalidQuery, detail: Problems.invalidQuery.detail, errors: [{ path: '/cursor', message: error.message.replace(/^The cursor /, '') }] }
  }
  if (error instanceof DomainError) {
    return { problem: DOMAIN_PROBLEMS[error.code], detail: error.message }
  }
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError
  if (Array.isArray(framework.validation) && framework.validationContext === 'headers') {
    const errors = describeSchemaErrors(framework.validation as SchemaError[]).map(({ path, message }) => ({ path: path.replace(/^\//, '/headers/'), message }))
    return { problem: Problems.invalidHeader, detail: Problems.invalidHeader.detail, errors }
  }
  if (Array.isArray(framework.validation) && framework.validationContext === 'querystring') {
    return { problem: Problems.invalidQuery, detail: Problems.invalidQuery.detail, errors: describeSchemaErrors(framework.validation as SchemaError[]) }
  }
  if (Array.isArray(framework.validation)) {
    return {
      problem: Problems.schemaValidationFailed,
      detail: Problems.schemaValidationFailed.detail,
      errors: describeSchemaErrors(framework.validation as SchemaError[]),
    }
  }
  const known = typeof framework.code === 'string' ? FRAMEWORK_PROBLEMS[framework.code] : undefined
  if (known === Problems.payloadTooLarge) {
    return { problem: known, detail: `The request body is larger than the limit of ${String(bodyLimit)} bytes.` }
  }
  if (known) return { problem: known, detail: known.detail }
  const status = typeof framework.statusCode === 'number' ? framework.statusCode : 500
  if (status >= 400 && status < 500) {
    const title = STATUS_CODES[status] ?? 'Bad Request'
    const generic = problemType(`http-${String(status)}`, status, title, `The request failed: ${title}.`)
    return { problem: generic, detail: generic.detail }
  }
  return { problem: Problems.internalError, detail: Problems.internalError.detail }
}

export function problemTypeUri(problem: ProblemType): string {
  return `urn:addrservice:problem:${problem.slug}`
}

/** Which request a problem answers: its method and request target, null when they could not be read. */
export interface ProblemRequest {
  readonly method: string | null
  readonly target: string | null
  readonly requestId: string
}

/** The members every error body has, whichever layer answers. */
export function problemBody(problem: ProblemType, detail: string, { method, target, requestId }: ProblemRequest): ProblemBody {
  const uri = target === null ? null : truncate(pathOf(target), 1024)
  return {
    type: problemTypeUri(problem),
    title: problem.title,
    status: problem.status,
    detail,
    instance: uri,
    method,
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
