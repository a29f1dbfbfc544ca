import { contentTypeOf, servedCard, versionAccepted } from './address-data.js'
import { notFound, type DavContext } from './request.js'

/**
 * GET and HEAD of a card (address-data.ts says what it is served as), with the entry's version
 * as its strong ETag. Collections have no body to GET.
 */
export async function get({ request, reply, cards, principal, resource }: DavContext): Promise<void> {
  if (resource.kind !== 'card') throw notFound(resource)
  const card = await cards.card(principal, resource.name)
  const { text, etag } = servedCard(card, versionAccepted(request.headers.accept))
  await reply
    .header('etag', etag)
    .header('last-modified', new Date(card.updatedAt).toUTCString())
    .header('vary', 'accept, accept-encoding')
    .type(contentTypeOf(text))
    .send(text)
}
