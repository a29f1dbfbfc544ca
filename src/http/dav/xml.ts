import { SaxesParser, type SaxesTagNS } from 'saxes'

/**
 * The XML of DAV requests, read by a namespace-aware parser (saxes) into a small tree of
 * elements named by namespace and local name, never by prefix: `<D:prop>` and `<prop
 * xmlns="DAV:">` are the same element. Nothing is expanded: any DOCTYPE is refused before its
 * declarations are looked at, so that an entity bomb costs nothing, and an entity other than
 * XML's five is an error.
 */

export const DAV = 'DAV:'
export const CARDDAV = 'urn:ietf:params:xml:ns:carddav'
export const CALENDARSERVER = 'http://calendarserver.org/ns/'

export interface XmlElement {
  readonly ns: string
  readonly name: string
  readonly attributes: ReadonlyMap<string, string>
  readonly children: readonly XmlElement[]
  /** The text directly inside the element, joined. */
  readonly text: string
}

/** Why a body is not XML this server reads; the protocol answers it with 400. */
export class XmlError extends Error {
  constructor(
    message: string,
    /** A DOCTYPE: refused as such, whatever follows it. */
    readonly doctype = false,
  ) {
    super(message)
    this.name = 'XmlError'
  }
}

/** How deep elements may nest: a DAV request needs 5 or 6, a hostile one asks for thousands. */
const MAX_DEPTH = 32

interface Building {
  readonly ns: string
  readonly name: string
  readonly attributes: Map<string, string>
  readonly children: XmlElement[]
  text: string
}

/** The root element of a body. @throws XmlError when it is not well-formed XML, or has a DOCTYPE */
export function parseXml(body: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: false })
  const open: Building[] = []
  let root: XmlElement | undefined
  let failure: XmlError | undefined
  parser.on('doctype', () => {
    throw new XmlError('a DOCTYPE is not accepted', true)
  })
  parser.on('opentag', (tag: SaxesTagNS) => {
    if (open.length >= MAX_DEPTH) throw new XmlError(`elements nest deeper than ${String(MAX_DEPTH)}`)
    const attributes = new Map<string, string>()
    for (const attribute of Object.values(tag.attributes)) {
      if (attribute.prefix !== 'xmlns' && attribute.name !== 'xmlns') attributes.set(attribute.local, attribute.value)
    }
    open.push({ ns: tag.uri, name: tag.local, attributes, children: [], text: '' })
  })
  parser.on('text', (text) => {
    const current = open.at(-1)
    if (current) current.text += text
  })
  parser.on('cdata', (text) => {
    const current = open.at(-1)
    if (current) current.text += text
  })
  parser.on('closetag', () => {
    const done = open.pop()
    if (!done) return
    const element: XmlElement = done
    const parent = open.at(-1)
    if (parent) parent.children.push(element)
    else root = element
  })
  parser.on('error', (error) => {
    failure ??= new XmlError(error.message)
  })
  try {
    parser.write(body).close()
  } catch (error) {
    if (error instanceof XmlError) throw error
    throw new XmlError(error instanceof Error ? error.message : String(error))
  }
  if (failure) throw failure
  if (!root) throw new XmlError('the body holds no element')
  return root
}

/** Whether an element is `{ns}name`. */
export function is(element: XmlElement, ns: string, name: string): boolean {
  return element.ns === ns && element.name === name
}

/** The first child `{ns}name`, if any. */
export function child(element: XmlElement, ns: string, name: string): XmlElement | undefined {
  return element.children.find((candidate) => is(candidate, ns, name))
}

/** A property's or element's name in Clark notation: `{DAV:}getetag`. */
export function clark(ns: string, name: string): string {
  return `{${ns}}${name}`
}

/** Text for an XML element's content or an attribute's value (quotes are escaped only where they must be). */
export function escapeXml(text: string, inAttribute = false): string {
  return text.replace(inAttribute ? /[&<>"']/g : /[&<>]/g, (char) => ESCAPES[char] ?? char)
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }
