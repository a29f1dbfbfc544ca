import { createHash } from 'node:crypto'
import { InvalidSyncTokenError } from '../domain/errors.js'
import { decodeOpaque, encodeOpaque } from './opaque-token.js'

/**
 * Sync tokens are opaque to clients: base64url of a position in the owner's sequence of changes,
 * when the token was handed out, and a tag of the owner it was made for, so that a token cannot
 * be used on another book (its positions mean nothing there). The tag is no secret: a token only
 * ever reads the caller's own book.
 */

const VERSION = 1
/** A seq is a safe integer; a token with anything else was not made here. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER

export interface SyncPosition {
  /** Changes after this seq are the ones still to send. */
  readonly seq: number
  /** When the token was handed out, in milliseconds since the epoch. */
  readonly issuedAt: number
}

function ownerTag(owner: string): string {
  return createHash('sha256').update(owner).digest('base64url').slice(0, 12)
}

export function encodeSyncToken(owner: string, position: SyncPosition): string {
  return encodeOpaque(VERSION, [ownerTag(owner), position.seq, position.issuedAt])
}

/** The position a token carries; InvalidSyncTokenError when it is not one of ours or not the owner's. */
export function decodeSyncToken(owner: string, token: string): SyncPosition {
  const [seq, issuedAt] = countsOf(owner, token, VERSION)
  return { seq, issuedAt }
}

/** The two counts an owner's token of a version carries: every token here is its owner's tag and two counts. */
function countsOf(owner: string, token: string, version: number): readonly [number, number] {
  const parts = decodeOpaque(token, version, 3)
  if (!parts) throw new InvalidSyncTokenError('is malformed')
  const [tag, first, second] = parts
  if (typeof tag !== 'string' || !isCount(first) || !isCount(second)) throw new InvalidSyncTokenError('is malformed')
  if (tag !== ownerTag(owner)) throw new InvalidSyncTokenError('was made for another address book')
  return [first, second]
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SEQ
}

/**
 * The card book's tokens: a position in each of the two sequences a CardDAV book is made of
 * (the owner's entries, and its cards that are not entries), and nothing else, so that the same
 * state of the book has the same token.
 */
const CARD_VERSION = 2

export interface CardSyncPosition {
  readonly entries: number
  readonly others: number
}

export function encodeCardSyncToken(owner: string, position: CardSyncPosition): string {
  return encodeOpaque(CARD_VERSION, [ownerTag(owner), position.entries, position.others])
}

/** The positions a card book token carries; InvalidSyncTokenError when it is not one of ours or not the owner's. */
export function decodeCardSyncToken(owner: string, token: string): CardSyncPosition {
  const [entries, others] = countsOf(owner, token, CARD_VERSION)
  return { entries, others }
}
