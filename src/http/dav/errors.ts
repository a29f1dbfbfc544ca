import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCode, UidConflictError } from '../../domain/errors.js'
import { problemTypeUri, resolveProblem, traceOf } from '../edge/problems.js'
import { element, NAMESPACE_DECLARATIONS, XML_CONTENT_TYPE, XML_DECLARATION } from './multistatus.js'
import { hrefOf } from './resources.js'
import { CARDDAV, DAV, escapeXml } from './xml.js'

/**
 * DAV's answer to every refusal and failure: the status and headers of the one table of codes,
 * and a DAV error body (RFC 4918 §16) naming the precondition RFC 4918, 6352 or 6578 defines for
 * it, with the problem's code, title, detail and request id beside it for people.
 */

const PROBLEM_NS = 'urn:addrservice:problem'

/** The status DAV answers a code with where its RFCs say otherwise than the table. */
const DAV_STATUS: Partial<Record<ErrorCode, number>> = {
  // RFC 6578 §3.2: an invalid or expired sync token is 403 with DAV:valid-sync-token.
  [ErrorCode.invalidSyncToken]: 403,
  [ErrorCode.syncTokenExpired]: 403,
}

function preconditionOf(error: unknown, code: ErrorCode, owner: string | undefined): string {
  switch (code) {
    case ErrorCode.uidConflict: {
      const holder = error instanceof UidConflictError && owner !== undefined ? element(DAV, 'href', escapeXml(hrefOf({ kind: 'card', owner, name: error.holder }))) : ''
      return element(CARDDAV, 'no-uid-conflict', holder)
    }
    case ErrorCode.unsupportedCard:
      return element(CARDDAV, 'supported-address-data')
    case ErrorCode.invalidCard:
    case ErrorCode.invalidEntry:
      return element(CARDDAV, 'valid-address-data')
    case ErrorCode.payloadTooLarge:
      return element(CARDDAV, 'max-resource-size')
    case ErrorCode.depthInfinityRefused:
      return element(DAV, 'propfind-finite-depth')
    case ErrorCode.invalidSyncToken:
    case ErrorCode.syncTokenExpired:
      return element(DAV, 'valid-sync-token')
    case ErrorCode.collectionNotAllowed:
      return element(DAV, 'resource-must-be-null')
    default:
      return ''
  }
}

export interface DavErrorOptions {
  readonly bodyLimit: number
  readonly debug: boolean
}

/** Answers a request on a DAV path that failed. */
export function sendDavError(request: FastifyRequest, reply: FastifyReply, error: unknown, { bodyLimit, debug }: DavErrorOptions): void {
  request.failure = error
  const { problem, detail, errors, headers } = resolveProblem(error, bodyLimit)
  const status = DAV_STATUS[problem.code] ?? problem.status
  const owner = request.principal?.owner
  const known = preconditionOf(error, problem.code, owner)
  const people = [
    element(PROBLEM_NS, 'type', escapeXml(problemTypeUri(problem))),
    element(PROBLEM_NS, 'title', escapeXml(problem.title)),
    element(PROBLEM_NS, 'detail', escapeXml(detail)),
    ...(errors ?? []).map(({ path, message }) => element(PROBLEM_NS, 'error', escapeXml(`${path} ${message}`))),
    element(PROBLEM_NS, 'request-id', escapeXml(request.id)),
    ...(debug ? [element(PROBLEM_NS, 'trace', escapeXml(traceOf(error)))] : []),
  ].join('')
  reply.raw.statusMessage = problem.title
  reply.code(status)
  for (const [name, value] of Object.entries(headers ?? {})) reply.header(name, value)
  void reply.type(XML_CONTENT_TYPE).send(`${XML_DECLARATION}<d:error ${NAMESPACE_DECLARATIONS}>${known}${people}</d:error>\n`)
}
