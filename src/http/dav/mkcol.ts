import { HttpProblem, Problems } from '../edge/problems.js'
import { COLLECTION_METHODS } from './options.js'
import type { DavContext } from './request.js'

/**
 * MKCOL: an existing resource cannot be made (405, RFC 4918 §9.3.1); a new collection is not
 * allowed either, since each owner has one address book (403).
 */
export function mkcol({ resource }: DavContext): Promise<void> {
  throw resource.kind === 'card'
    ? new HttpProblem(Problems.collectionNotAllowed)
    : new HttpProblem(Problems.methodNotAllowed, { detail: 'This collection exists already.', headers: { allow: COLLECTION_METHODS } })
}
