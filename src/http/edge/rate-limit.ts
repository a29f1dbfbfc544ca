import { once } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import rateLimit from '@fastify/rate-limit'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { Counter, type Registry } from 'prom-client'
import type { Config } from '../../config/settings.js'
import { HttpProblem, Problems } from './problems.js'
import { Headers, problemResponses, type Guard } from './responses.js'

export interface RateLimitOptions {
  readonly settings: Config['rateLimit']
  readonly logger: FastifyBaseLogger
  readonly metrics?: Registry | undefined
}

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': Headers.rateLimitLimit,
  'RateLimit-Remaining': Headers.rateLimitRemaining,
  'RateLimit-Reset': Headers.rateLimitReset,
}

/** What the rate limit adds to the description of each route it guards: 429, and its headers on every response. */
export const RATE_LIMIT_GUARD: Pick<Guard, 'rateLimit' | 'rateLimitHeaders'> = {
  rateLimit: problemResponses({ 429: [Problems.tooManyRequests] }),
  rateLimitHeaders: RATE_LIMIT_HEADERS,
}

/** How long starting waits for Redis before it serves without it. */
const REDIS_START_WAIT_MS = 1000

/** A Redis that is down is reported this often at most, however many requests pass meanwhile. */
const WARNING_INTERVAL_MS = 30_000

/**
 * Limits each owner (or, before authentication succeeds, each client address, so that guessing
 * keys is slow) to `max` requests per window, with @fastify/rate-limit: in this process, or in
 * Redis so that every instance shares the counters. A Redis that cannot be reached lets requests
 * through with a warning in the log; it never fails them. Register it in the scope after the
 * authentication hooks: it runs after they have resolved the principal.
 */
export async function addRateLimit(app: FastifyInstance, { settings, logger, metrics }: RateLimitOptions): Promise<void> {
  const limited = metrics
    ? new Counter({ name: 'addrservice_rate_limited_total', help: 'Requests refused by the rate limit', registers: [metrics] })
    : undefined
  const redis = settings.redis === null ? undefined : await connectRedis(settings.redis, logger)
  if (redis) {
    // Starting waits a moment for the connection, so that the first requests are counted too;
    // a Redis that does not answer by then does not hold the start up.
    app.addHook('onReady', async () => {
      if (redis.status === 'ready') return
      const waited = new AbortController()
      await Promise.race([once(redis, 'ready', { signal: waited.signal }), delay(REDIS_START_WAIT_MS, undefined, { signal: waited.signal })]).catch(() => undefined)
      waited.abort()
    })
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => {
        redis.disconnect()
      })
    })
  }
  await app.register(rateLimit, {
    global: true,
    max: settings.max,
    timeWindow: settings.windowMs,
    hook: 'onRequest',
    enableDraftSpec: true,
    skipOnError: true,
    ...(redis ? { redis, nameSpace: settings.redisPrefix } : {}),
    // Only an authenticated owner has a budget of its own; everyone else counts by address.
    keyGenerator: (request) => {
      const principal = request.principal
      return principal && principal.method !== 'none' ? `owner:${principal.owner}` : `ip:${request.ip}`
    },
    onExceeded: () => {
      limited?.inc()
    },
    errorResponseBuilder: (_request, context) =>
      new HttpProblem(Problems.tooManyRequests, {
        detail: `More than ${String(context.max)} requests in ${String(settings.windowMs / 1000)} s; retry in ${context.after}.`,
      }),
  })
}

/**
 * A Redis connection that fails fast: no queue of commands while it is down (they fail at once
 * and the request passes), a short timeout for each command, and reconnection in the background.
 */
async function connectRedis(url: string, logger: FastifyBaseLogger): Promise<Redis> {
  // ioredis is loaded only when counters are shared, to keep start-up short.
  const { Redis } = await import('ioredis')
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 500,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  })
  let lastWarning = 0
  redis.on('error', (error: Error) => {
    const now = Date.now()
    if (now - lastWarning < WARNING_INTERVAL_MS) return
    lastWarning = now
    logger.warn({ err: error }, 'the rate limit cannot reach Redis; requests pass unlimited until it is back')
  })
  return redis
}
