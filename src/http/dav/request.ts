import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { EntryNotFoundError } from '../../domain/errors.js'
import type { Principal } from '../../domain/principal.js'
import type { CardBook } from '../../service/card-book-service.js'
import { principalOf } from '../edge/authentication.js'
import { HttpProblem, pathOf, Problems } from '../edge/problems.js'
import { MULTISTATUS_END, MULTISTATUS_START, XML_CONTENT_TYPE } from './multistatus.js'
import { isShared, resourceAt, type DavResource } from './resources.js'
import { child, parseXml, XmlError, type XmlElement } from './xml.js'

/** What every DAV handler is given. */
export interface DavContext {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly cards: CardBook
  readonly principal: Principal
  /** The resource the request path names, when it is the caller's (or the root). */
  readonly resource: DavResource
}

export type DavHandler = (context: DavContext) => Promise<void>

/** A resource that is not there, or is another owner's: both answer alike. */
export function notFound(resource: DavResource | undefined): Error {
  return resource?.kind === 'card' ? new EntryNotFoundError(resource.name) : new HttpProblem(Problems.unknownEndpoint, { detail: 'There is no DAV resource at this path.' })
}

/** The request's resource, if it is the caller's; another owner's is not found. */
export function ownResource(request: FastifyRequest, principal: Principal): DavResource {
  const resource = resourceAt(pathOf(request.url))
  if (!resource || (!isShared(resource) && resource.owner !== principal.owner)) throw notFound(resource)
  return resource
}

export function contextOf(request: FastifyRequest, reply: FastifyReply, cards: CardBook): DavContext {
  const principal = principalOf(request)
  return { request, reply, cards, principal, resource: ownResource(request, principal) }
}

/** Depth 0 or 1; Depth: infinity is refused (RFC 4918 §9.1 lets a server), and a request without one is Depth 0. */
export function depthOf(request: FastifyRequest): 0 | 1 {
  const header = request.headers.depth
  const depth = (Array.isArray(header) ? header.join(',') : header)?.trim().toLowerCase()
  if (depth === undefined || depth === '0') return 0
  if (depth === '1') return 1
  if (depth === 'infinity') throw new HttpProblem(Problems.depthInfinityRefused)
  throw new HttpProblem(Problems.invalidHeader, { errors: [{ path: '/headers/depth', message: 'must be 0, 1 or infinity' }] })
}

/** The body as XML; undefined when there is none. @throws HttpProblem (invalid-xml) */
export function xmlBody(request: FastifyRequest): XmlElement | undefined {
  const body = request.body
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined
  let text: string
  try {
    text = UTF8.decode(body)
  } catch {
    throw new HttpProblem(Problems.invalidXml, { detail: 'The request body is not UTF-8.' })
  }
  try {
    return parseXml(text)
  } catch (error) {
    const detail = error instanceof XmlError && error.doctype ? 'A DOCTYPE is not accepted in a request body.' : `The request body is not well-formed XML: ${error instanceof Error ? error.message : String(error)}`
    throw new HttpProblem(Problems.invalidXml, { detail: detail.slice(0, 300) })
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** How much of a streamed multistatus is sent at a time, in characters. */
const MULTISTATUS_CHUNK = 64 * 1024

/**
 * The result limit of a REPORT: `<limit><nresults>N</nresults></limit>` in the report's own
 * namespace (CARDDAV for addressbook-query, DAV for sync-collection); none when it names none.
 */
export function resultLimitOf(report: XmlElement, ns: string, prefix: string): number | undefined {
  const limit = child(report, ns, 'limit')
  const text = limit === undefined ? undefined : child(limit, ns, 'nresults')?.text.trim()
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new HttpProblem(Problems.invalidXml, { detail: `${prefix}:nresults must be a whole number of at least 1.` })
  return value
}

/** Refuses a body that is not the request it should be. */
export function wrongBody(expected: string): HttpProblem {
  return new HttpProblem(Problems.invalidXml, { detail: `The request body must be ${expected}.` })
}

/**
 * Sends a 207 multistatus whose responses come from `parts`, streamed. The first part is awaited
 * before anything is sent, so that a store that cannot answer is answered with an error instead.
 */
export async function sendMultistatus(reply: FastifyReply, parts: AsyncIterable<string> | readonly string[]): Promise<void> {
  if (Array.isArray(parts)) {
    await reply.code(207).type(XML_CONTENT_TYPE).send(MULTISTATUS_START + parts.join('') + MULTISTATUS_END)
    return
  }
  const iterator = (parts as AsyncIterable<string>)[Symbol.asyncIterator]()
  const first = await iterator.next()
  // Responses are gathered into chunks: one write per response of a 50,000-card listing costs
  // more than writing them.
  async function* body(): AsyncGenerator<string> {
    let chunk = MULTISTATUS_START
    if (first.done !== true) {
      chunk += first.value
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        chunk += next.value
        if (chunk.length >= MULTISTATUS_CHUNK) {
          yield chunk
          chunk = ''
        }
      }
    }
    yield chunk + MULTISTATUS_END
  }
  await reply.code(207).type(XML_CONTENT_TYPE).send(Readable.from(body(), { objectMode: false }))
}
