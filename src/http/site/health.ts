import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import type { AddressBook } from '../../service/address-book-service.js'
import { HttpProblem, Problems, RETRY_AFTER_SECONDS } from '../edge/problems.js'
import { Headers, jsonResponse, problemResponses } from '../edge/responses.js'

/**
 * A readiness check that takes longer than this answers 503: probes have short timeouts of their
 * own (Kubernetes: 1 s), and a hanging database must read as "not ready", not as no answer.
 */
export const READINESS_TIMEOUT_MS = 900

/** Paths probed by load balancers and orchestrators; their requests are logged at debug only. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/livez', '/readyz'])

/**
 * GET /livez: the process is up and serving HTTP; it checks nothing else, so a database outage
 * never gets a healthy process restarted. GET /readyz: the address book can serve (its store is
 * reachable and migrated) and the process is not shutting down; 503 otherwise, so that a load
 * balancer sends traffic elsewhere.
 */
export function addHealthRoutes(app: FastifyInstance, addressBook: AddressBook, isShuttingDown: () => boolean): void {
  const livez = {
    operationId: 'livez',
    summary: 'Whether the process serves HTTP',
    tags: ['health'],
    response: { 200: jsonResponse('The process is up', Type.Object({ status: Type.Literal('ok') }), { ETag: Headers.bodyEtag }) },
  }
  app.get('/livez', { schema: livez }, () => Promise.resolve({ status: 'ok' }))

  const readyz = {
    operationId: 'readyz',
    summary: 'Whether the address book can serve',
    tags: ['health'],
    response: {
      200: jsonResponse('The store is reachable and migrated', Type.Object({ status: Type.Literal('ready') }), { ETag: Headers.bodyEtag }),
      ...problemResponses({ 500: [Problems.internalError], 503: [Problems.notReady] }),
    },
  }
  app.get('/readyz', { schema: readyz }, async () => {
    if (isShuttingDown()) {
      throw new HttpProblem(Problems.notReady, {
        detail: 'The service is shutting down.',
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      })
    }
    const timeout = new AbortController()
    try {
      await Promise.race([
        addressBook.ready(),
        delay(READINESS_TIMEOUT_MS, undefined, { signal: timeout.signal }).then(() => {
          throw new Error('readiness check timed out')
        }),
      ])
    } catch {
      throw new HttpProblem(Problems.notReady, {
        detail: 'The address book store is not reachable or not migrated yet.',
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      })
    } finally {
      timeout.abort()
    }
    return { status: 'ready' }
  })
}
