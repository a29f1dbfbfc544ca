import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator } from '../../src/auth/authenticator.js'
import type { App } from '../../src/http/app.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { DEFAULT_CONFIG } from '../../src/config/load.js'
import { buildTestApp, type TestAppOptions } from '../helpers/app.js'
import { capturingLogger } from '../helpers/logger.js'
import { REDIS_SKIP, REDIS_URL } from '../helpers/redis.js'

type RateLimitSettings = Partial<(typeof DEFAULT_CONFIG)['rateLimit']>

/** An app in api-key mode over a memory store, with alice's and bob's keys. */
async function anAuthenticatedApp(t: TestContext, rateLimit: RateLimitSettings = {}, options: TestAppOptions = {}) {
  const store = new MemoryStore()
  const keys = new ApiKeys(store)
  const alice = (await keys.create('alice', 'write', null)).key
  const bob = (await keys.create('bob', 'write', null)).key
  const app = buildTestApp(t, {
    store,
    authenticator: apiKeyAuthenticator(keys),
    config: { rateLimit: { ...DEFAULT_CONFIG.rateLimit, ...rateLimit } },
    ...options,
  })
  return { app, store, keys, alice, bob }
}

const list = (app: App, key?: string, ip = '127.0.0.1') =>
  app.inject({ method: 'GET', url: '/addresses', remoteAddress: ip, headers: key === undefined ? {} : { authorization: `Bearer ${key}` } })

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((candidate) => candidate.name === name)
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, unknown> }[]
  const value = values.find((candidate) => Object.entries(labels).every(([key, expected]) => candidate.labels[key] === expected))
  return value?.value ?? 0
}

describe('rate limiting', () => {
  test('when an owner makes more requests than the limit, then 429 problem with Retry-After and RateLimit headers, and nothing more gets through', async (t) => {
    const registry = new Registry()
    const { app, alice } = await anAuthenticatedApp(t, { max: 3 }, { metrics: registry })

    const statuses = []
    for (let count = 0; count < 3; count++) statuses.push((await list(app, alice)).statusCode)
    const limited = await list(app, alice)

    assert.deepEqual(statuses, [200, 200, 200])
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.statusMessage, 'Too Many Requests')
    const problem = limited.json<ProblemBody>()
    assert.equal(problem.type, 'urn:addrservice:problem:too-many-requests')
    assert.match(String(limited.headers['content-type']), /^application\/problem\+json/)
    assert.equal(limited.headers['ratelimit-limit'], '3')
    assert.equal(limited.headers['ratelimit-remaining'], '0')
    assert.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60)
    assert.ok(Number(limited.headers['ratelimit-reset']) > 0)
    assert.equal(await metricValue(registry, 'addrservice_rate_limited_total'), 1)
  })

  test('when a request passes, then it carries the RateLimit headers counting down', async (t) => {
    const { app, alice } = await anAuthenticatedApp(t, { max: 5 })

    const first = await list(app, alice)
    const second = await list(app, alice)

    assert.deepEqual([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining'], second.headers['ratelimit-remaining']], ['5', '4', '3'])
  })

  test('when one owner is limited, then another owner from the same address is not', async (t) => {
    const { app, alice, bob } = await anAuthenticatedApp(t, { max: 2 })

    for (let count = 0; count < 3; count++) await list(app, alice)

    assert.equal((await list(app, alice)).statusCode, 429)
    assert.equal((await list(app, bob)).statusCode, 200)
  })

  test('when someone guesses keys, then the failures count against their address and they are limited before more are checked', async (t) => {
    const { app, alice } = await anAuthenticatedApp(t, { max: 3 })
    const guess = () => list(app, `addr_${randomBytes(8).toString('hex')}_${'x'.repeat(43)}`, '203.0.113.9')

    const statuses = []
    for (let count = 0; count < 5; count++) statuses.push((await guess()).statusCode)

    assert.deepEqual(statuses, [401, 401, 401, 429, 429])
    assert.equal((await list(app, alice, '203.0.113.9')).statusCode, 200, 'the owner has a budget of its own')
    assert.equal((await list(app, undefined, '198.51.100.7')).statusCode, 401, 'another address is not limited')
  })

  test('when authentication is off, then there is no limit by default', async (t) => {
    const app = buildTestApp(t, { config: { rateLimit: { ...DEFAULT_CONFIG.rateLimit, max: 1 } } })

    const statuses = [(await list(app)).statusCode, (await list(app)).statusCode, (await list(app)).statusCode]

    assert.deepEqual(statuses, [200, 200, 200])
    assert.equal((await list(app)).headers['ratelimit-limit'], undefined)
  })

  test('when authentication is off and the limit is switched on, then each address has its own budget', async (t) => {
    const app = buildTestApp(t, { config: { rateLimit: { ...DEFAULT_CONFIG.rateLimit, enabled: true, max: 1 } } })

    assert.equal((await list(app, undefined, '192.0.2.1')).statusCode, 200)
    assert.equal((await list(app, undefined, '192.0.2.1')).statusCode, 429)
    assert.equal((await list(app, undefined, '192.0.2.2')).statusCode, 200)
  })

  test('when authentication is on and the limit is switched off, then there is none', async (t) => {
    const { app, alice } = await anAuthenticatedApp(t, { enabled: false, max: 1 })

    assert.deepEqual([(await list(app, alice)).statusCode, (await list(app, alice)).statusCode], [200, 200])
  })

  test('when probes are asked often, then they are never limited', async (t) => {
    const { app } = await anAuthenticatedApp(t, { max: 1 })

    const statuses = []
    for (let count = 0; count < 3; count++) statuses.push((await app.inject({ method: 'GET', url: '/livez' })).statusCode)

    assert.deepEqual(statuses, [200, 200, 200])
  })

  describe('in Redis', { skip: REDIS_SKIP }, () => {
    /** A key prefix of this test's own, whose keys are deleted when the test ends. */
    function aRedisPrefix(t: TestContext): string {
      const prefix = `addrservice-test:${String(process.pid)}:${randomBytes(4).toString('hex')}:`
      t.after(async () => {
        const redis = new Redis(REDIS_URL)
        const keys = await redis.keys(`${prefix}*`)
        if (keys.length > 0) await redis.del(...keys)
        await redis.quit()
      })
      return prefix
    }

    test('when two instances share one Redis, then an owner has one budget across both', async (t) => {
      const redisPrefix = aRedisPrefix(t)
      const settings = { max: 3, redis: REDIS_URL, redisPrefix }
      const first = await anAuthenticatedApp(t, settings)
      const keys = first.keys
      const second = buildTestApp(t, { store: first.store, authenticator: apiKeyAuthenticator(keys), config: { rateLimit: { ...DEFAULT_CONFIG.rateLimit, ...settings } } })
      await Promise.all([first.app.ready(), second.ready()])

      const statuses = []
      for (const app of [first.app, second, first.app, second]) statuses.push((await list(app, first.alice)).statusCode)

      assert.deepEqual(statuses, [200, 200, 200, 429])
      const redis = new Redis(REDIS_URL)
      t.after(() => redis.quit())
      assert.deepEqual(await redis.keys(`${redisPrefix}*`), [`${redisPrefix}owner:alice`])
    })

    test('when Redis cannot be reached, then requests pass and the log says why', async (t) => {
      const { lines, logger } = capturingLogger('warn')
      const { app, alice } = await anAuthenticatedApp(t, { max: 1, redis: 'redis://127.0.0.1:1' }, { logger })
      await app.ready()

      const statuses = []
      for (let count = 0; count < 3; count++) statuses.push((await list(app, alice)).statusCode)

      assert.deepEqual(statuses, [200, 200, 200])
      await waitFor(() => lines.some((line) => String(line.msg).includes('cannot reach Redis')))
    })
  })
})

describe('authentication metrics and logs', () => {
  test('when credentials are refused, then the failure is counted by reason and logged with its reason, never the credential', async (t) => {
    const registry = new Registry()
    const { lines, logger } = capturingLogger()
    const { app, alice } = await anAuthenticatedApp(t, {}, { metrics: registry, logger })
    const wrong = `${alice.slice(0, -3)}xyz`

    await list(app)
    await list(app, wrong)
    await list(app, alice)

    assert.equal(await metricValue(registry, 'addrservice_auth_failures_total', { reason: 'missing credentials' }), 1)
    assert.equal(await metricValue(registry, 'addrservice_auth_failures_total', { reason: 'wrong api key secret' }), 1)
    const requests = lines.filter((line) => line.uri === '/addresses')
    assert.deepEqual(
      requests.map((line) => [line.status, line.owner, line.auth_failure]),
      [
        [401, undefined, 'missing credentials'],
        [401, undefined, 'wrong api key secret'],
        [200, 'alice', undefined],
      ],
    )
    const text = JSON.stringify(lines)
    assert.ok(!text.includes(alice.slice(22)) && !text.includes(wrong.slice(22)), 'a secret reached the log')
  })

  test('when authentication is off, then the log line names the default owner', async (t) => {
    const { lines, logger } = capturingLogger()
    const app = buildTestApp(t, { logger })

    await list(app)

    assert.equal(lines.find((line) => line.uri === '/addresses')?.owner, 'default')
  })
})

describe('CORS', () => {
  const withOrigins = (origins: string[]) => ({ config: { cors: { origins } } })

  test('when a listed origin sends a preflight, then 204 with the allowed origin, methods and the request headers, without credentials', async (t) => {
    const { app } = await anAuthenticatedApp(t, {}, withOrigins(['https://app.example.com']))

    const response = await app.inject({
      method: 'OPTIONS',
      url: '/addresses/abc',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, if-match, content-type' },
    })

    assert.equal(response.statusCode, 204)
    assert.equal(response.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.match(String(response.headers['access-control-allow-methods']), /PUT/)
    assert.equal(response.headers['access-control-allow-headers'], 'authorization, if-match, content-type')
    assert.equal(response.headers['access-control-max-age'], '600')
    assert.match(String(response.headers.vary), /origin/i)
  })

  test('when a listed origin makes a request, then the response allows it and exposes the headers a client reads', async (t) => {
    const { app, alice } = await anAuthenticatedApp(t, {}, withOrigins(['https://app.example.com']))

    const response = await app.inject({ method: 'GET', url: '/addresses', headers: { origin: 'https://app.example.com', authorization: `Bearer ${alice}` } })

    assert.equal(response.headers['access-control-allow-origin'], 'https://app.example.com')
    const exposed = String(response.headers['access-control-expose-headers']).toLowerCase().split(', ')
    for (const header of ['etag', 'location', 'link', 'x-request-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-total-count']) {
      assert.ok(exposed.includes(header), header)
    }
  })

  test('when an origin that is not listed asks, then no CORS header allows it', async (t) => {
    const { app } = await anAuthenticatedApp(t, {}, withOrigins(['https://app.example.com']))

    const response = await app.inject({ method: 'OPTIONS', url: '/addresses', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } })

    assert.equal(response.headers['access-control-allow-origin'], undefined)
  })

  test('when any origin is allowed, then the answer is *', async (t) => {
    const app = buildTestApp(t, withOrigins(['*']))

    const response = await app.inject({ method: 'GET', url: '/addresses', headers: { origin: 'https://anywhere.example' } })

    assert.equal(response.headers['access-control-allow-origin'], '*')
  })

  test('when CORS is on and OPTIONS comes without an Origin, then it still answers with Allow', async (t) => {
    const app = buildTestApp(t, withOrigins(['https://app.example.com']))

    const response = await app.inject({ method: 'OPTIONS', url: '/addresses' })

    assert.equal(response.statusCode, 204)
    assert.equal(response.headers.allow, 'GET, HEAD, POST, OPTIONS')
  })

  test('when no origin is configured, then no CORS headers at all', async (t) => {
    const app = buildTestApp(t)

    const response = await app.inject({ method: 'OPTIONS', url: '/addresses', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } })

    assert.equal(response.headers['access-control-allow-origin'], undefined)
    assert.equal(response.headers.allow, 'GET, HEAD, POST, OPTIONS')
  })
})

describe('security headers', () => {
  for (const url of ['/addresses', '/nowhere', '/livez']) {
    test(`when ${url} answers, then it carries the headers that suit a JSON API`, async (t) => {
      const app = buildTestApp(t)

      const response = await app.inject({ method: 'GET', url })

      assert.equal(response.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'")
      assert.equal(response.headers['x-content-type-options'], 'nosniff')
      assert.equal(response.headers['x-frame-options'], 'DENY')
      assert.equal(response.headers['referrer-policy'], 'no-referrer')
      assert.match(String(response.headers['strict-transport-security']), /max-age=\d+/)
      assert.equal(response.headers['x-powered-by'], undefined)
    })
  }
})

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
