import Fastify, { type FastifyInstance } from 'fastify'
import { Headers } from './responses.js'
import { AggregatorRegistry, Gauge, Histogram, type Registry } from 'prom-client'

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
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const inFlight = new Gauge({ name: 'http_requests_in_flight', help: 'Requests being handled', registers: [registry] })

  app.decorateRequest('inFlight', false)
  app.addHook('onRequest', (request, _reply, done) => {
    request.inFlight = true
    inFlight.inc()
    done()
  })
  const settle = (request: { inFlight: boolean }) => {
    if (!request.inFlight) return
    request.inFlight = false
    inFlight.dec()
  }
  app.addHook('onRequestAbort', (request, done) => {
    settle(request)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    settle(request)
    const route = request.routeOptions.url ?? 'unmatched'
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
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
