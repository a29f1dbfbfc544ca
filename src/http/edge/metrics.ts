import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client'
import { SeriesHistogram } from '../../metric-series.js'
import { Headers } from './responses.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Whether this request is counted in the in-flight gauge (and must be uncounted once). */
    inFlight: boolean
  }
}

/**
 * Records every request in a registry: a duration histogram by method, route template and
 * status, a gauge of requests in flight, and a counter of the requests their client left before
 * the response was complete. Route templates, not paths, keep labels bounded. The app's own hooks
 * call it (one hook of each kind for everything a request needs), and it keeps the cost of a
 * request to a lookup of its series and a few additions: the gauge is read when scraped.
 */
export class RequestMetrics {
  readonly #duration: SeriesHistogram<'method' | 'route' | 'status_code'>
  readonly #aborted: Counter<'method' | 'route' | 'status_code'>
  #inFlight = 0

  constructor(registry: Registry) {
    this.#duration = new SeriesHistogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
    this.#aborted = new Counter({
      name: 'http_requests_aborted_total',
      help: 'Requests whose client closed the connection before the response was complete (also counted in the duration histogram, by the status sent)',
      labelNames: ['method', 'route', 'status_code'],
      registers: [registry],
    })
    // Read when scraped (prom-client calls collect with the gauge as this), not set per request.
    const inFlight = () => this.#inFlight
    new Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests being handled',
      registers: [registry],
      collect() {
        this.set(inFlight())
      },
    })
  }

  /** A request has arrived (its onRequest hook). */
  started(request: FastifyRequest): void {
    request.inFlight = true
    this.#inFlight++
  }

  /** A request is over: answered, or left by its client (then `aborted`); the caller makes sure this happens once a request. */
  finished(request: FastifyRequest, status: number, elapsedMs: number, aborted = false): void {
    if (request.inFlight) {
      request.inFlight = false
      this.#inFlight--
    }
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(status) }
    this.#duration.series(labels).observe(elapsedMs / 1000)
    if (aborted) this.#aborted.inc(labels)
  }
}

/** Where the metrics text comes from: a registry, or the cluster-wide sum of the workers' ones. */
export interface MetricsSource {
  readonly contentType: string
  metrics(): Promise<string>
}

/** Serves the metrics in the Prometheus text format at GET /metrics. */
export function addMetricsRoute(app: FastifyInstance, source: MetricsSource): void {
  const schema = {
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    tags: ['health'],
    response: { 200: { description: 'The Prometheus text format', headers: { ETag: Headers.bodyEtag }, content: { 'text/plain': { schema: { type: 'string' } } } } },
  }
  app.get('/metrics', { schema }, async (_request, reply) => {
    const text = await source.metrics()
    return reply.type(source.contentType).send(text)
  })
}

/** A server of its own for /metrics, when metrics are kept off the API's port. */
export function buildMetricsApp(source: MetricsSource): FastifyInstance {
  const app = Fastify({ logger: false })
  addMetricsRoute(app, source)
  return app
}

/** The metrics of every worker of this cluster, summed; served by the primary process. */
export function clusterMetricsSource(): MetricsSource {
  const aggregator = new AggregatorRegistry()
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() }
}
