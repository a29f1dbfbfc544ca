import type { FastifyReply } from 'fastify'
import { resourceAt } from './resources.js'

/** The DAV classes of every DAV resource (RFC 4918 §10.1, RFC 6352 §6.1): no locks, hence no 2. */
export const DAV_CLASSES = '1, 3, addressbook'

/** What a collection answers. MKCOL is not among them: it makes a resource that is not there. */
export const COLLECTION_METHODS = 'OPTIONS, PROPFIND, PROPPATCH, REPORT'
const CARD_METHODS = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT'

/** The methods a resource kind answers, as Allow lists them. */
export function allowedAt(path: string): string {
  return resourceAt(path)?.kind === 'card' ? CARD_METHODS : COLLECTION_METHODS
}

/** OPTIONS, which needs no credentials: what the server speaks here. */
export async function options(reply: FastifyReply, path: string): Promise<void> {
  await reply.header('dav', DAV_CLASSES).header('allow', allowedAt(path)).header('ms-author-via', 'DAV').code(200).send()
}
