import { InvalidSyncTokenError } from '../../domain/errors.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { element, statusResponse, truncatedResponse } from './multistatus.js'
import { propertyRequestOf, propertyResponse } from './propfind.js'
import { resultLimitOf, sendMultistatus, type DavContext } from './request.js'
import { syncTokenUri, tokenOfUri } from './sync-token-uri.js'
import { hrefOf } from './resources.js'
import { child, DAV, escapeXml, type XmlElement } from './xml.js'

/** Changes read from the store at a time. */
const PAGE = 500

/**
 * sync-collection (RFC 6578) on the address book, from the change feed: with no token, every
 * card; with one, each card changed since once, and each deleted one as a 404 row. A client's
 * limit that cuts the changes short answers 507 on the book, with a token that continues there.
 */
export async function syncCollection({ reply, cards, principal, resource }: DavContext, body: XmlElement): Promise<void> {
  if (resource.kind !== 'book') throw new HttpProblem(Problems.invalidXml, { detail: 'sync-collection is a report of the address book.' })
  const level = child(body, DAV, 'sync-level')?.text.trim()
  if (level !== undefined && level !== '1') throw new HttpProblem(Problems.invalidXml, { detail: 'Only sync-level 1 is served: an address book has no collections inside it.' })
  const written = child(body, DAV, 'sync-token')?.text.trim() ?? ''
  const fromUri = written === '' ? undefined : tokenOfUri(written)
  if (written !== '' && fromUri === undefined) throw new InvalidSyncTokenError('was not made by this server')
  const limit = resultLimitOf(body, DAV, 'DAV')
  const wanted = propertyRequestOf(body)
  const owner = principal.owner
  // The first page is read before the answer starts, so that a bad token is a 403, not a broken 207.
  let page = await cards.changesSince(principal, fromUri, Math.min(PAGE, limit ?? PAGE))
  async function* responses(): AsyncGenerator<string> {
    let sent = 0
    for (;;) {
      for (const change of page.changes) {
        const of = { kind: 'card', owner, name: change.name } as const
        yield change.card ? propertyResponse({ resource: of, principal, stamp: change.card }, wanted, change.card) : statusResponse(hrefOf(of), 404)
      }
      sent += page.changes.length
      if (!page.more) break
      if (limit !== undefined && sent >= limit) {
        yield truncatedResponse(hrefOf(resource))
        break
      }
      page = await cards.changesSince(principal, page.token, Math.min(PAGE, limit === undefined ? PAGE : limit - sent))
    }
    yield element(DAV, 'sync-token', escapeXml(syncTokenUri(page.token))) + '\n'
  }
  await sendMultistatus(reply, responses())
}
