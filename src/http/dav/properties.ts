import { hasScope, type Principal } from '../../domain/principal.js'
import type { CardStamp } from '../../service/card-book-service.js'
import { entityTagOf } from '../edge/preconditions.js'
import { syncTokenUri } from './sync-token-uri.js'
import { element, hrefElement, propstat, type Property } from './multistatus.js'
import { hrefOf, type DavResource } from './resources.js'
import { CALENDARSERVER, CARDDAV, clark, DAV, escapeXml } from './xml.js'

/**
 * The properties each kind of resource has, and their values. Every property is live (computed
 * from what the book holds); PROPPATCH can set none of them.
 */

/** The largest card a PUT may send, in bytes; advertised as max-resource-size. */
export const MAX_CARD_BYTES = 1024 * 1024

/** What a property's value is computed from. */
export interface PropertyTarget {
  readonly resource: DavResource
  readonly principal: Principal
  /** The book's sync token: for the book itself. */
  readonly token?: string | undefined
  /** A card's version and time: for a card. */
  readonly stamp?: CardStamp | undefined
}

type Value = (target: PropertyTarget) => string | undefined

const principalHref = ({ principal }: PropertyTarget) => hrefElement(hrefOf({ kind: 'principal', owner: principal.owner }))
const collection = () => element(DAV, 'collection')

const PRIVILEGES_READ = ['read', 'read-current-user-privilege-set']
const PRIVILEGES_WRITE = [...PRIVILEGES_READ, 'write', 'write-content', 'write-properties', 'bind', 'unbind']
const privileges = ({ principal }: PropertyTarget) =>
  (hasScope(principal, 'write') ? PRIVILEGES_WRITE : PRIVILEGES_READ).map((name) => element(DAV, 'privilege', element(DAV, name))).join('')

const REPORTS: readonly (readonly [string, string])[] = [
  [CARDDAV, 'addressbook-multiget'],
  [CARDDAV, 'addressbook-query'],
  [DAV, 'sync-collection'],
]

const COMMON: readonly (readonly [string, string, Value])[] = [
  [DAV, 'current-user-principal', principalHref],
  [DAV, 'current-user-privilege-set', privileges],
]

/** The root and the principal collection: what a client asks before it knows whom it is. */
const ENTRY_POINT = table([...COMMON, [DAV, 'resourcetype', collection], [DAV, 'principal-collection-set', () => hrefElement(hrefOf({ kind: 'principals' }))]])

const BY_KIND: Readonly<Record<DavResource['kind'], ReadonlyMap<string, Value>>> = {
  root: ENTRY_POINT,
  principals: ENTRY_POINT,
  principal: table([
    ...COMMON,
    [DAV, 'resourcetype', () => collection() + element(DAV, 'principal')],
    [DAV, 'principal-URL', principalHref],
    [DAV, 'displayname', ({ principal }) => escapeXml(principal.owner)],
    [CARDDAV, 'addressbook-home-set', ({ principal }) => hrefElement(hrefOf({ kind: 'home', owner: principal.owner }))],
  ]),
  home: table([...COMMON, [DAV, 'resourcetype', collection], [DAV, 'owner', principalHref], [DAV, 'displayname', ({ principal }) => escapeXml(principal.owner)]]),
  book: table([
    ...COMMON,
    [DAV, 'resourcetype', () => collection() + element(CARDDAV, 'addressbook')],
    [DAV, 'owner', principalHref],
    [DAV, 'displayname', () => 'Contacts'],
    [CARDDAV, 'addressbook-description', ({ principal }) => escapeXml(`The address book of ${principal.owner}`)],
    [CALENDARSERVER, 'getctag', ({ token }) => (token === undefined ? undefined : escapeXml(token))],
    [DAV, 'sync-token', ({ token }) => (token === undefined ? undefined : escapeXml(syncTokenUri(token)))],
    [DAV, 'getetag', ({ token }) => (token === undefined ? undefined : escapeXml(`"${token}"`))],
    [DAV, 'supported-report-set', () => REPORTS.map(([ns, name]) => element(DAV, 'supported-report', element(DAV, 'report', element(ns, name)))).join('')],
    // 3.0 only: a client told that 4.0 is supported writes 4.0 cards, which some others then drop.
    // 4.0 cards are accepted all the same, and served to those who ask.
    [CARDDAV, 'supported-address-data', () => `<card:address-data-type content-type="text/vcard" version="3.0"/>`],
    [CARDDAV, 'max-resource-size', () => String(MAX_CARD_BYTES)],
  ]),
  card: table([
    ...COMMON,
    [DAV, 'resourcetype', () => ''],
    [DAV, 'getetag', ({ stamp }) => (stamp === undefined ? undefined : escapeXml(entityTagOf(stamp.version)))],
    [DAV, 'getcontenttype', () => 'text/vcard; charset=utf-8'],
    [DAV, 'getlastmodified', ({ stamp }) => (stamp === undefined ? undefined : new Date(stamp.updatedAt).toUTCString())],
  ]),
}

function table(rows: readonly (readonly [string, string, Value])[]): ReadonlyMap<string, Value> {
  return new Map(rows.map(([ns, name, value]) => [clark(ns, name), value]))
}

/** The names of every property a resource has: for allprop and propname. */
export function propertyNames(kind: DavResource['kind']): { ns: string; name: string }[] {
  return [...BY_KIND[kind].keys()].map((key) => {
    const end = key.indexOf('}')
    return { ns: key.slice(1, end), name: key.slice(end + 1) }
  })
}

/** A property's value on a target; undefined when the resource has no such property. */
export function propertyValue(target: PropertyTarget, ns: string, name: string): string | undefined {
  return BY_KIND[target.resource.kind].get(clark(ns, name))?.(target)
}

/** The properties asked for, each found (200) or not (404). */
export function propertiesByStatus(target: PropertyTarget, wanted: readonly { ns: string; name: string }[], extra?: (ns: string, name: string) => string | undefined): Map<number, Property[]> {
  const found: Property[] = []
  const missing: Property[] = []
  for (const { ns, name } of wanted) {
    const xml = extra?.(ns, name) ?? propertyValue(target, ns, name)
    if (xml === undefined) missing.push({ ns, name })
    else found.push({ ns, name, xml })
  }
  return new Map([
    [200, found],
    [404, missing],
  ])
}

/** The card properties whose values differ from card to card in a listing of stamps. */
const FROM_THE_STAMP: ReadonlySet<string> = new Set([clark(DAV, 'getetag'), clark(DAV, 'getlastmodified')])

/**
 * The responses of a listing of cards' stamps for these properties, each written with little
 * more than its href and the values its stamp gives: what does not differ from card to card (the
 * content type, the privileges, the 404 rows) is written once, since a book of 50,000 cards
 * would otherwise build it 50,000 times.
 */
export function stampResponder(principal: Principal, owner: string, wanted: readonly { ns: string; name: string }[]): (stamp: CardStamp) => string {
  const resource: DavResource = { kind: 'card', owner, name: '' }
  const dynamic = wanted.filter(({ ns, name }) => FROM_THE_STAMP.has(clark(ns, name)))
  const fixed = propertiesByStatus({ resource, principal }, wanted.filter(({ ns, name }) => !FROM_THE_STAMP.has(clark(ns, name))))
  const found = (fixed.get(200) ?? []).map(({ ns, name, xml }) => element(ns, name, xml)).join('')
  const missing = fixed.get(404) ?? []
  const missingPropstat = missing.length === 0 ? '' : propstat(404, missing.map(({ ns, name }) => element(ns, name)).join(''))
  return (stamp) => {
    const props = dynamic.map(({ ns, name }) => element(ns, name, propertyValue({ resource, principal, stamp }, ns, name))).join('') + found
    const href = hrefElement(hrefOf({ kind: 'card', owner, name: stamp.name }))
    return element(DAV, 'response', `${href}${props === '' ? '' : propstat(200, props)}${missingPropstat}`) + '\n'
  }
}
