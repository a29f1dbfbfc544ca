import { foldCase } from '../../domain/listing.js'
import { formatPhoneNumber } from '../../formats/phone-number.js'
import type { Card } from '../../service/card-book-service.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { truncatedResponse } from './multistatus.js'
import { propertyRequestOf, propertyResponse } from './propfind.js'
import { resultLimitOf, sendMultistatus, type DavContext } from './request.js'
import { hrefOf } from './resources.js'
import { CARDDAV, child, is, type XmlElement } from './xml.js'

/**
 * addressbook-query (RFC 6352 §8.6): the cards that pass a filter of prop-filters, each with
 * text-matches (equals, contains, starts-with, ends-with, negated or not) under the
 * i;unicode-casemap, i;ascii-casemap or i;octet collation, combined by anyof or allof. A limit
 * that cuts the result short ends it with 507 on the book (§8.6.1).
 */

type MatchType = 'equals' | 'contains' | 'starts-with' | 'ends-with'
const MATCH_TYPES: ReadonlySet<string> = new Set(['equals', 'contains', 'starts-with', 'ends-with'])
const UNICODE_CASEMAP = 'i;unicode-casemap'
const COLLATIONS: Readonly<Record<string, (text: string) => string>> = {
  // The fold the store's search index keeps, which is what lets a query narrow by that index.
  [UNICODE_CASEMAP]: foldCase,
  'i;ascii-casemap': (text) => text.replace(/[A-Z]/g, (char) => char.toLowerCase()),
  'i;octet': (text) => text,
}

interface TextMatch {
  readonly text: string
  readonly collation: string
  readonly fold: (text: string) => string
  readonly type: MatchType
  readonly negate: boolean
}

interface PropFilter {
  readonly name: string
  readonly allOf: boolean
  readonly notDefined: boolean
  readonly matches: readonly TextMatch[]
}

interface Filter {
  readonly allOf: boolean
  readonly props: readonly PropFilter[]
}

export async function addressbookQuery({ reply, cards, principal, resource }: DavContext, body: XmlElement): Promise<void> {
  if (resource.kind !== 'book') throw new HttpProblem(Problems.invalidXml, { detail: 'addressbook-query is a report of the address book.' })
  const filter = filterOf(child(body, CARDDAV, 'filter'))
  const limit = resultLimitOf(body, CARDDAV, 'CARDDAV')
  const wanted = propertyRequestOf(body)
  const owner = principal.owner
  async function* responses(): AsyncGenerator<string> {
    let found = 0
    for await (const card of cards.cards(principal, { search: searchOf(filter) })) {
      if (!passes(card, filter)) continue
      if (limit !== undefined && found >= limit) {
        yield truncatedResponse(hrefOf(resource))
        return
      }
      found++
      yield propertyResponse({ resource: { kind: 'card', owner, name: card.name }, principal, stamp: card }, wanted, card)
    }
  }
  await sendMultistatus(reply, responses())
}

function filterOf(element: XmlElement | undefined): Filter {
  if (!element) return { allOf: false, props: [] }
  return {
    allOf: element.attributes.get('test') === 'allof',
    props: element.children.filter((candidate) => is(candidate, CARDDAV, 'prop-filter')).map(propFilterOf),
  }
}

function propFilterOf(element: XmlElement): PropFilter {
  const name = element.attributes.get('name')?.trim().toUpperCase()
  if (!name) throw new HttpProblem(Problems.invalidXml, { detail: 'A prop-filter needs a name.' })
  return {
    name,
    allOf: element.attributes.get('test') === 'allof',
    notDefined: child(element, CARDDAV, 'is-not-defined') !== undefined,
    matches: element.children.filter((candidate) => is(candidate, CARDDAV, 'text-match')).map(textMatchOf),
  }
}

function textMatchOf(element: XmlElement): TextMatch {
  const collation = element.attributes.get('collation') ?? UNICODE_CASEMAP
  const fold = COLLATIONS[collation]
  if (!fold) throw new HttpProblem(Problems.invalidXml, { detail: `The collation ${collation} is not supported: use i;unicode-casemap, i;ascii-casemap or i;octet.`.slice(0, 200) })
  const type = element.attributes.get('match-type') ?? 'contains'
  if (!MATCH_TYPES.has(type)) throw new HttpProblem(Problems.invalidXml, { detail: 'match-type must be equals, contains, starts-with or ends-with.' })
  return { text: fold(element.text), collation, fold, type: type as MatchType, negate: element.attributes.get('negate-condition') === 'yes' }
}

/** Properties whose every value is a line of the store's search text, folded as i;unicode-casemap folds. */
const SEARCHED: ReadonlySet<string> = new Set(['FN', 'N', 'NICKNAME', 'ORG', 'EMAIL', 'CATEGORIES'])

/**
 * A text that every card passing the filter has in its search text, so that the store's search
 * index can narrow what is read (each card read is still tested): the longest that one of the
 * prop-filters that every passing card passes demands, or none. A prop-filter demands a text when
 * it tests a searched property and a passing value must hold the text under i;unicode-casemap,
 * the fold of the index: the one text-match of an anyof, or any text-match of an allof, if not
 * negated. (ASCII case-mapping and octets compare what NFKC may change, so they narrow nothing.)
 */
function searchOf(filter: Filter): string | undefined {
  const required = filter.allOf || filter.props.length === 1 ? filter.props : []
  let longest: string | undefined
  for (const prop of required) {
    if (prop.notDefined || !SEARCHED.has(prop.name)) continue
    const demanded = prop.allOf || prop.matches.length === 1 ? prop.matches : []
    for (const { text, collation, negate } of demanded) {
      if (negate || collation !== UNICODE_CASEMAP) continue
      if (text.length > (longest?.length ?? 0)) longest = text
    }
  }
  return longest
}

function passes(card: Card, filter: Filter): boolean {
  if (filter.props.length === 0) return true
  const test = (prop: PropFilter) => propPasses(valuesOf(card, prop.name), prop)
  return filter.allOf ? filter.props.every(test) : filter.props.some(test)
}

function propPasses(values: readonly string[], prop: PropFilter): boolean {
  if (prop.notDefined) return values.length === 0
  if (values.length === 0) return false
  if (prop.matches.length === 0) return true
  const test = (match: TextMatch) => values.some((value) => textMatches(value, match)) !== match.negate
  return prop.allOf ? prop.matches.every(test) : prop.matches.some(test)
}

function textMatches(value: string, { text, fold, type }: TextMatch): boolean {
  const folded = fold(value)
  switch (type) {
    case 'equals':
      return folded === text
    case 'contains':
      return folded.includes(text)
    case 'starts-with':
      return folded.startsWith(text)
    case 'ends-with':
      return folded.endsWith(text)
  }
}

/** The values a card has for a property, as its vCard would show them. */
function valuesOf(card: Card, name: string): string[] {
  const { entry } = card
  switch (name) {
    case 'FN':
    case 'N':
      return [entry.full_name]
    case 'NICKNAME':
      return entry.nickname === undefined ? [] : [entry.nickname]
    case 'EMAIL':
      return (entry.emails ?? []).map(({ email }) => email)
    case 'TEL':
      return [...(entry.phone_numbers ?? []), ...(entry.fax_numbers ?? [])].map((phone) => formatPhoneNumber(phone, 'text'))
    case 'ORG':
      return entry.organization === undefined ? [] : [entry.organization]
    case 'TITLE':
      return entry.job_title === undefined ? [] : [entry.job_title]
    case 'NOTE':
      return entry.notes === undefined ? [] : [entry.notes]
    case 'URL':
      return entry.urls ?? []
    case 'UID':
      return [card.uid]
    case 'CATEGORIES':
      return entry.labels ?? []
    default:
      return sentValues(card.sent?.text, name)
  }
}

/** The values of another property (IMPP, X-…) in the card as it was sent, as written. */
function sentValues(text: string | undefined, name: string): string[] {
  if (text === undefined) return []
  return text
    .replace(/\r?\n[ \t]/g, '')
    .split(/\r?\n/)
    .filter((line) => {
      const head = line.slice(0, line.search(/[;:]/)).toUpperCase()
      return head === name || head.endsWith(`.${name}`)
    })
    .map((line) => line.slice(line.indexOf(':') + 1))
}
