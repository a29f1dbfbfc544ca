import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CardBook } from '../../service/card-book-service.js'
import { HttpProblem, pathOf, Problems } from '../edge/problems.js'
import { remove } from './delete.js'
import { sendDavError } from './errors.js'
import { get } from './get.js'
import { mkcol } from './mkcol.js'
import { allowedAt, options } from './options.js'
import { MAX_CARD_BYTES } from './properties.js'
import { propfind } from './propfind.js'
import { proppatch } from './proppatch.js'
import { put } from './put.js'
import { report } from './report.js'
import { contextOf, type DavHandler } from './request.js'
import { DAV_ROOT } from './resources.js'

/** The methods DAV clients read with: a read-only key may use them. */
export const DAV_READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'REPORT'])

const HANDLERS: Readonly<Record<string, DavHandler>> = {
  PROPFIND: propfind,
  PROPPATCH: proppatch,
  REPORT: report,
  GET: get,
  HEAD: get,
  PUT: put,
  DELETE: remove,
  MKCOL: mkcol,
}

/** What discovery sends to /.well-known/carddav, each redirected. */
const WELL_KNOWN_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'REPORT']

/** The largest request body of a DAV request: a card, or a REPORT naming thousands of hrefs. */
const DAV_BODY_LIMIT = 2 * MAX_CARD_BYTES

export interface DavRoutesOptions {
  readonly cards: CardBook
  readonly debug: boolean
}

/**
 * CardDAV (RFC 6352 over RFC 4918), beside the JSON API: discovery at /.well-known/carddav and
 * PROPFIND /, and the tree under /dav/ (resources.ts), one module per method and report. It is
 * registered inside the scope that authenticates and rate-limits the JSON routes, and answers its
 * refusals with DAV error bodies.
 */
export function davRoutes(app: FastifyInstance, { cards, debug }: DavRoutesOptions, done: (error?: Error) => void): void {
  // A body is read as it came; each method decides what it may be (XML, a vCard).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: DAV_BODY_LIMIT }, (_request, body, parsed) => {
    parsed(null, body)
  })
  app.setErrorHandler((error, request, reply) => {
    sendDavError(request, reply, error, { bodyLimit: DAV_BODY_LIMIT, debug })
  })

  const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = pathOf(request.url)
    if (request.method === 'OPTIONS') return options(reply, path)
    const handler = HANDLERS[request.method]
    if (!handler) throw new HttpProblem(Problems.methodNotAllowed, { headers: { allow: allowedAt(path) } })
    return handler(contextOf(request, reply, cards))
  }
  const methods = app.supportedMethods.filter((method) => method !== 'CONNECT')
  app.route({ method: methods, url: '/dav', schema: { hide: true }, bodyLimit: DAV_BODY_LIMIT, handler: dispatch })
  app.route({ method: methods, url: '/dav/*', schema: { hide: true }, bodyLimit: DAV_BODY_LIMIT, handler: dispatch })
  // Clients that are given only the server's name ask `/` itself who the user is.
  app.route({ method: ['PROPFIND'], url: '/', schema: { hide: true }, bodyLimit: DAV_BODY_LIMIT, handler: dispatch })
  // RFC 6764 §5: the well-known URI redirects to where the service is, for what discovery asks.
  app.route({
    method: methods,
    url: '/.well-known/carddav',
    schema: { hide: true },
    handler: async (request, reply) => {
      if (!WELL_KNOWN_METHODS.includes(request.method)) throw new HttpProblem(Problems.methodNotAllowed, { headers: { allow: WELL_KNOWN_METHODS.join(', ') } })
      return reply.code(301).header('location', DAV_ROOT).send()
    },
  })
  done()
}
