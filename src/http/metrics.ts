import Fastify, { type FastifyInstance } from 'fastify'
import { AggregatorRegistry, Gauge, type Registry } from 'prom-client'
import { SeriesHistogram, type HistogramSeries } from '../metric-series.js'
import { Headers } from './responses.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Whether this request is counted in the in-flight gauge (and must be uncounted once). */
    inFlight: boolean
  }
}

/**
 * Records every request in `registry`: a duration histogram by method, route template and
 * status, and a gauge of requests in flight. Route templates, not paths, keep labels bounded.
 */
export function addHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const duration = new SeriesHistogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  /** The series by method, route and status: the histogram's lookup, without building its labels. */
  const series = new Map<string, HistogramSeries>()
  // Read when scraped (prom-client calls collect with the gauge as this), not set per request.
  let inFlight = 0
  new Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests being handled',
    registers: [registry],
    collect() {
      this.set(inFlight)
    },
  })

  app.decorateRequest('inFlight', false)
  app.addHook('onRequest', (request, _reply, done) => {
    request.inFlight = true
    inFlight++
    done()
  })
  const settle = (request: { inFlight: boolean }) => {
    if (!request.inFlight) return
    request.inFlight = false
    inFlight--
  }
  app.addHook('onRequestAbort', (request, done) => {
    settle(request)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    settle(request)
    const route = request.routeOptions.url ?? 'unmatched'
    const status = String(reply.statusCode)
    const key = `${request.method} ${status} ${route}`
    let found = series.get(key)
    if (!found) {
      found = duration.series({ method: request.method, route, status_code: status })
      series.set(key, found)
    }
    found.observe(reply.elapsedTime / 1000)
    done()
  })
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
