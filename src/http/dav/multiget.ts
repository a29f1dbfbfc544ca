import { propertyRequestOf, propertyResponse } from './propfind.js'
import { statusResponse } from './multistatus.js'
import { sendMultistatus, type DavContext } from './request.js'
import { hrefOf, resourceOfHref } from './resources.js'
import { DAV, type XmlElement } from './xml.js'

/** The most hrefs one multiget may name. */
export const MULTIGET_LIMIT = 10_000

/**
 * addressbook-multiget (RFC 6352 §8.7): the cards the hrefs name, in their order, read a batch
 * at a time and streamed; an href that names no card of this book is a 404 row.
 */
export async function multiget({ reply, cards, principal, resource }: DavContext, body: XmlElement): Promise<void> {
  const wanted = propertyRequestOf(body)
  const hrefs = body.children.filter((element) => element.ns === DAV && element.name === 'href').map((element) => element.text.trim())
  const owner = principal.owner
  const names: string[] = []
  const missing = new Set<string>()
  for (const href of hrefs.slice(0, MULTIGET_LIMIT)) {
    // A card of this tree is always in its owner's one book.
    const named = resourceOfHref(href)
    if (named?.kind === 'card' && named.owner === owner && (resource.kind === 'book' || hrefOf(named) === hrefOf(resource))) names.push(named.name)
    else missing.add(href)
  }
  async function* responses(): AsyncGenerator<string> {
    for (const href of missing) yield statusResponse(href, 404)
    for await (const found of cards.cardsNamed(principal, names)) {
      if ('missing' in found) yield statusResponse(hrefOf({ kind: 'card', owner, name: found.missing }), 404)
      else yield propertyResponse({ resource: { kind: 'card', owner, name: found.name }, principal, stamp: found }, wanted, found)
    }
  }
  await sendMultistatus(reply, responses())
}
