import { preconditionsOf } from '../edge/preconditions.js'
import { HttpProblem, Problems } from '../edge/problems.js'
import { COLLECTION_METHODS } from './options.js'
import { type DavContext } from './request.js'

/** DELETE of a card, on the condition of If-Match; the book and the tree above it stay. */
export async function remove({ request, reply, cards, principal, resource }: DavContext): Promise<void> {
  if (resource.kind !== 'card') {
    throw new HttpProblem(Problems.methodNotAllowed, { detail: 'Only cards can be deleted; each owner keeps one address book.', headers: { allow: COLLECTION_METHODS } })
  }
  await cards.deleteCard(principal, resource.name, preconditionsOf(request.headers))
  await reply.code(204).send()
}
