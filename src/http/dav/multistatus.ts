import { CALENDARSERVER, CARDDAV, DAV, escapeXml } from './xml.js'

/**
 * Multistatus bodies (RFC 4918 §13), written as text a response at a time, so that a listing of
 * any size is streamed. Namespaces we answer in have fixed prefixes on the root element; a
 * property of another namespace (one a client asked for and we do not have) declares its own.
 */

const PREFIXES: ReadonlyMap<string, string> = new Map([
  [DAV, 'd'],
  [CARDDAV, 'card'],
  [CALENDARSERVER, 'cs'],
])

/** The namespaces of a root element: every prefix an element of ours may use. */
export const NAMESPACE_DECLARATIONS = [...PREFIXES].map(([ns, prefix]) => `xmlns:${prefix}="${ns}"`).join(' ')

export const XML_CONTENT_TYPE = 'application/xml; charset=utf-8'
export const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
export const MULTISTATUS_START = `${XML_DECLARATION}<d:multistatus ${NAMESPACE_DECLARATIONS}>\n`
export const MULTISTATUS_END = '</d:multistatus>\n'

/** A property by namespace and name, with its value as XML content; no value when empty. */
export interface Property {
  readonly ns: string
  readonly name: string
  readonly xml?: string | undefined
}

/** An element `{ns}name`, empty or around `content`, with the prefix its namespace has here. */
export function element(ns: string, name: string, content?: string): string {
  const prefix = PREFIXES.get(ns)
  const tag = prefix === undefined ? `x:${name}` : `${prefix}:${name}`
  const declaration = prefix === undefined ? ` xmlns:x="${escapeXml(ns, true)}"` : ''
  return content === undefined || content === '' ? `<${tag}${declaration}/>` : `<${tag}${declaration}>${content}</${tag}>`
}

export function hrefElement(href: string): string {
  return element(DAV, 'href', escapeXml(href))
}

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  403: 'Forbidden',
  404: 'Not Found',
  507: 'Insufficient Storage',
}

export function statusLine(status: number): string {
  return element(DAV, 'status', `HTTP/1.1 ${String(status)} ${REASONS[status] ?? ''}`)
}

/** One response of a multistatus: a resource's properties, grouped by the status each has. */
export function propertiesResponse(href: string, byStatus: ReadonlyMap<number, readonly Property[]>): string {
  let propstats = ''
  for (const [status, properties] of byStatus) {
    if (properties.length === 0) continue
    propstats += propstat(status, properties.map(({ ns, name, xml }) => element(ns, name, xml)).join(''))
  }
  return element(DAV, 'response', hrefElement(href) + propstats) + '\n'
}

/** One response of a multistatus that is a status alone: a missing card, a deletion. */
export function statusResponse(href: string, status: number, extra = ''): string {
  return element(DAV, 'response', hrefElement(href) + statusLine(status) + extra) + '\n'
}

/** The response that ends a result a client's limit cut short: 507 on the collection (RFC 5323 §3, RFC 6578 §3.6). */
export function truncatedResponse(href: string): string {
  return statusResponse(href, 507, element(DAV, 'error', element(DAV, 'number-of-matches-within-limits')))
}

/** A propstat: properties, as XML, and the status they share. */
export function propstat(status: number, properties: string): string {
  return element(DAV, 'propstat', element(DAV, 'prop', properties) + statusLine(status))
}
