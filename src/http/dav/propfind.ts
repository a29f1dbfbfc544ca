import type { Card, CardStamp } from '../../service/card-book-service.js'
import { addressDataXml, versionOfAddressData } from './address-data.js'
import { propertiesResponse } from './multistatus.js'
import { propertiesByStatus, propertyNames, stampResponder, type PropertyTarget } from './properties.js'
import { depthOf, sendMultistatus, wrongBody, xmlBody, type DavContext } from './request.js'
import { hrefOf, type DavResource } from './resources.js'
import { CALENDARSERVER, CARDDAV, child, DAV, is, type XmlElement } from './xml.js'

/** What a PROPFIND asks for (RFC 4918 §9.1): named properties, all of them, or only their names. */
export type PropertyRequest =
  | { readonly kind: 'prop'; readonly names: readonly { ns: string; name: string }[]; readonly addressData?: XmlElement | undefined }
  | { readonly kind: 'allprop' }
  | { readonly kind: 'propname' }

/** The `<prop>` of a request body, or allprop when there is none. */
export function propertyRequestOf(container: XmlElement | undefined): PropertyRequest {
  if (!container) return { kind: 'allprop' }
  if (child(container, DAV, 'propname')) return { kind: 'propname' }
  const prop = child(container, DAV, 'prop')
  if (!prop) return { kind: 'allprop' }
  return { kind: 'prop', names: prop.children.map(({ ns, name }) => ({ ns, name })), addressData: child(prop, CARDDAV, 'address-data') }
}

/** Whether a request asks for the cards themselves, not only for what their stamps say. */
export function needsCards(wanted: PropertyRequest): boolean {
  return wanted.kind === 'prop' && wanted.addressData !== undefined
}

/** One resource's response to a property request; a card's address-data needs the card. */
export function propertyResponse(target: PropertyTarget, wanted: PropertyRequest, card?: Card): string {
  const href = hrefOf(target.resource)
  if (wanted.kind === 'propname') {
    return propertiesResponse(href, new Map([[200, propertyNames(target.resource.kind)]]))
  }
  const names = wanted.kind === 'allprop' ? propertyNames(target.resource.kind) : wanted.names
  const addressData = (ns: string, name: string) =>
    card && ns === CARDDAV && name === 'address-data' ? addressDataXml(card, versionOfAddressData(wanted.kind === 'prop' ? wanted.addressData : undefined)) : undefined
  return propertiesResponse(href, propertiesByStatus(target, names, addressData))
}

/** PROPFIND (RFC 4918 §9.1) at Depth 0 or 1; a book's cards are streamed, read in batches. */
export async function propfind({ request, reply, cards, principal, resource }: DavContext): Promise<void> {
  const depth = depthOf(request)
  const body = xmlBody(request)
  if (body && !is(body, DAV, 'propfind')) throw wrongBody('a DAV:propfind element')
  const wanted = propertyRequestOf(body)
  const asksFor = (ns: string, name: string) => wanted.kind !== 'prop' || wanted.names.some((n) => n.ns === ns && n.name === name)
  const bookToken = async () => (asksFor(CALENDARSERVER, 'getctag') || asksFor(DAV, 'sync-token') || asksFor(DAV, 'getetag') ? cards.currentToken(principal) : undefined)
  const target = (of: DavResource, extra: { token?: string | undefined; stamp?: CardStamp } = {}): PropertyTarget => ({ resource: of, principal, ...extra })

  switch (resource.kind) {
    case 'card': {
      const card = await cards.card(principal, resource.name)
      await sendMultistatus(reply, [propertyResponse(target(resource, { stamp: card }), wanted, card)])
      return
    }
    case 'book': {
      const self = propertyResponse(target(resource, { token: await bookToken() }), wanted)
      if (depth === 0) {
        await sendMultistatus(reply, [self])
        return
      }
      const owner = resource.owner
      // A listing of ETags (what every sync starts with) reads only the cards' stamps.
      async function* listing(): AsyncGenerator<string> {
        yield self
        if (needsCards(wanted)) {
          for await (const card of cards.cards(principal)) yield propertyResponse(target({ kind: 'card', owner, name: card.name }, { stamp: card }), wanted, card)
        } else {
          const names = wanted.kind === 'allprop' ? propertyNames('card') : wanted.kind === 'prop' ? wanted.names : undefined
          const respond = names ? stampResponder(principal, owner, names) : undefined
          for await (const stamp of cards.stamps(principal)) {
            yield respond ? respond(stamp) : propertyResponse(target({ kind: 'card', owner, name: stamp.name }, { stamp }), wanted)
          }
        }
      }
      await sendMultistatus(reply, listing())
      return
    }
    case 'home': {
      const responses = [propertyResponse(target(resource), wanted)]
      if (depth === 1) {
        const book: DavResource = { kind: 'book', owner: resource.owner }
        responses.push(propertyResponse(target(book, { token: await bookToken() }), wanted))
      }
      await sendMultistatus(reply, responses)
      return
    }
    case 'principals': {
      const responses = [propertyResponse(target(resource), wanted)]
      if (depth === 1) responses.push(propertyResponse(target({ kind: 'principal', owner: principal.owner }), wanted))
      await sendMultistatus(reply, responses)
      return
    }
    case 'root':
    case 'principal':
      await sendMultistatus(reply, [propertyResponse(target(resource), wanted)])
  }
}
