import type { FieldError } from './address-entry.js'
import type { Scope } from './principal.js'

/**
 * The closed list of error codes. Every refusal or failure the service answers with names one,
 * whichever layer decides it (the service, authentication, the HTTP edge) and whichever protocol
 * carries it; clients see them as the JSON API's problem types, `urn:addrservice:problem:<code>`,
 * so they are stable. How a protocol answers each (status, title, headers) is its own business.
 */
export const ErrorCode = {
  /** The request cannot be read as HTTP, or its path is not valid percent-encoding. */
  malformedRequest: 'http-400',
  requestTimeout: 'http-408',
  /** An id longer than ids are. */
  idTooLong: 'http-414',
  rangeNotSatisfiable: 'http-416',
  expectationFailed: 'http-417',
  headerFieldsTooLarge: 'http-431',
  /** CONNECT: this is not a proxy. */
  methodNotImplemented: 'http-501',
  invalidJsonBody: 'invalid-json-body',
  invalidCompressedBody: 'invalid-compressed-body',
  unsupportedContentEncoding: 'unsupported-content-encoding',
  unsupportedMediaType: 'unsupported-media-type',
  payloadTooLarge: 'payload-too-large',
  invalidHeader: 'invalid-header',
  invalidQuery: 'invalid-query-parameter',
  unknownEndpoint: 'unknown-endpoint',
  methodNotAllowed: 'method-not-allowed',
  tooManyRequests: 'too-many-requests',
  unauthorized: 'unauthorized',
  insufficientScope: 'insufficient-scope',
  identityProviderUnavailable: 'identity-provider-unavailable',
  invalidEntry: 'schema-validation-failed',
  invalidImport: 'invalid-import',
  entryNotFound: 'entry-not-found',
  entryExists: 'entry-exists',
  preconditionFailed: 'precondition-failed',
  preconditionRequired: 'precondition-required',
  idempotencyKeyInUse: 'idempotency-key-in-use',
  idempotencyKeyReused: 'idempotency-key-reused',
  invalidSyncToken: 'invalid-sync-token',
  syncTokenExpired: 'sync-token-expired',
  /** A card (CardDAV) with the UID of another card of the book. */
  uidConflict: 'uid-conflict',
  /** A body that is not the kind of document the resource takes (CardDAV: not a vCard). */
  unsupportedCard: 'unsupported-card',
  /** A card that cannot be read: not well-formed vCard, or several cards in one resource. */
  invalidCard: 'invalid-card',
  /** A DAV request body that is not well-formed XML, has a DOCTYPE, or is not the request it should be. */
  invalidXml: 'invalid-xml',
  /** PROPFIND with Depth: infinity. */
  depthInfinityRefused: 'depth-infinity-refused',
  /** A collection this server will not make: each owner has one address book. */
  collectionNotAllowed: 'collection-not-allowed',
  /** A request for a device key that is not one: its label or scope. */
  invalidKeyRequest: 'invalid-key-request',
  /** No key of the caller's owner has this id. */
  keyNotFound: 'key-not-found',
  /** No entry of the caller's book has this label. */
  labelNotFound: 'label-not-found',
  /** A label's new name that is not a label. */
  invalidLabel: 'invalid-label',
  /** The entries with a label kept changing while it was renamed or deleted. */
  labelBusy: 'label-busy',
  /** A photo whose bytes are not a whole JPEG, PNG or WebP image. */
  invalidPhoto: 'invalid-photo',
  /** A photo with more pixels than the service decodes (a decompression bomb, say). */
  photoTooLarge: 'photo-too-large',
  /** An entry without a photo, asked for its photo. */
  photoNotFound: 'photo-not-found',
  /** A time to put a book back to that is not a time, is in the future, or is before the history kept. */
  invalidRestoreTime: 'invalid-restore-time',
  storeUnavailable: 'store-unavailable',
  notReady: 'not-ready',
  internalError: 'internal-error',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** A failing field, and in an import the line or card (counting from 1) it is in. */
export interface ItemFieldError extends FieldError {
  readonly line?: number
  readonly card?: number
}

/** An error that names its code: what every layer throws, and what protocols answer. */
export interface CodedError {
  readonly code: ErrorCode
  /** What the caller is told of this occurrence; none when the code's own description says it all. */
  readonly detail: string | undefined
  /** Each value of the request that failed, where it is and why; empty when the code is not about one. */
  readonly fieldErrors: readonly ItemFieldError[]
}

interface DomainErrorOptions {
  /** What the caller is told, when not the message; null when the code's own description says it all. */
  readonly detail?: string | null
  readonly fieldErrors?: readonly ItemFieldError[]
  readonly cause?: unknown
}

/**
 * The errors of the domain: plain, with a code from the list and nothing of transport. The
 * message is for logs; `detail` is what a caller may be told.
 */
export abstract class DomainError extends Error implements CodedError {
  abstract readonly code: ErrorCode
  readonly detail: string | undefined
  readonly fieldErrors: readonly ItemFieldError[]

  protected constructor(message: string, { detail, fieldErrors = [], cause }: DomainErrorOptions = {}) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = new.target.name
    this.detail = detail === undefined ? message : (detail ?? undefined)
    this.fieldErrors = fieldErrors
  }
}

export class EntryNotFoundError extends DomainError {
  readonly code = ErrorCode.entryNotFound
  constructor(readonly id: string) {
    super(`No address entry with id ${JSON.stringify(id.slice(0, 100))}`)
  }
}

/** A value that is not a valid address entry: every failing field is named. */
export class InvalidEntryError extends DomainError {
  readonly code = ErrorCode.invalidEntry
  constructor(readonly errors: readonly FieldError[]) {
    super(`Invalid address entry: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, { detail: null, fieldErrors: errors })
  }
}

export class EntryExistsError extends DomainError {
  readonly code = ErrorCode.entryExists
  constructor(readonly id: string) {
    super(`An address entry with id ${JSON.stringify(id)} already exists`)
  }
}

/** The store cannot be reached right now; the same request may succeed later. */
export class StoreUnavailableError extends DomainError {
  readonly code = ErrorCode.storeUnavailable
  constructor(options?: { cause?: unknown }) {
    super('The address book store is unavailable', { detail: null, cause: options?.cause })
  }
}

/** The caller may not do this: its credential lacks the scope. */
export class InsufficientScopeError extends DomainError {
  readonly code = ErrorCode.insufficientScope
  constructor(readonly needed: Scope) {
    super(`The credentials do not allow this: it needs the ${needed} scope.`)
  }
}

/** The entry is not at a version the caller named (or, for a conditional create, it exists). */
export class PreconditionFailedError extends DomainError {
  readonly code = ErrorCode.preconditionFailed
  constructor(readonly id: string) {
    super(`The address entry ${JSON.stringify(id.slice(0, 100))} is not in the state the request is conditional on`)
  }
}

/** Writes must name the version they change, and this one did not. */
export class PreconditionRequiredError extends DomainError {
  readonly code = ErrorCode.preconditionRequired
  constructor() {
    super('This write must be conditional on the version it changes (If-Match)')
  }
}

/** A listing cursor that this service did not make, or made for other filters or another order. */
export class InvalidCursorError extends DomainError {
  readonly code = ErrorCode.invalidQuery
  constructor(readonly reason: string) {
    super(`The cursor ${reason}`, { detail: null, fieldErrors: [{ path: '/cursor', message: reason }] })
  }
}

/** What is wrong with one item of an import: its position (0-based, and in its source) and each failing field. */
export interface ImportItemErrors {
  readonly index: number
  readonly line?: number | undefined
  readonly card?: number | undefined
  readonly errors: readonly FieldError[]
}

/**
 * An import of several entries of which at least one cannot be stored; none is. `complete` is
 * false when checking stopped at a limit of errors, so that more items may be wrong than named.
 */
export class InvalidImportError extends DomainError {
  readonly code = ErrorCode.invalidImport
  constructor(
    readonly items: readonly ImportItemErrors[],
    { complete = true }: { complete?: boolean } = {},
  ) {
    const fieldErrors = items.flatMap(({ line, card, errors }) =>
      errors.map((field) => ({ ...(line === undefined ? {} : { line }), ...(card === undefined ? {} : { card }), ...field })),
    )
    super(`${String(items.length)}${complete ? '' : ' or more'} item(s) of the import are not valid entries; nothing was stored`, {
      detail: complete ? null : `Checking stopped after the first ${String(fieldErrors.length)} errors, which "errors" names; there may be more. Nothing was stored.`,
      fieldErrors,
    })
  }
}

/** A request with an idempotency key whose first request has not finished yet. */
export class IdempotencyKeyInUseError extends DomainError {
  readonly code = ErrorCode.idempotencyKeyInUse
  constructor() {
    super('A request with this idempotency key is still being processed')
  }
}

/** An idempotency key sent again with a different request. */
export class IdempotencyKeyReusedError extends DomainError {
  readonly code = ErrorCode.idempotencyKeyReused
  constructor() {
    super('This idempotency key was used for a different request')
  }
}

/** A sync token this service did not make, or made for another owner. */
export class InvalidSyncTokenError extends DomainError {
  readonly code = ErrorCode.invalidSyncToken
  constructor(readonly reason: string) {
    super(`The sync token ${reason}`)
  }
}

/** A sync token older than the deletions the store still remembers: the client must sync in full. */
export class SyncTokenExpiredError extends DomainError {
  readonly code = ErrorCode.syncTokenExpired
  constructor() {
    super('The sync token is older than the changes kept; sync in full and use the new token')
  }
}

/** A card whose UID is already another card's: a book holds each contact once. */
export class UidConflictError extends DomainError {
  readonly code = ErrorCode.uidConflict
  constructor(
    /** The name of the card that has the UID. */
    readonly holder: string,
  ) {
    super(`Another card (${JSON.stringify(holder.slice(0, 300))}) has this UID`)
  }
}

/** A request for a new key that cannot be granted: each failing member is named. */
export class InvalidKeyRequestError extends DomainError {
  readonly code = ErrorCode.invalidKeyRequest
  constructor(readonly errors: readonly FieldError[]) {
    super(`Invalid key request: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, { detail: null, fieldErrors: errors })
  }
}

/** No key of the caller's owner has this id (another owner's key included). */
export class KeyNotFoundError extends DomainError {
  readonly code = ErrorCode.keyNotFound
  constructor(readonly id: string) {
    super(`No key with id ${JSON.stringify(id.slice(0, 100))}`)
  }
}

/** No entry of the caller's book has this label (compared case-insensitively). */
export class LabelNotFoundError extends DomainError {
  readonly code = ErrorCode.labelNotFound
  constructor(readonly label: string) {
    super(`No entry has the label ${JSON.stringify(label.slice(0, 100))}`)
  }
}

/** A label's new name that an entry cannot hold. */
export class InvalidLabelError extends DomainError {
  readonly code = ErrorCode.invalidLabel
  constructor(readonly errors: readonly FieldError[]) {
    super(`Invalid label: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, { detail: null, fieldErrors: errors })
  }
}

/** The entries with a label kept changing under a rename or a deletion of it, which changed nothing. */
export class LabelBusyError extends DomainError {
  readonly code = ErrorCode.labelBusy
  constructor(readonly label: string) {
    super(`The entries with the label ${JSON.stringify(label.slice(0, 100))} kept changing; nothing was changed`)
  }
}

/** A photo whose bytes are not an image the service reads: the reason says what is wrong. */
export class InvalidPhotoError extends DomainError {
  readonly code = ErrorCode.invalidPhoto
  constructor(reason: string) {
    super(`Invalid photo: ${reason}`, { detail: `The photo was not stored: ${reason}.` })
  }
}

/** A photo with more pixels than the service decodes; nothing of it was decoded. */
export class PhotoTooLargeError extends DomainError {
  readonly code = ErrorCode.photoTooLarge
  constructor(width: number, height: number, limit: number) {
    const detail = `The image is ${String(width)}×${String(height)} pixels, more than the limit of ${limit.toLocaleString('en')} pixels; nothing was stored.`
    super(detail, { detail })
  }
}

/** The entry has no photo (or is not the caller's owner's: see EntryNotFoundError for a missing entry). */
export class PhotoNotFoundError extends DomainError {
  readonly code = ErrorCode.photoNotFound
  constructor(readonly id: string) {
    super(`The entry ${JSON.stringify(id.slice(0, 100))} has no photo`)
  }
}

/** A time to put a book back to outside the window of kept history (or not a time); the detail names the window. */
export class InvalidRestoreTimeError extends DomainError {
  readonly code = ErrorCode.invalidRestoreTime
  constructor(at: string, window: { from: string; to: string } | undefined) {
    const shown = JSON.stringify(at.slice(0, 100))
    const detail = window
      ? `${shown} is not a time between ${window.from} and ${window.to}, the history kept (trash.retention); give an ISO 8601 time in it, or 10m, 1h, yesterday or 1w.`
      : `No history is kept (trash.retention is 0), so the book cannot be put back to ${shown}.`
    super(detail, { detail, fieldErrors: [{ path: '/at', message: window ? `must be a time between ${window.from} and ${window.to}` : 'cannot be met: no history is kept' }] })
  }
}
