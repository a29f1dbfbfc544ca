import type { AddressEntry } from '../domain/address-entry.js'
import { EntryNotFoundError, PreconditionFailedError, SyncTokenExpiredError, UidConflictError } from '../domain/errors.js'
import { isEntryId, newEntryId } from '../domain/ids.js'
import { sortValueOf, type EntryFilter, type PagePosition, type Sort } from '../domain/listing.js'
import type { Principal } from '../domain/principal.js'
import type { AddressBookStore, CardData, StoredEntry } from '../storage/store.js'
import { checkedEntry, requireScope } from './gate.js'
import { decodeSyncToken, encodeSyncToken } from './sync-token.js'
import type { Preconditions } from './address-book-service.js'
import { TimeSlice } from '../lib/time-slice.js'

/**
 * The address book as a collection of cards, for protocols whose clients name each contact
 * themselves (CardDAV). A card is an entry under a resource name: the one its client chose when
 * it created the card, or `<id>.vcf` for an entry created otherwise. The card as its client sent
 * it is kept beside the entry, opaque here, with the version it made: while the entry is still at
 * that version, the protocol can serve the card exactly as it came, and after an edit through the
 * JSON API it still finds there everything the entry has no place for.
 */

/** An entry as a card: its resource name, version, and what is kept of the card beside it. */
export interface Card {
  readonly name: string
  readonly id: string
  readonly version: number
  readonly entry: AddressEntry
  /** The card's UID; the entry's id unless the card came with another. */
  readonly uid: string
  /** The card as its client last sent it, and the version of the entry that made. */
  readonly sent?: SentCard | undefined
  /** ISO 8601, UTC, with milliseconds. */
  readonly updatedAt: string
}

export interface SentCard {
  readonly version: number
  /** Opaque here: the protocol's own text of the card. */
  readonly text: string
}

/** A card as a protocol read it: the entry is not yet judged. */
export interface CardContent {
  readonly entry: unknown
  /** The card's UID, if it has one. */
  readonly uid?: string | undefined
  /** The card as it came, kept with the entry. */
  readonly text: string
}

export interface PutResult {
  readonly card: Card
  readonly created: boolean
}

/** A change of the book: the card as it is now, or, for a deletion, its name alone. */
export interface CardChange {
  readonly name: string
  readonly card?: Card | undefined
}

export interface CardChanges {
  readonly changes: readonly CardChange[]
  /** The token to sync from next. */
  readonly token: string
  /** Whether more changes follow (the page was cut at the limit). */
  readonly more: boolean
}

export interface CardBook {
  /** A token for where the book stands now: it changes with every change, and only then. */
  currentToken(principal: Principal): Promise<string>
  /** Every card of the book, read a batch at a time as the caller consumes them. */
  cards(principal: Principal): AsyncIterable<Card>
  /** The card with this name; rejects with EntryNotFoundError. */
  card(principal: Principal, name: string): Promise<Card>
  /** The cards with these names, those that exist. */
  cardsNamed(principal: Principal, names: readonly string[]): AsyncIterable<Card | { readonly missing: string }>
  /**
   * Stores the card under its name: a new entry when no card has the name, else the entry
   * replaced (what it keeps replaced too). Rejects with InvalidEntryError, UidConflictError when
   * another card has its UID, and as writes do for their preconditions.
   */
  putCard(principal: Principal, name: string, content: CardContent, preconditions?: Preconditions): Promise<PutResult>
  /** Rejects with EntryNotFoundError or PreconditionFailedError. */
  deleteCard(principal: Principal, name: string, preconditions?: Preconditions): Promise<void>
  /**
   * What changed since a token, oldest first, each card once; every card when there is no token.
   * Rejects with InvalidSyncTokenError, or SyncTokenExpiredError when deletions since were forgotten.
   */
  changesSince(principal: Principal, token: string | undefined, limit: number): Promise<CardChanges>
}

/** Entries read from the store at a time. */
const BATCH = 500
/** The suffix of the names derived from ids. */
const CARD_SUFFIX = '.vcf'

/** The name of an entry's card when its client gave it none. */
export function derivedName(id: string): string {
  return `${id}${CARD_SUFFIX}`
}

export class CardBookService implements CardBook {
  readonly #store: AddressBookStore
  readonly #newId: () => string

  constructor(store: AddressBookStore, options: { newId?: () => string } = {}) {
    this.#store = store
    this.#newId = options.newId ?? newEntryId
  }

  async currentToken(principal: Principal): Promise<string> {
    requireScope(principal, 'read')
    const { latest } = await this.#store.changePosition(principal.owner)
    return tokenOf(principal.owner, latest)
  }

  async *cards(principal: Principal): AsyncIterable<Card> {
    requireScope(principal, 'read')
    const { owner } = principal
    const sort: Sort = { key: 'created', descending: false }
    const filter: EntryFilter = { terms: [] }
    const slice = new TimeSlice()
    let after: PagePosition | undefined
    for (;;) {
      const batch = await this.#store.list(owner, { filter, sort, limit: BATCH, after })
      for (const stored of batch) {
        yield cardOf(stored)
        if (slice.due()) await slice.pause()
      }
      const last = batch.at(-1)
      if (batch.length < BATCH || !last) return
      after = { value: sortValueOf(sort.key, last), id: last.id }
    }
  }

  async card(principal: Principal, name: string): Promise<Card> {
    requireScope(principal, 'read')
    const stored = await this.#find(principal.owner, name)
    if (!stored) throw new EntryNotFoundError(name)
    return cardOf(stored)
  }

  async *cardsNamed(principal: Principal, names: readonly string[]): AsyncIterable<Card | { readonly missing: string }> {
    requireScope(principal, 'read')
    const slice = new TimeSlice()
    for (const name of names) {
      const stored = await this.#find(principal.owner, name)
      yield stored ? cardOf(stored) : { missing: name }
      if (slice.due()) await slice.pause()
    }
  }

  async putCard(principal: Principal, name: string, content: CardContent, preconditions: Preconditions = {}): Promise<PutResult> {
    requireScope(principal, 'write')
    const entry = checkedEntry(content.entry)
    const { owner } = principal
    const existing = await this.#find(owner, name)
    if (existing) {
      if (preconditions.ifNoneMatch === 'any') throw new PreconditionFailedError(name)
      const named = preconditions.ifMatch === 'any' ? undefined : preconditions.ifMatch
      if (named && !named.includes(existing.version)) throw new PreconditionFailedError(name)
      const uid = content.uid ?? existing.card?.uid ?? existing.id
      await this.#refuseTakenUid(owner, uid, existing.id)
      // The update is conditional on this version, so the card makes the next one.
      const card = cardData(name, existing.id, uid, { version: existing.version + 1, text: content.text })
      const updated = await this.#store.update(owner, existing.id, entry, [existing.version], { card })
      if (!updated) throw new PreconditionFailedError(name)
      return { card: cardOf(updated), created: false }
    }
    if (preconditions.ifMatch !== undefined) throw new PreconditionFailedError(name)
    const uid = content.uid
    if (uid !== undefined) await this.#refuseTakenUid(owner, uid, undefined)
    // A card whose UID can be an id is stored under it: the UID then needs no keeping, and a
    // second card with the same UID is found by it.
    const id = uid !== undefined && isEntryId(uid) ? uid : this.#newId()
    const card = cardData(name, id, uid ?? id, { version: 1, text: content.text })
    const created = await this.#store.create(owner, id, entry, { card })
    return { card: cardOf(created), created: true }
  }

  async deleteCard(principal: Principal, name: string, preconditions: Preconditions = {}): Promise<void> {
    requireScope(principal, 'write')
    const existing = await this.#find(principal.owner, name)
    if (!existing) throw preconditions.ifMatch === undefined ? new EntryNotFoundError(name) : new PreconditionFailedError(name)
    const named = preconditions.ifMatch === 'any' ? undefined : preconditions.ifMatch
    if (!(await this.#store.delete(principal.owner, existing.id, named))) throw named ? new PreconditionFailedError(name) : new EntryNotFoundError(name)
  }

  async changesSince(principal: Principal, token: string | undefined, limit: number): Promise<CardChanges> {
    requireScope(principal, 'read')
    const { owner } = principal
    const since = token === undefined ? 0 : decodeSyncToken(owner, token).seq
    const page = await this.#store.changesSince(owner, since, limit)
    // Read after the page, as the change feed does: deletions forgotten meanwhile show here.
    const { latest, forgottenThrough } = await this.#store.changePosition(owner)
    if (token !== undefined && (since < forgottenThrough || since > latest)) throw new SyncTokenExpiredError()
    // A name deleted and then given to a new card appears twice: the later change is the one
    // that holds (names are unique, so the deletion came first).
    const byName = new Map<string, CardChange>()
    for (const change of page.changes) {
      const name = change.stored ? nameOf(change.stored) : (change.name ?? derivedName(change.id))
      byName.delete(name)
      // A first sync lists what is, not what was: deletions before it mean nothing to the client.
      if (change.stored) byName.set(name, { name, card: cardOf(change.stored) })
      else if (token !== undefined) byName.set(name, { name })
    }
    const changes = [...byName.values()]
    const seq = page.changes.at(-1)?.seq ?? since
    return { changes, token: tokenOf(owner, seq), more: page.more }
  }

  /** The entry whose card has this name: one the client chose, or one derived from its id. */
  async #find(owner: string, name: string): Promise<StoredEntry | undefined> {
    const named = await this.#store.findByName(owner, name)
    if (named) return named
    if (!name.endsWith(CARD_SUFFIX)) return undefined
    const id = name.slice(0, -CARD_SUFFIX.length)
    if (!isEntryId(id)) return undefined
    const stored = await this.#store.get(owner, id)
    return stored && stored.card?.name === undefined ? stored : undefined
  }

  /** Another entry than `self` whose card has this UID refuses it. */
  async #refuseTakenUid(owner: string, uid: string, self: string | undefined): Promise<void> {
    if (!isEntryId(uid) || uid === self) return
    const holder = await this.#store.get(owner, uid)
    if (holder && holder.id !== self && (holder.card?.uid ?? holder.id) === uid) throw new UidConflictError(nameOf(holder))
  }
}

/** Sync tokens of the card book name a position only: the same state of the book, the same token. */
function tokenOf(owner: string, seq: number): string {
  return encodeSyncToken(owner, { seq, issuedAt: 0 })
}

function nameOf(stored: StoredEntry): string {
  return stored.card?.name ?? derivedName(stored.id)
}

function cardOf(stored: StoredEntry): Card {
  const { card } = stored
  const sent = card?.kept === undefined ? undefined : sentOf(card.kept)
  return {
    name: nameOf(stored),
    id: stored.id,
    version: stored.version,
    entry: stored.entry,
    uid: card?.uid ?? stored.id,
    ...(sent === undefined ? {} : { sent }),
    updatedAt: stored.updatedAt,
  }
}

/** What the store keeps beside an entry for its card; none when everything follows from the id. */
function cardData(name: string, id: string, uid: string, sent: SentCard): CardData {
  return {
    ...(name === derivedName(id) ? {} : { name }),
    ...(uid === id ? {} : { uid }),
    // The version first, on a line of its own: the text after it is the protocol's.
    kept: `${String(sent.version)}\n${sent.text}`,
  }
}

function sentOf(kept: string): SentCard | undefined {
  const newline = kept.indexOf('\n')
  const version = Number(kept.slice(0, newline))
  return newline > 0 && Number.isSafeInteger(version) ? { version, text: kept.slice(newline + 1) } : undefined
}
