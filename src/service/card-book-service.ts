import type { AddressEntry } from '../domain/address-entry.js'
import { EntryNotFoundError, InvalidPhotoError, PhotoTooLargeError, PreconditionFailedError, SyncTokenExpiredError, UidConflictError } from '../domain/errors.js'
import { isEntryId, newEntryId } from '../domain/ids.js'
import { foldCase, sortValueOf, type EntryFilter, type PagePosition, type Sort } from '../domain/listing.js'
import type { Principal } from '../domain/principal.js'
import type { AddressBookStore, CardData, PhotoData, PhotoImage, StoredEntry } from '../storage/store.js'
import { checkedEntry, requireScope } from './gate.js'
import { decodeCardSyncToken, encodeCardSyncToken } from './sync-token.js'
import { inBatches } from './batches.js'
import type { PhotoProcessor, Preconditions } from './address-book-service.js'
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
  /**
   * The entry's photo, when it has one and the card as sent is not current (a protocol then writes
   * the card from the entry, photo included).
   */
  readonly image?: PhotoImage | undefined
}

export interface SentCard {
  readonly version: number
  /** Opaque here: the protocol's own text of the card. */
  readonly text: string
  /**
   * Whether the entry's photo follows the card's: the card's photo became the entry's, or the card
   * had none. When not (a photo the service could not read, or a card from before photos), the
   * card's own photo is the one to serve while the entry has none.
   */
  readonly photoTaken: boolean
}

/** A card as a protocol read it: the entry is not yet judged. */
export interface CardContent {
  readonly entry: unknown
  /** The card's UID, if it has one. */
  readonly uid?: string | undefined
  /** The card as it came, kept with the entry. */
  readonly text: string
  /**
   * Whether the card is a person or an organization, which the book holds as an entry; other
   * cards (a group) are kept and served back, but are no entries: the JSON API never lists them.
   */
  readonly isEntry?: boolean | undefined
  /** The bytes of the card's photo, as it carries it; none when it has none (the entry's then goes). */
  readonly photo?: Uint8Array | undefined
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

/** A card's name and version without the card: what a listing of ETags needs. */
export interface CardStamp {
  readonly name: string
  readonly version: number
  /** ISO 8601, UTC, with milliseconds. */
  readonly updatedAt: string
}

export interface CardBook {
  /** Every card's name and version, read a batch at a time: a whole book's ETags cost little. */
  stamps(principal: Principal): AsyncIterable<CardStamp>
  /** A token for where the book stands now: it changes with every change, and only then. */
  currentToken(principal: Principal): Promise<string>
  /**
   * Every card of the book, read a batch at a time as the caller consumes them; with a search,
   * only those whose entry's search text holds it (the text the JSON API's `q` searches: name,
   * nickname, organization, emails, phone numbers, cities and countries, folded by `foldCase`),
   * found through the store's search index.
   */
  cards(principal: Principal, options?: { readonly search?: string | undefined }): AsyncIterable<Card>
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
/** Stamps read from the store at a time: they are small. */
const STAMP_BATCH = 2000
/** The suffix of the names derived from ids. */
const CARD_SUFFIX = '.vcf'

/** The name of an entry's card when its client gave it none. */
export function derivedName(id: string): string {
  return `${id}${CARD_SUFFIX}`
}

/**
 * Where a card is kept: the owner's book of entries, or beside it, the owner's cards that are not
 * entries. Those live in a book of their own in the store, under a key no owner name can be
 * (owner names have no control characters), so that nothing that reads entries ever sees them.
 */
type Shelf = 'entries' | 'others'

/** The store's books of an owner's cards: its entries, and the other cards (group cards). */
export function cardShelvesOf(owner: string): readonly string[] {
  return SHELVES.map((shelf) => keyOf(owner, shelf))
}

function keyOf(owner: string, shelf: Shelf): string {
  return shelf === 'entries' ? owner : `${owner}\u001fcards`
}

interface Found {
  readonly shelf: Shelf
  readonly stored: StoredEntry
}

/** What CardDAV's writes are made through, as entries' history tells it. */
const CARDDAV = { source: 'carddav' } as const

export class CardBookService implements CardBook {
  readonly #store: AddressBookStore
  readonly #newId: () => string

  readonly #photos: PhotoProcessor | undefined
  readonly #trashKept: boolean

  /** Without `trashKept` (true by default), a deleted card is gone at once instead of going to the trash. */
  constructor(store: AddressBookStore, options: { newId?: () => string; photos?: PhotoProcessor; trashKept?: boolean } = {}) {
    this.#store = store
    this.#newId = options.newId ?? newEntryId
    this.#photos = options.photos
    this.#trashKept = options.trashKept ?? true
  }

  /** Deletes an entry of a shelf through CardDAV: to the trash, or for good when it is off. */
  async #delete(key: string, id: string, versions: readonly number[] | undefined): Promise<boolean> {
    const deleted = await this.#store.delete(key, id, versions, CARDDAV)
    if (deleted && !this.#trashKept) await this.#store.emptyTrash(key, id)
    return deleted
  }

  async currentToken(principal: Principal): Promise<string> {
    requireScope(principal, 'read')
    const { owner } = principal
    const [entries, others] = await Promise.all(SHELVES.map(async (shelf) => (await this.#store.changePosition(keyOf(owner, shelf))).latest))
    return encodeCardSyncToken(owner, { entries: entries ?? 0, others: others ?? 0 })
  }

  async *stamps(principal: Principal): AsyncIterable<CardStamp> {
    requireScope(principal, 'read')
    for (const shelf of SHELVES) {
      const key = keyOf(principal.owner, shelf)
      const read = (after: { createdAt: string; id: string } | undefined) => this.#store.listStamps(key, STAMP_BATCH, after)
      for await (const { id, version, updatedAt, name } of inBatches(read, STAMP_BATCH, ({ createdAt, id: last }) => ({ createdAt, id: last }))) {
        yield { name: name ?? derivedName(id), version, updatedAt }
      }
    }
  }

  async *cards(principal: Principal, { search }: { readonly search?: string | undefined } = {}): AsyncIterable<Card> {
    requireScope(principal, 'read')
    const sort: Sort = { key: 'created', descending: false }
    const filter: EntryFilter = search === undefined ? { terms: [] } : { q: foldCase(search), terms: [] }
    for (const shelf of SHELVES) {
      const key = keyOf(principal.owner, shelf)
      const read = (after: PagePosition | undefined) => this.#store.list(key, { filter, sort, limit: BATCH, after })
      for await (const stored of inBatches(read, BATCH, (last) => ({ value: sortValueOf(sort.key, last), id: last.id }))) yield this.#cardOf(key, stored)
    }
  }

  async card(principal: Principal, name: string): Promise<Card> {
    requireScope(principal, 'read')
    const found = await this.#find(principal.owner, name)
    if (!found) throw new EntryNotFoundError(name)
    return this.#cardOf(keyOf(principal.owner, found.shelf), found.stored)
  }

  async *cardsNamed(principal: Principal, names: readonly string[]): AsyncIterable<Card | { readonly missing: string }> {
    requireScope(principal, 'read')
    const slice = new TimeSlice()
    for (const name of names) {
      const found = await this.#find(principal.owner, name)
      yield found ? await this.#cardOf(keyOf(principal.owner, found.shelf), found.stored) : { missing: name }
      if (slice.due()) await slice.pause()
    }
  }

  async putCard(principal: Principal, name: string, content: CardContent, preconditions: Preconditions = {}): Promise<PutResult> {
    requireScope(principal, 'write')
    const entry = checkedEntry(content.entry)
    const { owner } = principal
    const shelf: Shelf = content.isEntry === false ? 'others' : 'entries'
    const { photo, taken } = shelf === 'entries' ? await this.#photoOf(content) : { photo: undefined, taken: false }
    const existing = await this.#find(owner, name)
    if (existing) {
      const { stored } = existing
      if (preconditions.ifNoneMatch === 'any') throw new PreconditionFailedError(name)
      const named = preconditions.ifMatch === 'any' ? undefined : preconditions.ifMatch
      if (named && !named.includes(stored.version)) throw new PreconditionFailedError(name)
      const uid = content.uid ?? stored.card?.uid ?? stored.id
      await this.#refuseTakenUid(owner, uid, stored.id)
      if (existing.shelf !== shelf) {
        // A card that becomes an entry, or stops being one, moves: it goes, and comes anew.
        if (!(await this.#delete(keyOf(owner, existing.shelf), stored.id, [stored.version]))) throw new PreconditionFailedError(name)
        return { card: await this.#create(owner, shelf, name, entry, uid, { text: content.text, photo, taken }), created: false }
      }
      // The update is conditional on this version, so the card makes the next one.
      const card = cardData(name, stored.id, uid, { version: stored.version + 1, text: content.text, photoTaken: taken })
      const key = keyOf(owner, shelf)
      const updated = await this.#store.update(key, stored.id, entry, [stored.version], { card, photo, ...CARDDAV })
      if (!updated) throw new PreconditionFailedError(name)
      return { card: await this.#cardOf(key, updated), created: false }
    }
    if (preconditions.ifMatch !== undefined) throw new PreconditionFailedError(name)
    if (content.uid !== undefined) await this.#refuseTakenUid(owner, content.uid, undefined)
    return { card: await this.#create(owner, shelf, name, entry, content.uid, { text: content.text, photo, taken }), created: true }
  }

  /**
   * What a card's photo does to its entry's: the card's, judged and normalized, when it has one the
   * service reads (taken); none when it has none (taken: the entry's goes); the entry's as it is
   * when the card's cannot be read (not taken: the card keeps it, and is served with it).
   */
  async #photoOf({ photo }: CardContent): Promise<{ photo: PhotoData | null | undefined; taken: boolean }> {
    if (photo === undefined) return { photo: null, taken: true }
    if (!this.#photos) return { photo: undefined, taken: false }
    try {
      return { photo: await this.#photos(photo), taken: true }
    } catch (error) {
      if (error instanceof InvalidPhotoError || error instanceof PhotoTooLargeError) return { photo: undefined, taken: false }
      throw error
    }
  }

  /** The entry as a card, with its photo's image when the card will be written from the entry. */
  async #cardOf(key: string, stored: StoredEntry): Promise<Card> {
    const card = cardOf(stored)
    if (!stored.photo || card.sent?.version === card.version) return card
    const image = await this.#store.getPhoto(key, stored.id, 'image')
    return image ? { ...card, image } : card
  }

  async deleteCard(principal: Principal, name: string, preconditions: Preconditions = {}): Promise<void> {
    requireScope(principal, 'write')
    const existing = await this.#find(principal.owner, name)
    if (!existing) throw preconditions.ifMatch === undefined ? new EntryNotFoundError(name) : new PreconditionFailedError(name)
    const named = preconditions.ifMatch === 'any' ? undefined : preconditions.ifMatch
    const deleted = await this.#delete(keyOf(principal.owner, existing.shelf), existing.stored.id, named)
    if (!deleted) throw named ? new PreconditionFailedError(name) : new EntryNotFoundError(name)
  }

  async changesSince(principal: Principal, token: string | undefined, limit: number): Promise<CardChanges> {
    requireScope(principal, 'read')
    const { owner } = principal
    const since = token === undefined ? { entries: 0, others: 0 } : decodeCardSyncToken(owner, token)
    // The cards that are not entries first: there are few, and a page cut short stays in order.
    const others = await this.#changesOf(keyOf(owner, 'others'), since.others, limit, token !== undefined)
    const entries = others.more
      ? { changes: [], seq: since.entries, more: true }
      : await this.#changesOf(keyOf(owner, 'entries'), since.entries, Math.max(1, limit - others.changes.length), token !== undefined)
    // A name deleted and then given to a new card appears twice: the later change is the one
    // that holds (names are unique, so the deletion came first).
    const byName = new Map<string, CardChange>()
    for (const change of [...others.changes, ...entries.changes]) {
      byName.delete(change.name)
      byName.set(change.name, change)
    }
    return { changes: [...byName.values()], token: encodeCardSyncToken(owner, { entries: entries.seq, others: others.seq }), more: entries.more }
  }

  /** One shelf's changes after `since`: each card once; a deletion only for a client that had the card (one with a token). */
  async #changesOf(key: string, since: number, limit: number, incremental: boolean): Promise<{ changes: CardChange[]; seq: number; more: boolean }> {
    const page = await this.#store.changesSince(key, since, limit)
    // Read after the page, as the change feed does: deletions forgotten meanwhile show here.
    const { latest, forgottenThrough } = await this.#store.changePosition(key)
    if (incremental && (since < forgottenThrough || since > latest)) throw new SyncTokenExpiredError()
    const changes: CardChange[] = []
    for (const change of page.changes) {
      if (change.stored) changes.push({ name: nameOf(change.stored), card: await this.#cardOf(key, change.stored) })
      else if (incremental) changes.push({ name: change.name ?? derivedName(change.id) })
    }
    return { changes, seq: page.changes.at(-1)?.seq ?? since, more: page.more }
  }

  async #create(
    owner: string,
    shelf: Shelf,
    name: string,
    entry: AddressEntry,
    uid: string | undefined,
    { text, photo, taken }: { text: string; photo: PhotoData | null | undefined; taken: boolean },
  ): Promise<Card> {
    // A card whose UID can be an id is stored under it: the UID then needs no keeping, and a
    // second card with the same UID is found by it.
    const id = uid !== undefined && isEntryId(uid) ? uid : this.#newId()
    const card = cardData(name, id, uid ?? id, { version: 1, text, photoTaken: taken })
    const key = keyOf(owner, shelf)
    return this.#cardOf(key, await this.#store.create(key, id, entry, { card, ...CARDDAV, ...(photo ? { photo } : {}) }))
  }

  /** The card with this name, on either shelf: a name its client chose, or one derived from its id. */
  async #find(owner: string, name: string): Promise<Found | undefined> {
    for (const shelf of SHELVES) {
      const key = keyOf(owner, shelf)
      const named = await this.#store.findByName(key, name)
      if (named) return { shelf, stored: named }
      const id = name.endsWith(CARD_SUFFIX) ? name.slice(0, -CARD_SUFFIX.length) : ''
      const stored = isEntryId(id) ? await this.#store.get(key, id) : undefined
      if (stored && stored.card?.name === undefined) return { shelf, stored }
    }
    return undefined
  }

  /** Another card than `self` whose UID this is refuses it, on either shelf. */
  async #refuseTakenUid(owner: string, uid: string, self: string | undefined): Promise<void> {
    if (!isEntryId(uid) || uid === self) return
    for (const shelf of SHELVES) {
      const holder = await this.#store.get(keyOf(owner, shelf), uid)
      if (holder && holder.id !== self && (holder.card?.uid ?? holder.id) === uid) throw new UidConflictError(nameOf(holder))
    }
  }
}

const SHELVES: readonly Shelf[] = ['entries', 'others']

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
    // The version first, on a line of its own (with "photo" when the entry's photo follows the
    // card's): the text after it is the protocol's.
    kept: `${String(sent.version)}${sent.photoTaken ? ' photo' : ''}\n${sent.text}`,
  }
}

function sentOf(kept: string): SentCard | undefined {
  const newline = kept.indexOf('\n')
  const [number = '', flag] = kept.slice(0, Math.max(0, newline)).split(' ')
  const version = Number(number)
  return newline > 0 && Number.isSafeInteger(version) ? { version, text: kept.slice(newline + 1), photoTaken: flag === 'photo' } : undefined
}
