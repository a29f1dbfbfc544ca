import ICAL from 'ical.js'
import type { AddressEntry, EmailAddress, PhoneNumber, PostalAddress, UnmappedProperty } from '../domain/address-entry.js'
import { isEntryId } from '../domain/ids.js'
import { base64Of } from '../lib/bytes.js'
import { labelKey } from '../domain/labels.js'
import { ENTRY_BOUNDS, KINDS as ENTRY_KINDS, PHONE_KINDS as ENTRY_PHONE_KINDS, type PhoneKind } from '../domain/vocabulary.js'
import { formatPhoneNumber, readPhoneNumber } from './phone-number.js'
import {
  contentLines,
  decodeQuotedPrintable,
  escape21Value,
  escapeText,
  foldLine,
  paramValue,
  preview,
  VCardSyntaxError,
  type ContentLine,
} from './vcard-syntax.js'

export { VCardSyntaxError } from './vcard-syntax.js'

/**
 * vCard (RFC 6350 4.0, RFC 2426 3.0, and 2.1) to address entries and back.
 *
 * ical.js parses each content line (parameters, quoting, escapes, structured values, dates).
 * vcard-syntax.ts gets the lines out of the text first, and parseProperty rewrites what ical.js
 * does not read: 2.1's bare parameters (`TEL;HOME;VOICE:`), quoted-printable values and their
 * CHARSET, and 2.1's escaping. Everything a card holds that an entry has no place for is listed with the card, never
 * dropped: only card metadata (VERSION, PRODID, REV, KIND:individual), blank values, parameters
 * other than TYPE, and the TYPEs PREF, VOICE and INTERNET (which are not kinds) go unreported.
 *
 * An entry's address has more structure than vCard's ADR. Export writes the ADR readable by any
 * app ("Unit 12, Harbor Point" as extended address, "221B Ocean Drive" and the locality as the
 * street's lines) and the exact values in X- parameters, which import prefers when present:
 * X-STREET-NUMBER, X-UNIT-NUMBER, X-BUILDING-NAME, X-LOCALITY; X-STREET-NAME when the street's
 * first line would not read back as the name; X-TEXT-FIELDS naming a street_number or pincode
 * that is text though all digits. Without them (other apps' cards) the
 * street's first line is split into number and name ("221B Ocean Drive", "12-14 Elm Row"), its
 * further lines are the locality, and the extended address is the building name.
 */

export interface ParsedCard {
  /** 1-based position of the card in the text, and the line its BEGIN:VCARD is on */
  readonly index: number
  readonly line: number
  /** UID when it can be an entry id (after stripping urn:uuid:), else absent (and the UID unmapped) */
  readonly id?: string
  /** The entry as mapped: not yet validated */
  readonly entry: Record<string, unknown>
  /** What the card holds that has no place in an entry, in the order of the card */
  readonly unmapped: readonly UnmappedProperty[]
  /** The bytes of its photo, when it holds one inline (base64, or a data: URI): not yet judged an image */
  readonly photo?: Uint8Array
  /** Its UID as written (without urn:uuid:), whether or not it can be an id */
  readonly uid?: string
  /** When the card is a group (KIND:group, Apple's X-ADDRESSBOOKSERVER-KIND:group): the UIDs of its members */
  readonly group?: { readonly members: readonly string[] }
}

export type VCardVersion = '4.0' | '3.0'

/**
 * The cards of a text, as entries, each read once the caller asks for it: a caller that stops
 * early reads no further. @throws VCardSyntaxError, as the reading reaches it, where the text is
 * not vCard
 */
export function* readVCards(text: string): Generator<ParsedCard> {
  let position = 0
  for (const card of splitCards(contentLines(text))) yield readCard(card, ++position)
}

/** Every card of a text, as entries. @throws VCardSyntaxError when the text is not vCard */
export function parseVCards(text: string): ParsedCard[] {
  return [...readVCards(text)]
}

type InputVersion = '2.1' | '3.0' | '4.0'
type Value = string | number | boolean | readonly Value[]

/** A property as ical.js parsed it. */
interface Property {
  /** Upper case, without the group: `TEL` */
  readonly name: string
  readonly group: string | undefined
  /** Names lower case; values as written */
  readonly params: ReadonlyMap<string, readonly string[]>
  /** The value type ical.js chose: `unknown` leaves the value as written, escapes and all */
  readonly type: string
  readonly values: readonly Value[]
  readonly line: number
}

interface CardLines {
  readonly line: number
  readonly lines: readonly ContentLine[]
}

function* splitCards(lines: Iterable<ContentLine>): Generator<CardLines> {
  let cards = 0
  let open: { line: number; lines: ContentLine[] } | undefined
  for (const contentLine of lines) {
    const name = contentLine.name.toUpperCase()
    const isBoundary = name === 'BEGIN' || name === 'END'
    const ofVCard = isBoundary && contentLine.value.trim().toUpperCase() === 'VCARD'
    if (name === 'BEGIN' && ofVCard) {
      if (open !== undefined) throw new VCardSyntaxError(`BEGIN:VCARD inside the card that begins on line ${open.line}`, contentLine.line)
      open = { line: contentLine.line, lines: [] }
    } else if (name === 'END' && ofVCard) {
      if (open === undefined) throw new VCardSyntaxError('END:VCARD without a BEGIN:VCARD before it', contentLine.line)
      cards++
      yield open
      open = undefined
    } else if (open === undefined || isBoundary) {
      const where = open === undefined ? 'outside a card (BEGIN:VCARD … END:VCARD)' : 'inside a card'
      throw new VCardSyntaxError(`${preview(`${contentLine.name}:${contentLine.value}`)} ${where}`, contentLine.line)
    } else {
      open.lines.push(contentLine)
    }
  }
  if (open !== undefined) throw new VCardSyntaxError('the card that begins on this line has no END:VCARD', open.line)
  if (cards === 0) throw new VCardSyntaxError('no BEGIN:VCARD: the text holds no vCard', 1)
}

const DESIGN_SETS = { '2.1': ICAL.design.vcard3, '3.0': ICAL.design.vcard3, '4.0': ICAL.design.vcard }

function versionOf(card: CardLines): InputVersion {
  const line = card.lines.find((contentLine) => contentLine.name.toUpperCase() === 'VERSION')
  // VERSION is required; a card without one is read as 3.0, what most apps write.
  if (line === undefined) return '3.0'
  const version = line.value.trim()
  if (version === '2.1' || version === '3.0' || version === '4.0') return version
  throw new VCardSyntaxError(`VERSION ${preview(version)} is not one of 2.1, 3.0 and 4.0`, line.line)
}

/** The properties whose values have components, separated by semicolons. */
const STRUCTURED = new Set(['N', 'ADR', 'ORG', 'GENDER', 'CLIENTPIDMAP', 'GEO'])

function ungrouped(name: string): string {
  return name.slice(name.indexOf('.') + 1).toUpperCase()
}

/** One content line through ical.js, after what it does not read itself is rewritten. */
function parseProperty(contentLine: ContentLine, version: InputVersion): Property {
  const params: string[] = []
  let quotedPrintable = false
  let charset = 'utf-8'
  for (const param of contentLine.params) {
    const equals = param.indexOf('=')
    // 2.1 may name a parameter's value alone: TEL;HOME;VOICE, NOTE;QUOTED-PRINTABLE
    const bare = equals === -1
    const key = bare ? 'ENCODING' : param.slice(0, equals).trim().toUpperCase()
    const value = (bare ? param : param.slice(equals + 1)).trim()
    const upper = value.toUpperCase()
    if (key === 'ENCODING' && upper === 'QUOTED-PRINTABLE') quotedPrintable = true
    else if (key === 'ENCODING' && (upper === '7BIT' || upper === '8BIT' || upper === '')) continue
    else if (key === 'CHARSET') charset = value.replace(/^"|"$/g, '')
    else if (bare) params.push(upper === 'BASE64' ? 'ENCODING=BASE64' : `TYPE=${value}`)
    else params.push(param)
  }
  let value = contentLine.value
  if (quotedPrintable) {
    try {
      value = decodeQuotedPrintable(value, charset)
    } catch (error) {
      throw new VCardSyntaxError(`CHARSET ${preview(charset)} is not a character set this service knows`, contentLine.line, { cause: error })
    }
  }
  if (version === '2.1') value = escape21Value(value)
  else if (quotedPrintable) value = value.replace(/\r\n|\r|\n/g, '\\n')
  // ical.js unescapes `\;` in structured values only, but 3.0 and 2.1 escape every semicolon.
  if (!STRUCTURED.has(ungrouped(contentLine.name))) value = value.replace(/\\([\s\S])/g, (escape, char) => (char === ';' ? ';' : escape))

  let jCal: unknown
  try {
    jCal = ICAL.parse.property([contentLine.name, ...params].join(';') + ':' + value, DESIGN_SETS[version])
  } catch (error) {
    throw new VCardSyntaxError(error instanceof Error ? error.message : String(error), contentLine.line, { cause: error })
  }
  return propertyOf(jCal, contentLine.line)
}

/** jCard (RFC 7095), which ical.js parses into: [name, { param: value or values, group }, type, ...values] */
function propertyOf(jCal: unknown, line: number): Property {
  const [name, rawParams, type, ...values] = jCal as [string, Record<string, unknown>, string, ...Value[]]
  const params = new Map<string, string[]>()
  let group: string | undefined
  for (const [key, value] of Object.entries(rawParams)) {
    if (key === 'group') group = String(value)
    else params.set(key, (Array.isArray(value) ? value : [value]).map(String))
  }
  return { name: name.toUpperCase(), group, params, type, values, line }
}

/** Undoes vCard's text escapes where ical.js left them (values of a type it does not know). */
function unescapeText(value: string): string {
  return value.replace(/\\([\\,;:nN])/g, (_match, char: string) => (char === 'n' || char === 'N' ? '\n' : char))
}

/** The whole value as one text, lists joined with commas and components with semicolons, as vCard writes them. */
function textOf(property: Property): string {
  const text = property.values.map((value) => (isList(value) ? value.map((part) => listText(part)).join(';') : String(value))).join(',')
  return property.type === 'unknown' ? unescapeText(text) : text
}

function listText(value: Value): string {
  return isList(value) ? value.map(String).join(',') : String(value)
}

function isList(value: Value): value is readonly Value[] {
  return Array.isArray(value)
}

/** The list items of a value (NICKNAME, CATEGORIES, and in 3.0 ical.js reads NOTE as a list). */
function itemsOf(property: Property): string[] {
  return property.values.map((value) => listText(value))
}

/** The components of a structured value (N, ORG, ADR), each a list of texts. */
function componentsOf(property: Property): string[][] {
  const [first] = property.values
  if (property.values.length === 1 && first !== undefined && isList(first)) {
    return first.map((component) => (isList(component) ? component.map(String) : [String(component)]))
  }
  return [property.values.map((value) => listText(value))]
}

function isBlank(property: Property): boolean {
  const blank = (value: Value): boolean => (isList(value) ? value.every(blank) : String(value).trim() === '')
  return property.values.every(blank)
}

/** Every kind is a phone's kind; an address's and an email's are some of them. */
type AnyKind = PhoneKind

const TYPE_KINDS = new Map<string, AnyKind>([
  ['home', 'home'],
  ['work', 'work'],
  ['other', 'other'],
  ['cell', 'mobile'],
  ['mobile', 'mobile'],
  ['iphone', 'mobile'],
])
/** Types that say nothing an entry has a place for. */
const SILENT_TYPES = new Set(['pref', 'voice', 'internet'])
/** Apple's labels for its built-in kinds: `_$!<Mobile>!$_` */
const APPLE_LABEL = /^_\$!<(.*)>!\$_$/
const LABEL_KINDS = new Map<string, { kind: AnyKind; fax: boolean }>([
  ['home', { kind: 'home', fax: false }],
  ['work', { kind: 'work', fax: false }],
  ['other', { kind: 'other', fax: false }],
  ['mobile', { kind: 'mobile', fax: false }],
  ['iphone', { kind: 'mobile', fax: false }],
  ['homefax', { kind: 'home', fax: true }],
  ['workfax', { kind: 'work', fax: true }],
  ['otherfax', { kind: 'other', fax: true }],
])
const PHONE_KINDS: ReadonlySet<AnyKind> = new Set(ENTRY_PHONE_KINDS)
const KINDS: ReadonlySet<AnyKind> = new Set(ENTRY_KINDS)
const NO_KINDS: ReadonlySet<AnyKind> = new Set()

/** What an entry holds, as it is being read from a card. */
interface Draft {
  full_name?: string
  nickname?: string
  organization?: string
  job_title?: string
  birthday?: string
  notes?: string
  addresses: PostalAddress[]
  phone_numbers: PhoneNumber[]
  fax_numbers: PhoneNumber[]
  emails: EmailAddress[]
  urls: string[]
  labels: string[]
  photo?: Uint8Array
}

type SingleField = 'full_name' | 'nickname' | 'organization' | 'job_title' | 'birthday' | 'notes'

function readCard(card: CardLines, index: number): ParsedCard {
  return readerOf(card).read(index, card.line)
}

function readerOf(card: CardLines): CardReader {
  const version = versionOf(card)
  const properties = card.lines
    .filter((contentLine) => contentLine.name.toUpperCase() !== 'VERSION')
    .map((contentLine) => parseProperty(contentLine, version))
  return new CardReader(properties)
}

/** One card as a CardDAV resource holds it: the entry, the UID as written, and what the entry has no place for. */
export interface CardResource {
  /** The entry as mapped: not yet validated. */
  readonly entry: Record<string, unknown>
  readonly uid?: string
  /**
   * The content lines of the properties the entry has no place for, as written (unfolded, CRLF
   * between them): formatVCard writes them back into the card. Properties it writes itself are
   * never kept, even where part of them did not fit the entry.
   */
  readonly kept: string
  /**
   * What the card is (KIND, or Apple's X-ADDRESSBOOKSERVER-KIND), lower case: `individual` when
   * it does not say, `org`, `group`, `location`…
   */
  readonly kind: string
  /** The bytes of its photo inline, when it has one. */
  readonly photo?: Uint8Array
  /**
   * Its PHOTO content lines as written (CRLF between them), or '': what to serve when its photo is
   * not the entry's (one the service could not read). PHOTO is written from the entry otherwise.
   */
  readonly photoLines: string
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** The category Google Contacts gives every contact it exports: it says nothing of the contact. */
const GOOGLE_EVERYONE = 'myContacts'

/** Properties formatVCard writes from the entry (or as card metadata). */
const WRITTEN = new Set(['VERSION', 'PRODID', 'UID', 'FN', 'N', 'NICKNAME', 'ORG', 'TITLE', 'BDAY', 'TEL', 'EMAIL', 'ADR', 'URL', 'NOTE', 'CATEGORIES', 'PHOTO', 'REV'])

/**
 * The one card of a resource. @throws VCardSyntaxError where the text is not vCard, or holds
 * more than one card
 */
export function readCardResource(text: string): CardResource {
  const cards = splitCards(contentLines(text))
  const first = cards.next()
  if (first.done === true) throw new VCardSyntaxError('no BEGIN:VCARD: the text holds no vCard', 1)
  const card = first.value
  const second = cards.next()
  if (second.done !== true) throw new VCardSyntaxError('a resource holds one card, and this text holds more', second.value.line)
  const reader = readerOf(card)
  const { entry, photo } = reader.read(1, card.line)
  const unmapped = reader.unmappedLines()
  const writtenGroups = new Set(card.lines.filter((line) => line.name.includes('.') && WRITTEN.has(ungrouped(line.name))).map((line) => groupOf(line.name)))
  const kept = card.lines.filter((line) => {
    const name = ungrouped(line.name)
    if (WRITTEN.has(name) || !unmapped.has(line.line)) return false
    // An Apple label of a property written from the entry goes with it.
    return !(name === 'X-ABLABEL' && writtenGroups.has(groupOf(line.name)))
  })
  const kindLine = card.lines.find((line) => ungrouped(line.name) === 'KIND' || ungrouped(line.name) === 'X-ADDRESSBOOKSERVER-KIND')
  const declared = kindLine?.value.trim().toLowerCase()
  const kind = declared === undefined || declared === '' ? 'individual' : declared
  const uidLine = card.lines.find((line) => ungrouped(line.name) === 'UID')
  const uid = uidLine === undefined ? undefined : unescapeText(uidLine.value.trim())
  const photoLines = card.lines.filter((line) => ungrouped(line.name) === 'PHOTO').map(contentLineText).join('\r\n')
  return { entry, ...(uid === undefined || uid === '' ? {} : { uid }), kept: kept.map(contentLineText).join('\r\n'), kind, ...(photo ? { photo } : {}), photoLines }
}

function groupOf(name: string): string {
  return name.slice(0, Math.max(0, name.indexOf('.'))).toUpperCase()
}

function contentLineText(line: ContentLine): string {
  return `${line.name}${line.params.map((param) => `;${param}`).join('')}:${line.value}`
}

class CardReader {
  readonly #properties: readonly Property[]
  readonly #draft: Draft = { addresses: [], phone_numbers: [], fax_numbers: [], emails: [], urls: [], labels: [] }
  readonly #unmapped: { line: number; item: UnmappedProperty }[] = []
  /** Apple's X-ABLabel of each group (`item1`), the property it labels, and the labels that have been used or listed. */
  readonly #labels = new Map<string, Property>()
  readonly #labelled = new Map<string, Property>()
  readonly #labelsDone = new Set<Property>()
  #id: string | undefined
  #uid: string | undefined
  #group = false
  readonly #members: string[] = []
  #name: Property | undefined

  constructor(properties: readonly Property[]) {
    this.#properties = properties
    for (const property of properties) {
      const { group } = property
      if (group === undefined) continue
      const byGroup = property.name === 'X-ABLABEL' ? this.#labels : this.#labelled
      if (!byGroup.has(group)) byGroup.set(group, property)
    }
  }

  read(index: number, line: number): ParsedCard {
    for (const property of this.#properties) {
      if (!isBlank(property)) this.#readProperty(property)
    }
    this.#readName()
    for (const property of this.#properties) {
      if (property.name === 'X-ABLABEL' && !isBlank(property) && !this.#labelsDone.has(property)) this.#reportLabel(property)
    }
    const unmapped = this.#unmapped.sort((a, b) => a.line - b.line).map(({ item }) => item)
    const { photo } = this.#draft
    return {
      index,
      line,
      ...(this.#id === undefined ? {} : { id: this.#id }),
      entry: entryOf(this.#draft),
      unmapped,
      ...(photo ? { photo } : {}),
      ...(this.#uid === undefined ? {} : { uid: this.#uid }),
      ...(this.#group ? { group: { members: this.#members } } : {}),
    }
  }

  #readProperty(property: Property): void {
    switch (property.name) {
      case 'PRODID':
      case 'REV':
      case 'X-ABLABEL':
        return
      // A group's kind and members are listed as well: an entry has no place for them, and a
      // CardDAV card keeps what is listed. An import makes labels of them.
      case 'KIND':
      case 'X-ADDRESSBOOKSERVER-KIND': {
        const kind = textOf(property).trim().toLowerCase()
        if (kind === 'group') this.#group = true
        if (kind !== 'individual') this.#report(property)
        return
      }
      case 'MEMBER':
      case 'X-ADDRESSBOOKSERVER-MEMBER':
        this.#members.push(textOf(property).trim().replace(/^urn:uuid:/i, ''))
        this.#report(property)
        return
      case 'FN':
        this.#single('full_name', property, textOf(property), 'full name')
        return
      case 'N':
        if (this.#name === undefined) this.#name = property
        else this.#report(property, 'an entry has one name')
        return
      case 'NICKNAME':
        for (const nickname of itemsOf(property).filter((item) => item.trim() !== '')) this.#single('nickname', property, nickname, 'nickname')
        return
      case 'ORG':
        this.#readOrganization(property)
        return
      case 'TITLE':
        this.#single('job_title', property, textOf(property), 'job title')
        return
      case 'BDAY':
        this.#readBirthday(property)
        return
      case 'NOTE':
        this.#single('notes', property, itemsOf(property).join(','), 'note')
        return
      case 'URL':
        this.#readUrl(property)
        return
      case 'EMAIL':
        this.#draft.emails.push({ kind: this.#kindOf(property, KINDS).kind as EmailAddress['kind'], email: textOf(property).trim() })
        return
      case 'TEL':
        this.#readPhoneNumber(property)
        return
      case 'ADR':
        this.#readAddress(property)
        return
      case 'UID':
        this.#readUid(property)
        return
      case 'CATEGORIES':
        this.#readCategories(property)
        return
      case 'PHOTO':
        this.#readPhoto(property)
        return
      default:
        this.#report(property)
    }
  }

  /**
   * Labels from CATEGORIES (any number of lines, each a comma-separated list): trimmed, each
   * once whatever its case; what an entry cannot hold (too long, beyond the count) is listed.
   */
  #readCategories(property: Property): void {
    const { labels } = this.#draft
    const over: string[] = []
    for (const item of itemsOf(property)) {
      const label = item.trim()
      if (label === '' || labels.some((held) => labelKey(held) === labelKey(label))) continue
      if (label === GOOGLE_EVERYONE) this.#report(property, "Google's group of every contact, not a label", label)
      else if (label.length > ENTRY_BOUNDS.label || labels.length === ENTRY_BOUNDS.labels) over.push(label)
      else labels.push(label)
    }
    if (over.length > 0) this.#report(property, `an entry has at most ${String(ENTRY_BOUNDS.labels)} labels of at most ${String(ENTRY_BOUNDS.label)} characters`, over.join(','))
  }

  /**
   * The photo's bytes from PHOTO inline, as each version and app writes it: base64 with
   * ENCODING=b (3.0) or BASE64 (2.1), or a data: URI (4.0, and 3.0's VALUE=URI as Google writes
   * it). A photo at a web address is listed: the service fetches nothing from the network.
   */
  #readPhoto(property: Property): void {
    const value = textOf(property).replace(/\s+/g, '')
    const encoding = property.params.get('encoding')?.[0]?.toLowerCase()
    const dataUri = /^data:[^,]*?(;base64)?,(.*)$/is.exec(value)
    const base64 = dataUri ? (dataUri[1] === undefined ? undefined : dataUri[2]) : encoding === 'b' || encoding === 'base64' ? value : undefined
    if (base64 === undefined || !BASE64.test(base64)) {
      this.#report(property, dataUri || encoding !== undefined ? 'not base64' : 'a photo at a web address is not fetched: an entry holds the image itself')
      return
    }
    if (this.#draft.photo) this.#report(property, 'an entry has one photo')
    else this.#draft.photo = Buffer.from(base64, 'base64')
  }

  /** A field an entry has one of: the first value goes there, any other is listed. */
  #single(field: SingleField, property: Property, value: string, what: string): void {
    if (value.trim() === '') return
    if (this.#draft[field] === undefined) this.#draft[field] = value
    else this.#report(property, `an entry has one ${what}`, value)
  }

  /** The full name from N when there is no FN; with an FN, N is listed only for the parts FN does not have. */
  #readName(): void {
    const name = this.#name
    if (name === undefined) return
    const [family = [], given = [], additional = [], prefixes = [], suffixes = []] = componentsOf(name)
    const parts = [prefixes, given, additional, family, suffixes].flat().flatMap((part) => part.split(/\s+/)).filter((part) => part !== '')
    const words = (text: string) => text.toLowerCase().split(/[\s,]+/)
    const fullName = this.#draft.full_name
    if (fullName === undefined) {
      if (parts.length > 0) this.#draft.full_name = parts.join(' ')
      return
    }
    const inFullName = new Set(words(fullName))
    const missing = parts.filter((part) => !words(part).every((word) => inFullName.has(word)))
    if (missing.length > 0) this.#report(name, `parts of the name that the full name (FN) does not have: ${missing.join(' ')}`)
  }

  #readOrganization(property: Property): void {
    const [name = [], ...units] = componentsOf(property)
    this.#single('organization', property, name.join(','), 'organization')
    const unitText = units.map((unit) => unit.join(',')).filter((unit) => unit.trim() !== '')
    if (unitText.length > 0) this.#report(property, 'organizational units: an entry has the organization only', unitText.join(';'))
  }

  #readBirthday(property: Property): void {
    const value = textOf(property).trim()
    const omittedYear = property.params.get('x-apple-omit-year')?.[0]
    const date = /^(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?$/.exec(value)
    const dayOfYear = /^--(\d{2})-?(\d{2})$/.exec(value)
    if (date !== null) {
      const [, year = '', month = '', day = ''] = date
      this.#single('birthday', property, year === omittedYear ? `--${month}-${day}` : `${year}-${month}-${day}`, 'birthday')
    } else if (dayOfYear !== null) {
      const [, month = '', day = ''] = dayOfYear
      this.#single('birthday', property, `--${month}-${day}`, 'birthday')
    } else {
      this.#report(property, 'not a date with a month and a day (YYYY-MM-DD, YYYYMMDD, --MMDD)')
    }
  }

  #readUrl(property: Property): void {
    // ical.js leaves 3.0's URIs as written, and Google writes `https\://`.
    const url = textOf(property).trim().replace(/\\([\\,;:])/g, '$1')
    if (/^[a-z][a-z\d+.-]*:/i.test(url)) {
      this.#kindOf(property, NO_KINDS)
      this.#draft.urls.push(url)
    } else {
      this.#report(property, 'not an absolute URI (no scheme such as https:)', url)
    }
  }

  #readPhoneNumber(property: Property): void {
    const written = textOf(property)
    const { parts, reason } = readPhoneNumber(written)
    if (parts === undefined) {
      this.#report(property, `the number ${reason}`, written)
      return
    }
    const { kind, fax } = this.#kindOf(property, PHONE_KINDS)
    ;(fax ? this.#draft.fax_numbers : this.#draft.phone_numbers).push({ kind, ...parts })
  }

  #readAddress(property: Property): void {
    const lines = (component: readonly string[]) =>
      component.flatMap((value) => value.split('\n')).map((line) => line.trim()).filter((line) => line !== '')
    const [postOfficeBox = [], extended = [], street = [], city = [], region = [], code = [], country = []] = componentsOf(property)
    const param = (name: string) => property.params.get(name)?.[0]
    const ours = OUR_ADDRESS_PARAMS.some((name) => property.params.has(name))
    const textFields = new Set((param('x-text-fields') ?? '').split(','))
    const typed = (text: string, field: 'street_number' | 'pincode', maximum: number) =>
      textFields.has(field) ? text : numberOrText(text, maximum)

    const [firstStreetLine = '', ...moreStreetLines] = lines(street)
    const numberParam = param('x-street-number')
    const nameParam = param('x-street-name')
    const split = nameParam === undefined ? splitStreet(firstStreetLine, numberParam) : { ...(numberParam === undefined ? {} : { number: numberParam }), name: nameParam }
    const streetName = split.name
    const pincode = code.join(',')
    const countryName = country.join(',')
    const missing = [streetName.trim() === '' && 'street', pincode.trim() === '' && 'postal code', countryName.trim() === '' && 'country']
    if (missing.some((part) => part !== false)) {
      this.#report(property, `an address needs a street, a postal code and a country; this one has no ${missing.filter((part) => part !== false).join(', no ')}`)
      return
    }

    const unitNumber = param('x-unit-number')
    const unit = unitNumber === undefined ? undefined : numberOrText(unitNumber, ENTRY_BOUNDS.unitNumber)
    const building = param('x-building-name') ?? (ours ? '' : lines(extended).join(', '))
    const locality = param('x-locality') ?? (ours ? '' : moreStreetLines.join(', '))
    const address: PostalAddress = {
      kind: this.#kindOf(property, KINDS).kind as PostalAddress['kind'],
      ...(building === '' ? {} : { building_name: building }),
      ...(typeof unit === 'number' ? { unit_number: unit } : {}),
      ...(split.number === undefined ? {} : { street_number: typed(split.number, 'street_number', ENTRY_BOUNDS.streetNumber) }),
      street_name: streetName,
      ...(locality === '' ? {} : { locality }),
      ...(city.join('').trim() === '' ? {} : { city: city.join(',') }),
      ...(region.join('').trim() === '' ? {} : { province: region.join(',') }),
      pincode: typed(pincode, 'pincode', ENTRY_BOUNDS.pincode),
      country: countryName,
    }
    this.#draft.addresses.push(address)
    if (typeof unit === 'string') this.#report(property, `X-UNIT-NUMBER ${preview(unit)} is not a number`, unit)
    if (lines(postOfficeBox).length > 0) this.#report(property, 'post office box: an address has no place for one', lines(postOfficeBox).join(', '))
  }

  #readUid(property: Property): void {
    const uid = textOf(property).trim()
    const id = uid.replace(/^urn:uuid:/i, '')
    this.#uid ??= id
    if (this.#id !== undefined) this.#report(property, 'an entry has one id')
    else if (isEntryId(id)) this.#id = id
    else this.#report(property, 'not an entry id (1 to 64 letters, digits and dashes)')
  }

  /**
   * The kind from the TYPEs, or from Apple's label of the property's group, which wins when it
   * names a kind; other kind when neither does. TYPEs and labels that name no kind the property
   * can have are listed.
   */
  #kindOf(property: Property, allowed: ReadonlySet<AnyKind>): { kind: AnyKind; fax: boolean } {
    const canBeFax = property.name === 'TEL'
    let fax = false
    const typeKinds: { type: string; kind: AnyKind }[] = []
    const unplaced: string[] = []
    for (const type of property.params.get('type') ?? []) {
      const lower = type.toLowerCase()
      const kind = TYPE_KINDS.get(lower)
      if (lower === 'fax' && canBeFax) fax = true
      else if (kind !== undefined && allowed.has(kind)) typeKinds.push({ type, kind })
      else if (!SILENT_TYPES.has(lower)) unplaced.push(type)
    }

    const label = property.group === undefined ? undefined : this.#labels.get(property.group)
    const labelText = label === undefined ? '' : textOf(label).trim()
    const appleLabel = APPLE_LABEL.exec(labelText)?.[1]?.toLowerCase()
    const labelKind = appleLabel === undefined ? undefined : LABEL_KINDS.get(appleLabel)
    const labelFits = labelKind !== undefined && allowed.has(labelKind.kind) && (canBeFax || !labelKind.fax)
    const kind = labelFits ? labelKind.kind : (typeKinds[0]?.kind ?? 'other')
    if (labelFits) fax ||= labelKind.fax

    unplaced.push(...typeKinds.filter((typeKind) => typeKind.kind !== kind).map(({ type }) => type))
    if (unplaced.length > 0) {
      const noPlace = allowed.size === 0 ? `${property.name}s have no kinds in an entry` : 'no such kind in an entry'
      this.#report(property, `TYPE=${unplaced.join(',')}: ${noPlace}`)
    }
    if (label !== undefined && labelText !== '' && !labelFits) {
      const homePage = property.name === 'URL' && appleLabel === 'homepage'
      if (!homePage) this.#reportLabel(label, allowed.size === 0 ? `and ${property.name}s have no labels in an entry` : `which names no kind (mapped as ${kind})`)
    }
    if (label !== undefined) this.#labelsDone.add(label)
    return { kind, fax }
  }

  #reportLabel(label: Property, why?: string): void {
    const { group } = label
    const owner = group === undefined ? undefined : this.#labelled.get(group)
    const of = group === undefined ? 'no group' : owner === undefined ? `group ${group}` : `${group}.${owner.name}`
    this.#report(label, why === undefined ? `label of ${of}` : `label of ${of}, ${why}`)
    this.#labelsDone.add(label)
  }

  /** The lines of the card that hold properties (wholly or partly) not in the entry. */
  unmappedLines(): ReadonlySet<number> {
    return new Set(this.#unmapped.map(({ line }) => line))
  }

  #report(property: Property, reason?: string, value = textOf(property)): void {
    this.#unmapped.push({ line: property.line, item: { property: property.name, value, ...(reason === undefined ? {} : { reason }) } })
  }
}

/** The X- parameters of an ADR written by formatVCard: when one is there, the extended address and further street lines are only for other apps. */
const OUR_ADDRESS_PARAMS = ['x-street-number', 'x-street-name', 'x-unit-number', 'x-building-name', 'x-locality', 'x-text-fields']
const STREET_NUMBER = /^(\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?)\s+(\S.*)$/

/** Number and name from the first line of an ADR's street: "221B Ocean Drive", or the number X-STREET-NUMBER says it starts with. */
function splitStreet(line: string, number: string | undefined): { number?: string; name: string } {
  if (number !== undefined) return { number, name: line.startsWith(`${number} `) ? line.slice(number.length + 1).trim() : line }
  const [, leading, name] = STREET_NUMBER.exec(line) ?? []
  return leading === undefined || name === undefined ? { name: line } : { number: leading, name }
}

/** The number a text of digits is (without leading zeros, within the schema's bound), or the text. */
function numberOrText(text: string, maximum: number): number | string {
  return /^(?:0|[1-9]\d*)$/.test(text) && Number(text) <= maximum ? Number(text) : text
}

/** The fields of the schema, in its order. */
const FIELDS = [
  'full_name',
  'addresses',
  'phone_numbers',
  'fax_numbers',
  'emails',
  'nickname',
  'organization',
  'job_title',
  'birthday',
  'notes',
  'urls',
  'labels',
] as const satisfies readonly (keyof Draft)[]

function entryOf(draft: Draft): Record<string, unknown> {
  const entry: Record<string, unknown> = {}
  for (const field of FIELDS) {
    const value = draft[field]
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) entry[field] = value
  }
  return entry
}

const PRODID = '-//addrservice//vCard//EN'
/** Apple's way to write a birthday without a year in 3.0, whose dates must have one: 1604 was a leap year. */
const OMITTED_YEAR = '1604'

/**
 * One entry as a vCard: CRLF line breaks, lines folded at 75 octets. Every field is written, and
 * reads back the same through parseVCards.
 */
export function formatVCard(
  card: { id: string; entry: AddressEntry; updatedAt?: string; uid?: string | undefined; kept?: string | undefined; photo?: CardPhoto | undefined },
  version: VCardVersion,
): string {
  const { id, entry, updatedAt, uid = id, kept, photo } = card
  const v4 = version === '4.0'
  const text = (value: string) => escapeText(value, !v4)
  const lines = ['BEGIN:VCARD', `VERSION:${version}`, `PRODID:${PRODID}`, `UID${v4 ? ';VALUE=text' : ''}:${text(uid)}`]
  lines.push(`FN:${text(entry.full_name)}`, `N:${structuredName(entry.full_name)}`)
  if (entry.nickname !== undefined) lines.push(`NICKNAME:${text(entry.nickname)}`)
  if (entry.organization !== undefined) lines.push(`ORG:${escapeText(entry.organization, true)}`)
  if (entry.job_title !== undefined) lines.push(`TITLE:${text(entry.job_title)}`)
  if (entry.birthday !== undefined) lines.push(birthdayLine(entry.birthday, v4))
  for (const phone of entry.phone_numbers ?? []) lines.push(phoneLine(phone, false, v4))
  for (const fax of entry.fax_numbers ?? []) lines.push(phoneLine(fax, true, v4))
  for (const { kind, email } of entry.emails ?? []) lines.push(`EMAIL${typeParam(v4 ? [kind] : ['internet', kind], v4)}:${text(email)}`)
  for (const address of entry.addresses ?? []) lines.push(addressLine(address, v4))
  for (const url of entry.urls ?? []) lines.push(`URL:${url}`)
  if (entry.notes !== undefined) lines.push(`NOTE:${text(entry.notes)}`)
  if (entry.labels !== undefined && entry.labels.length > 0) lines.push(`CATEGORIES:${entry.labels.map((label) => escapeText(label, !v4)).join(',')}`)
  if (photo) lines.push(photoLine(photo, v4))
  if (kept !== undefined && kept !== '') lines.push(...kept.split('\r\n'))
  if (updatedAt !== undefined) lines.push(`REV:${timestamp(updatedAt, v4)}`)
  lines.push('END:VCARD')
  return lines.map(foldLine).join('\r\n') + '\r\n'
}

/** A photo as a card carries it: its media type and bytes. */
export interface CardPhoto {
  readonly contentType: string
  readonly data: Uint8Array
}

/** PHOTO inline: a data URI in 4.0 (RFC 6350), base64 with ENCODING=b and TYPE in 3.0 (RFC 2426), as Apple and Google write them. */
function photoLine({ contentType, data }: CardPhoto, v4: boolean): string {
  const base64 = base64Of(data)
  if (v4) return `PHOTO:data:${contentType};base64,${base64}`
  const type = contentType.replace(/^image\//, '').toUpperCase()
  return `PHOTO;ENCODING=b;TYPE=${type}:${base64}`
}

/** N, which 3.0 requires: the last word as family name, the others as given names; apps that show N rather than FN show the same name. */
function structuredName(fullName: string): string {
  const words = fullName.trim().split(/\s+/)
  const family = words.length > 1 ? (words.pop() ?? '') : ''
  return [family, words.join(' '), '', '', ''].map((component) => escapeText(component, true)).join(';')
}

function birthdayLine(birthday: string, v4: boolean): string {
  const [year, month, day] = birthday.startsWith('--') ? ['', ...birthday.slice(2).split('-')] : birthday.split('-')
  if (v4) return `BDAY:${year === '' ? '--' : year}${month}${day}`
  return year === '' ? `BDAY;X-APPLE-OMIT-YEAR=${OMITTED_YEAR}:${OMITTED_YEAR}-${month}-${day}` : `BDAY:${birthday}`
}

/** 4.0: a tel URI, TYPEs lower case; 3.0: text, TYPEs upper case. Kind other is no TYPE at all. */
function phoneLine(phone: PhoneNumber, fax: boolean, v4: boolean): string {
  const types = [...(phone.kind === 'other' ? [] : [phone.kind === 'mobile' ? 'cell' : phone.kind]), ...(fax ? ['fax'] : [])]
  return `TEL${v4 ? ';VALUE=uri' : ''}${typeParam(types, v4)}:${formatPhoneNumber(phone, v4 ? 'uri' : 'text')}`
}

function typeParam(types: readonly string[], v4: boolean): string {
  const named = types.filter((type) => type !== 'other')
  return named.length === 0 ? '' : `;TYPE=${named.map((type) => (v4 ? type : type.toUpperCase())).join(',')}`
}

function addressLine(address: PostalAddress, v4: boolean): string {
  const { kind, building_name, unit_number, street_number, street_name, locality, city, province, pincode, country } = address
  const number = street_number === undefined ? undefined : String(street_number)
  const streetLine = number === undefined ? street_name : `${number} ${street_name}`
  const params = [typeParam([kind], v4)]
  if (number !== undefined) params.push(`;X-STREET-NUMBER=${paramValue(number)}`)
  // Where the street's first line would not read back as the name: line breaks, spaces around it, "5 Dials" without a number.
  if (splitStreet(streetLine.split(/\r\n|\r|\n/)[0]?.trim() ?? '', number).name !== street_name) params.push(`;X-STREET-NAME=${paramValue(street_name)}`)
  if (unit_number !== undefined) params.push(`;X-UNIT-NUMBER=${unit_number}`)
  if (building_name !== undefined) params.push(`;X-BUILDING-NAME=${paramValue(building_name)}`)
  if (locality !== undefined) params.push(`;X-LOCALITY=${paramValue(locality)}`)
  const textFields = [
    typeof street_number === 'string' && typeof numberOrText(street_number, ENTRY_BOUNDS.streetNumber) === 'number' ? 'street_number' : '',
    typeof pincode === 'string' && typeof numberOrText(pincode, ENTRY_BOUNDS.pincode) === 'number' ? 'pincode' : '',
  ].filter((field) => field !== '')
  if (textFields.length > 0) params.push(`;X-TEXT-FIELDS=${paramValue(textFields.join(','))}`)
  const extended = [unit_number === undefined ? '' : `Unit ${unit_number}`, building_name ?? ''].filter((part) => part !== '').join(', ')
  const street = [streetLine, locality ?? ''].filter((line) => line !== '').join('\n')
  const components = ['', extended, street, city ?? '', province ?? '', String(pincode), country]
  return `ADR${params.join('')}:${components.map((component) => escapeText(component, true)).join(';')}`
}

/** REV: 4.0 writes timestamps in ISO 8601's basic format, 3.0 in its extended one. */
function timestamp(updatedAt: string, v4: boolean): string {
  const time = new Date(updatedAt)
  if (Number.isNaN(time.getTime())) throw new RangeError(`updatedAt ${preview(updatedAt)} is not a time`)
  const extended = time.toISOString().replace(/\.\d{3}Z$/, 'Z')
  return v4 ? extended.replace(/[-:]/g, '') : extended
}
