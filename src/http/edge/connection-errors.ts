import { maxHeaderSize, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { HttpProblem, problemBody, Problems, type ProblemRequest, type ProblemType } from './problems.js'
import { requestIdFrom } from './request-id.js'
import { API_SECURITY_HEADERS } from './security-headers.js'

/**
 * Requests Node answers itself, below Fastify: bare (a missing Host, an unmet Expect, HTTP it
 * cannot parse, a timeout) or not at all (CONNECT). Here each gets a problem+json answer with an
 * X-Request-ID like every other error, and a connection-level answer waits for the responses to
 * the requests before it on the same connection.
 */

/**
 * Header fields a request may have. Past Node's limit the extra fields are dropped silently, which
 * changes what the request means (a Host or Authorization after them is lost); such a request is
 * refused instead. Node keeps the dropped fields in rawHeaders (it reads them in groups of 32), so
 * a request over a limit that is not a multiple of 32 always shows more fields there than the limit.
 */
export const MAX_HEADER_FIELDS = 1000

/** The parser's errors (and Node's timeout) that are not answered with a plain 400. */
const PARSER_PROBLEMS: Record<string, { problem: ProblemType; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    problem: Problems.headerFieldsTooLarge,
    detail: `The request headers are larger than ${String(maxHeaderSize)} bytes.`,
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    problem: Problems.payloadTooLarge,
    detail: 'The chunk extensions of the request body are larger than the limit.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: { problem: Problems.requestTimeout, detail: Problems.requestTimeout.detail },
}

const CLOSE = { connection: 'close' } as const

/**
 * Options for http.createServer. Node's own Host check answers a bare 400, so it is ours instead.
 * Node looks for connections past the headers and request timeouts only every
 * connectionsCheckingInterval (30 s by default), so a 10 s headers timeout held for up to 40 s; a
 * quarter of the shorter timeout, between 25 ms and 1 s, keeps them within a quarter of their value
 * for the cost of one pass over the open connections per interval.
 */
export function nodeServerOptions(timeouts: { headersTimeoutMs: number; requestTimeoutMs: number }): ServerOptions {
  return { requireHostHeader: false, connectionsCheckingInterval: connectionsCheckingInterval(timeouts) }
}

export function connectionsCheckingInterval({ headersTimeoutMs, requestTimeoutMs }: { headersTimeoutMs: number; requestTimeoutMs: number }): number {
  return Math.min(1000, Math.max(25, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4)))
}

/**
 * How long a connection may stay silent before Node destroys it (Fastify's connectionTimeout).
 * Were it the request timeout itself, a client that stalls mid-body would usually meet this silent
 * close before the check that answers 408; two checking intervals more let the 408 come first.
 */
export function idleConnectionTimeout(timeouts: { headersTimeoutMs: number; requestTimeoutMs: number }): number {
  return timeouts.requestTimeoutMs + 2 * connectionsCheckingInterval(timeouts)
}

/** Requests whose Expect header Node found unmet (anything but 100-continue on HTTP/1.1). */
const unmetExpectations = new WeakSet<IncomingMessage>()

/** Connections that already have their connection-level answer; further parser errors on them change nothing. */
const answered = new WeakSet<Duplex>()

/** Responses that will never be sent because a connection-level answer took their place, with that answer's status. */
const superseded = new WeakMap<ServerResponse, number>()

/** What is followed of each connection: its responses not yet finished, in request order, and the latest one. */
interface ConnectionState {
  readonly unfinished: Set<ServerResponse>
  latest: ServerResponse
}

const connections = new WeakMap<Duplex, ConnectionState>()

export interface ConnectionErrorsOptions {
  /**
   * Called with a response whose connection closed before it was complete: a client that left
   * mid-answer, or a connection-level answer (`answeredWith` its status, already logged) that took
   * its place.
   */
  readonly onAbandoned?: (response: ServerResponse, answeredWith: number | undefined) => void
}

/**
 * Hands every request that Node would answer bare to the app, which refuses it in its own format
 * (see protocolProblem), and answers CONNECT, which Node would drop without a word.
 */
export function addConnectionErrors(app: FastifyInstance, { onAbandoned }: ConnectionErrorsOptions = {}): void {
  const server = app.server
  server.maxHeadersCount = MAX_HEADER_FIELDS
  // One listener for every response of this server (its `this` is the response), rather than a
  // closure for each.
  function closed(this: ServerResponse): void {
    connections.get(this.req.socket)?.unfinished.delete(this)
    if (!this.writableFinished) onAbandoned?.(this, superseded.get(this))
  }
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    let state = connections.get(request.socket)
    if (!state) {
      state = { unfinished: new Set(), latest: response }
      connections.set(request.socket, state)
    }
    state.unfinished.add(response)
    state.latest = response
    response.on('close', closed)
  })
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    unmetExpectations.add(request)
    server.emit('request', request, response)
  })
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    answerConnect(request, socket, app.log)
  })
}

/**
 * Why a request that Node parsed must be refused before routing, if it must: more header fields
 * than the limit, an HTTP/1.1 request without Host (RFC 9112 section 3.2), or an expectation this
 * server does not meet (RFC 9110 section 10.1.1).
 */
export function protocolProblem(request: IncomingMessage): HttpProblem | undefined {
  if (request.rawHeaders.length / 2 > MAX_HEADER_FIELDS) {
    return new HttpProblem(Problems.headerFieldsTooLarge, {
      detail: `The request has more than ${String(MAX_HEADER_FIELDS)} header fields.`,
      headers: CLOSE,
    })
  }
  if (request.httpVersionMajor === 1 && request.httpVersionMinor === 1 && request.headers.host === undefined) {
    return new HttpProblem(Problems.malformedRequest, { detail: 'An HTTP/1.1 request must have a Host header.', headers: CLOSE })
  }
  if (unmetExpectations.has(request)) return new HttpProblem(Problems.expectationFailed)
  return undefined
}

/**
 * Whether the connection must close after this request's response. Node 20 serves a request that
 * asks to upgrade (Upgrade with Connection: upgrade) like any other when no one listens for
 * upgrades, but its parser stops at the end of that request: what follows in the same packet is
 * lost, and malformed bytes after it are never reported, so the client would wait on a silent
 * connection until the keep-alive timeout. Answering what follows would mean feeding those bytes
 * to a parser of our own; closing right after the response (with Connection: close) tells the
 * client promptly that nothing else it sent on this connection was read. Any Upgrade header
 * counts: a sender of Upgrade must also send Connection: upgrade (RFC 9110 section 7.8), and
 * copying the parser's rules to tell the cases apart would gain nothing.
 */
export function closesConnection(request: IncomingMessage): boolean {
  return request.headers.upgrade !== undefined
}

interface ParserError extends NodeJS.ErrnoException {
  rawPacket?: unknown
  bytesParsed?: unknown
}

/**
 * Answers what Node could not parse as HTTP, or what timed out, once the responses to the requests
 * before it on this connection have been sent (answering at once would put this answer ahead of
 * theirs), and closes the connection.
 */
export function answerClientError(error: ParserError, socket: Duplex, log: FastifyBaseLogger): void {
  if (error.code === 'ECONNRESET' || !socket.writable || answered.has(socket)) return
  answered.add(socket)
  const { problem, detail } = PARSER_PROBLEMS[error.code ?? ''] ?? { problem: Problems.malformedRequest, detail: Problems.malformedRequest.detail }
  // Bytes that break a body belong to the request whose head came before them.
  const latest = connections.get(socket)?.latest
  const arriving = latest && !latest.req.complete ? latest : undefined
  if (arriving?.headersSent) {
    // A route may answer before it reads the body (GET ignores one). That request has its answer; a
    // second one would read as the answer to a next request, so the connection just closes after it.
    afterResponsesInFlight(socket, () => socket.end())
    log.warn({ method: arriving.req.method, uri: arriving.req.url, reason: error.code }, 'connection closed: the body of an answered request could not be read')
    return
  }
  if (arriving) superseded.set(arriving, problem.status)
  const head = arriving ? headOf(arriving.req) : Buffer.isBuffer(error.rawPacket) ? readRequestHead(error.rawPacket, Number(error.bytesParsed)) : UNREAD
  afterResponsesInFlight(socket, () => {
    sendRaw(socket, problem, detail, { method: head.method, target: head.target, requestId: requestIdFrom(head.requestIdHeader) }, log, error.code)
  })
}

/**
 * CONNECT asks for a tunnel, which only a proxy gives. 501 rather than 405: RFC 9110 section 9.1
 * asks for 501 for a method the server does not implement, and 405 would have to list in Allow the
 * methods of the target resource, while a CONNECT target (host:port) names no resource of this API.
 */
function answerConnect(request: IncomingMessage, socket: Duplex, log: FastifyBaseLogger): void {
  // Node hands the socket over without its own error and timeout handling.
  socket.on('error', () => undefined)
  socket.once('timeout', () => socket.destroy())
  const { method, target, requestIdHeader } = headOf(request)
  afterResponsesInFlight(socket, () => {
    sendRaw(socket, Problems.methodNotImplemented, Problems.methodNotImplemented.detail, { method, target, requestId: requestIdFrom(requestIdHeader) }, log, 'CONNECT')
  })
}

/**
 * Runs `then` once every response this connection owes for a completely received request has
 * been sent. A request still arriving when the error came is the one the error is about: its
 * response will never come, unless it has begun, in which case it is waited for too.
 */
function afterResponsesInFlight(socket: Duplex, then: () => void): void {
  const owed = [...(connections.get(socket)?.unfinished ?? [])].filter((response) => response.req.complete || response.headersSent)
  let left = owed.length
  if (left === 0) {
    then()
    return
  }
  for (const response of owed) {
    response.once('close', () => {
      left -= 1
      if (left === 0) then()
    })
  }
}

/** The security headers every answer carries, as lines of a raw response head. */
const SECURITY_HEADER_LINES = Object.entries(API_SECURITY_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('')

/**
 * Writes a problem answer straight to the socket and closes it, with the headers every answer
 * carries. An answer to HEAD has no body (RFC 9110 section 9.3.2); its Content-Length is that of
 * the answer the same request would get with GET (section 8.6), as Fastify's answers to HEAD have.
 */
function sendRaw(socket: Duplex, problem: ProblemType, detail: string, request: ProblemRequest, log: FastifyBaseLogger, reason: string | undefined): void {
  if (!socket.writable) return
  const head = request.method === 'HEAD'
  const body = JSON.stringify(problemBody(problem, detail, request))
  socket.end(
    `HTTP/1.1 ${String(problem.status)} ${problem.title}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n` +
      'Connection: close\r\n' +
      SECURITY_HEADER_LINES +
      'Content-Type: application/problem+json; charset=utf-8\r\n' +
      `Content-Length: ${String(Buffer.byteLength(body))}\r\n` +
      `X-Request-ID: ${request.requestId}\r\n` +
      'Vary: Accept-Encoding\r\n' +
      `\r\n${head ? '' : body}`,
  )
  log.warn(
    { req_id: request.requestId, method: request.method, uri: request.target, status: problem.status, reason },
    'request rejected at the connection level',
  )
}

/** What could be read of a request's head: null (or undefined for the header) for what could not. */
export interface RequestHead {
  method: string | null
  target: string | null
  requestIdHeader: string | string[] | undefined
}

const UNREAD: RequestHead = { method: null, target: null, requestIdHeader: undefined }

/** The head of a request Node parsed; a server's requests always have a method and a URL. */
function headOf(request: IncomingMessage): RequestHead {
  return { method: String(request.method), target: String(request.url), requestIdHeader: request.headers['x-request-id'] }
}

/** A request line as RFC 9112 section 3 has it: method (a token), target, version. */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) (.*) HTTP\/\d\.\d$/
/** A request target worth repeating: visible ASCII only. */
const TARGET = /^[\x21-\x7e]{1,8192}$/
const REQUEST_ID_FIELD = /^x-request-id:[ \t]*(.*?)[ \t]*$/im

/**
 * Reads the method, target and X-Request-ID of a request whose head failed to parse, from the
 * packet Node was parsing and the offset where it failed. That request starts after the last end
 * of a header section before that offset, or at the start of the packet. When the packet began in
 * the middle of a request (headers that came in several packets), no request line is found there
 * and nothing is claimed.
 */
export function readRequestHead(packet: Buffer, failedAt: number): RequestHead {
  if (!Number.isInteger(failedAt)) return UNREAD
  const text = packet.toString('latin1')
  const headEnd = failedAt >= 4 ? text.lastIndexOf('\r\n\r\n', failedAt - 4) : -1
  const message = text.slice(headEnd === -1 ? 0 : headEnd + 4)
  const lines = message.split(/\r?\n/)
  const blank = lines.indexOf('')
  // split always gives at least one line.
  const line = REQUEST_LINE.exec(String(lines[0]))
  if (!line) return UNREAD
  const [, method = null, target = ''] = line
  const field = REQUEST_ID_FIELD.exec(lines.slice(1, blank === -1 ? undefined : blank).join('\n'))
  return { method, target: TARGET.test(target) ? target : null, requestIdHeader: field?.[1] }
}
