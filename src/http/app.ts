import { METHODS, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import compress from '@fastify/compress'
import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import type { Authenticator } from '../auth/authenticator.js'
import { PLAIN_TEXT } from '../domain/address-entry.js'
import type { Config } from '../config/settings.js'
import type { AddressBook } from '../service/address-book-service.js'
import type { CardBook } from '../service/card-book-service.js'
import type { DeviceKeys } from '../service/device-keys.js'
import type { HistoryBook } from '../service/history-service.js'
import type { LabelBook } from '../service/label-service.js'
import { keyRoutes } from './json/keys.js'
import { historyRoutes } from './json/history.js'
import { labelRoutes } from './json/labels.js'
import { DAV_READ_METHODS, davRoutes } from './dav/routes.js'
import { addAuthentication, authenticationGuard } from './edge/authentication.js'
import { addBodyParsers, bodyLimitOf, type BodyLimits } from './json/body-parsers.js'
import { addWebApp } from './site/web-app.js'
import {
  addConnectionErrors,
  answerClientError,
  closesConnection,
  idleConnectionTimeout,
  nodeServerOptions,
  protocolProblem,
} from './edge/connection-errors.js'
import { addEntityTags } from './edge/etag.js'
import { addHealthRoutes, PROBE_PATHS } from './site/health.js'
import { addMetricsRoute, RequestMetrics } from './edge/metrics.js'
import { addApiDocsRoutes, addOpenApi } from './json/openapi.js'
import { addressRoutes } from './json/addresses.js'
import { photoRoutes } from './json/photos.js'
import { HttpProblem, pathOf, problemBody, Problems, resolveProblem, traceOf } from './edge/problems.js'
import { addRateLimit, RATE_LIMIT_GUARD } from './edge/rate-limit.js'
import { NO_GUARD, type Guard } from './edge/responses.js'
import { requestIdFrom } from './edge/request-id.js'
import { API_SECURITY_HEADERS } from './edge/security-headers.js'
import { lazySerializers, validatorCompiler } from './edge/validation.js'

export { requestIdFrom }

/** The smallest response body that is compressed, in bytes. */
export const COMPRESSION_THRESHOLD = 1024

/** What the HTTP layer needs to know of the configuration. */
export type AppConfig = Pick<Config, 'debug' | 'server' | 'rateLimit' | 'cors' | 'docs' | 'import' | 'ui'>

/** What the HTTP layer serves and asks: the address book, and who is calling. */
export interface AppServices {
  readonly addressBook: AddressBook
  /** The caller's own API keys, for devices; none (authentication off) serves no /keys routes. */
  readonly deviceKeys?: DeviceKeys | undefined
  /** The address book as cards, for CardDAV; none serves no DAV routes. */
  readonly cardBook?: CardBook | undefined
  /** The book's labels as things of their own; none serves no /labels routes. */
  readonly labels?: LabelBook | undefined
  /** Entries' history, the trash, and restores; none serves none of their routes. */
  readonly history?: HistoryBook | undefined
  /** Decides who calls; none means authentication is off (every request acts for the default owner). */
  readonly authenticator?: Authenticator | undefined
}

export interface AppOptions {
  /** The pino logger to log through; none (silent) by default. */
  logger?: FastifyBaseLogger
  /** Where to record request metrics; none by default. */
  metrics?: Registry
  /** Also serve the metrics at GET /metrics on this app. */
  serveMetrics?: boolean
  /** The service's version, for the OpenAPI document. */
  version?: string
  /** Where the built web app is (dist/app by default). */
  webAppRoot?: string
  /** Serve HTTPS with this certificate chain and key (PEM), rather than HTTP. */
  tls?: { readonly cert: Buffer; readonly key: Buffer }
}

export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

declare module 'fastify' {
  interface FastifyRequest {
    /** The error this request failed with, kept for the request's log line. */
    failure: unknown
    /** Whether the request's end is recorded (its log line written, its metrics counted). */
    recorded: boolean
  }
  interface FastifyInstance {
    /** Turns readiness to 503 ahead of closing, so load balancers stop sending traffic. */
    beginShutdown(): void
  }
}

/**
 * Builds the address book's HTTP application around a service: routes with schemas, one error
 * handler, one not-found handler, hooks. It does not listen; the caller owns the server's life.
 */
export function buildApp(config: AppConfig, { addressBook, cardBook, labels, history, deviceKeys, authenticator }: AppServices, options: AppOptions = {}): App {
  const { bodyLimit } = config.server
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    genReqId: (request) => requestIdFrom(request.headers['x-request-id']),
    bodyLimit,
    requestTimeout: config.server.requestTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    connectionTimeout: idleConnectionTimeout(config.server),
    return503OnClosing: false,
    trustProxy: config.server.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 100 },
    // The serializer asks Ajv which branch of a union a value takes; it must know our formats
    // (the value was validated on the way in, so any string of them will do here).
    serializerOpts: { ajv: { formats: { [PLAIN_TEXT]: true, uri: true } } },
    // TypeBox checks what is checked (Fastify's Ajv compiler never loads), and each response
    // serializer is compiled when first used.
    schemaController: { compilersFactory: { buildValidator: () => validatorCompiler as never, buildSerializer: lazySerializers } },
    frameworkErrors: (error, request, reply) => {
      // A bad URL or an over-long id is answered before any onRequest hook runs.
      identify(request, reply)
      sendProblem(request, reply, error, config)
    },
    clientErrorHandler: (error, socket) => {
      answerClientError(error, socket, app.log)
    },
    http: nodeServerOptions(config.server),
    // Fastify serves HTTPS when given these, with the same server options; the types of its
    // HTTPS overload are those of another server class, which App does not need to know.
    ...((options.tls ? { https: { ...nodeServerOptions(config.server), ...options.tls } } : {}) as Record<string, never>),
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.server.headersTimeout = config.server.headersTimeoutMs
  const metrics = options.metrics ? new RequestMetrics(options.metrics) : undefined
  /**
   * Writes the request's log line and counts it, once: when its response has gone ('sent'), when
   * the connection closed before it could ('aborted': a client that leaves mid-export, which
   * Fastify's onResponse never hears of), or when a connection-level answer took its place (its
   * status: that answer logged itself, so the request is only counted).
   */
  const recordEnd = (request: FastifyRequest, reply: FastifyReply, end: 'sent' | 'aborted' | number) => {
    if (request.recorded) return
    request.recorded = true
    const aborted = end === 'aborted'
    const status = typeof end === 'number' ? end : aborted && !reply.raw.headersSent ? CLIENT_CLOSED_REQUEST : reply.statusCode
    const elapsedMs = reply.elapsedTime
    metrics?.finished(request, status, elapsedMs, aborted)
    if (typeof end !== 'number') logRequest(request, status, elapsedMs, aborted)
  }
  addConnectionErrors(app, {
    onAbandoned: (response, answeredWith) => {
      const reply = replyOf(response)
      if (reply) recordEnd(reply.request, reply, answeredWith ?? 'aborted')
    },
  })
  // Every method Node can parse is routed, so that a known path answers 405 rather than 404, and
  // its body is read: DAV's PROPFIND, REPORT, PROPPATCH and MKCOL carry XML.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true })
  }

  app.decorateRequest('failure', undefined)
  app.decorateRequest('recorded', false)
  app.decorateRequest('inFlight', false)
  app.decorateRequest('authFailure', null)
  // One hook of each kind for what every request needs, rather than one per concern: each hook
  // Fastify runs costs a request about as much as the work inside these.
  app.addHook('onRequest', (request, reply, done) => {
    identify(request, reply)
    metrics?.started(request)
    ;(reply.raw as ResponseOfReply)[REPLY] = reply
    done(protocolProblem(request.raw))
  })
  // Once shutdown starts, readiness answers 503 and responses close their connection, so that
  // closing need not wait for idle keep-alive sockets to time out.
  let draining = false
  app.decorate('beginShutdown', () => {
    draining = true
  })
  app.addHook('preClose', (done) => {
    draining = true
    done()
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    if (draining || closesConnection(request.raw)) reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onResponse', (request, reply, done) => {
    recordEnd(request, reply, 'sent')
    done()
  })

  addOpenApi(app, { version: options.version ?? '0.0.0', authenticator })
  addBodyParsers(app, bodyLimits(config))
  addEntityTags(app)
  // Bodies under 1 KiB (an entry, a problem) gain too little from compression to pay for it.
  void app.register(compress, { threshold: COMPRESSION_THRESHOLD, encodings: ['br', 'gzip', 'deflate'], requestEncodings: ['gzip', 'deflate'] })
  if (config.cors.origins.length > 0) void app.register(cors, corsOptions(config.cors.origins))
  const limitRate = config.rateLimit.enabled ?? authenticator !== undefined
  const logger = options.logger ?? app.log
  const guard: Guard = { ...NO_GUARD, ...(authenticator ? authenticationGuard(authenticator) : {}), ...(limitRate ? RATE_LIMIT_GUARD : {}) }
  // The protocols live in a scope of their own, each in its own below it: authentication and the
  // rate limit guard both (one budget per client), not the probes.
  void app.register(async (scope) => {
    addAuthentication(scope, { authenticator, metrics: options.metrics, readMethods: DAV_READ_METHODS })
    if (limitRate) await addRateLimit(scope, { settings: config.rateLimit, logger, metrics: options.metrics })
    await scope.register(addressRoutes, { service: addressBook, guard })
    await scope.register(photoRoutes, { service: addressBook, guard })
    if (labels) await scope.register(labelRoutes, { labels, guard })
    if (history) await scope.register(historyRoutes, { history, guard })
    if (deviceKeys && authenticator) await scope.register(keyRoutes, { keys: deviceKeys, guard })
    if (cardBook) await scope.register(davRoutes, { cards: cardBook, debug: config.debug })
  })
  // Registered as plugins, so that they load after the OpenAPI collector and appear in its document.
  void app.register(async (scope) => {
    addHealthRoutes(scope, addressBook, () => draining)
    if (options.metrics && options.serveMetrics) addMetricsRoute(scope, options.metrics)
    await addApiDocsRoutes(scope, { ui: config.docs.enabled })
    if (config.ui.enabled) await addWebApp(scope, options.webAppRoot === undefined ? {} : { root: options.webAppRoot })
  })

  app.setNotFoundHandler(() => {
    throw new HttpProblem(Problems.unknownEndpoint)
  })
  app.setErrorHandler((error: FastifyError, request, reply) => {
    sendProblem(request, reply, error, config)
  })
  return app
}

/** Headers a browser client needs to read from responses. */
const EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'Link',
  'X-Request-ID',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'WWW-Authenticate',
  'X-Total-Count',
]

/**
 * CORS for the listed origins (`*` for any). A request without an Origin header is not a CORS
 * request and is left alone, so that OPTIONS still answers with Allow.
 */
function corsOptions(origins: readonly string[]) {
  const any = origins.includes('*')
  const allowed = new Set(origins)
  return {
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean | string) => void) => {
      if (origin === undefined || !(any || allowed.has(origin))) callback(null, false)
      else callback(null, any ? '*' : true)
    },
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    exposedHeaders: EXPOSED_HEADERS,
    strictPreflight: false,
    maxAge: 600,
  }
}

/**
 * Headers every response carries, even those refused before routing: the security headers, its
 * request id, and Vary, so that caches never mix compressed and plain representations.
 */
function identify(request: FastifyRequest, reply: FastifyReply): void {
  reply.headers(API_SECURITY_HEADERS).header('x-request-id', request.id).header('vary', 'accept-encoding')
}

function bodyLimits(config: AppConfig): BodyLimits {
  return { limit: config.server.bodyLimit, importLimit: config.import.bodyLimit }
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown, config: AppConfig): void {
  request.failure = error
  const { problem, detail, errors, headers } = resolveProblem(error, bodyLimitOf(request, bodyLimits(config)))
  // Node sends no body in answer to HEAD, but the Content-Length of this one, built as for GET.
  const body = problemBody(problem, detail, { method: request.method, target: request.url, requestId: request.id })
  if (errors) body.errors = [...errors]
  if (config.debug) body.trace = traceOf(error)
  reply.raw.statusMessage = problem.title
  reply.code(problem.status).header('x-request-id', request.id)
  for (const [name, value] of Object.entries(headers ?? {})) reply.header(name, value)
  void reply.type('application/problem+json; charset=utf-8').send(body)
}

/**
 * The status an aborted request is logged and counted with when nothing of its response was sent:
 * nginx's "client closed request", which no response carries.
 */
export const CLIENT_CLOSED_REQUEST = 499

const REPLY = Symbol('addrservice.reply')
/** A response that knows its Fastify reply, so that one the connection abandoned can still be recorded. */
interface ResponseOfReply extends ServerResponse {
  [REPLY]?: FastifyReply
}

function replyOf(response: ServerResponse): FastifyReply | undefined {
  return (response as ResponseOfReply)[REPLY]
}

type RequestLogLevel = 'debug' | 'info' | 'warn' | 'error'
/** pino's levels by value; a logger at another level (silent, or none at all) logs none of these. */
const LEVEL_VALUES: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

function logsAt(log: FastifyBaseLogger, level: RequestLogLevel): boolean {
  const current = LEVEL_VALUES[log.level]
  return current !== undefined && current <= (LEVEL_VALUES[level] ?? 0)
}
const MESSAGES: Readonly<Record<RequestLogLevel, string>> = {
  debug: 'probe answered',
  info: 'request completed',
  warn: 'request rejected',
  error: 'request failed',
}

/**
 * One canonical line per request: info below 400, warn for 4xx, error (with the error) for 5xx,
 * debug for probes. It names the owner the request acted for and, when authentication refused it,
 * why (never the credential itself); `aborted: true` when the connection closed before the
 * response was complete. Nothing is built for a line below the logger's level.
 */
function logRequest(request: FastifyRequest, status: number, elapsedMs: number, aborted: boolean): void {
  const log = request.log
  const byStatus: RequestLogLevel = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'
  // A probe's line is at debug, below every other: when this level is off, so is debug.
  if (!logsAt(log, byStatus)) return
  const uri = pathOf(request.url)
  const level = PROBE_PATHS.has(uri) ? 'debug' : byStatus
  if (level === 'debug' && !logsAt(log, 'debug')) return
  const line: Record<string, unknown> = { method: request.method, uri, ip: request.ip, status, time_ms: Math.round(elapsedMs * 1000) / 1000 }
  if (request.principal) line.owner = request.principal.owner
  if (request.authFailure) line.auth_failure = request.authFailure.reason
  if (aborted) line.aborted = true
  if (level === 'error') line.err = request.failure
  log[level](line, aborted ? 'request aborted' : MESSAGES[level])
}
