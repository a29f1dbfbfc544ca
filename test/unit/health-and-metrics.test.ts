import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { Histogram, Registry } from 'prom-client'
import { StoreUnavailableError } from '../../src/domain/errors.js'
import { READINESS_TIMEOUT_MS } from '../../src/http/site/health.js'
import { buildMetricsApp } from '../../src/http/edge/metrics.js'
import { SeriesHistogram } from '../../src/metric-series.js'
import { InstrumentedStore } from '../../src/storage/instrumented-store.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { buildTestApp } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { StubAddressBook } from '../helpers/stub-address-book.js'
import { storedEntries } from '../helpers/stores.js'

describe('health probes', () => {
  test('when /livez is asked, then 200 even if the store is down', async (t) => {
    const app = buildTestApp(t, { service: new StubAddressBook({ notReady: new StoreUnavailableError() }) })

    const response = await app.inject({ method: 'GET', url: '/livez' })

    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { status: 'ok' })
  })

  test('when the address book is ready, then /readyz is 200', async (t) => {
    const app = buildTestApp(t, { service: new StubAddressBook() })

    const response = await app.inject({ method: 'GET', url: '/readyz' })

    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { status: 'ready' })
  })

  test('when the store is not reachable, then /readyz is 503 problem+json with Retry-After', async (t) => {
    const app = buildTestApp(t, { service: new StubAddressBook({ notReady: new StoreUnavailableError() }) })

    const response = await app.inject({ method: 'GET', url: '/readyz' })

    assert.equal(response.statusCode, 503)
    assert.equal(response.headers['retry-after'], '2')
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/)
    assert.equal(response.json<{ type: string }>().type, 'urn:addrservice:problem:not-ready')
  })

  test('when the store hangs, then /readyz answers 503 within the readiness timeout instead of hanging too', async (t) => {
    const app = buildTestApp(t, { service: new StubAddressBook({ hangs: true }) })
    const started = Date.now()

    const response = await app.inject({ method: 'GET', url: '/readyz' })

    assert.equal(response.statusCode, 503)
    assert.ok(Date.now() - started >= READINESS_TIMEOUT_MS - 50)
  })

  test('when shutdown begins, then /readyz turns 503 while /livez and the API still answer', async (t) => {
    const app = buildTestApp(t, { service: new StubAddressBook() })
    await app.ready()

    app.beginShutdown()
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    const live = await app.inject({ method: 'GET', url: '/livez' })
    const api = await app.inject({ method: 'GET', url: '/addresses' })

    assert.equal(ready.statusCode, 503)
    assert.match(ready.json<{ detail: string }>().detail, /shutting down/)
    assert.equal(live.statusCode, 200)
    assert.equal(api.statusCode, 200)
    assert.equal(api.headers.connection, 'close')
  })

  test('when probes are answered, then they are logged at debug, not info', async (t) => {
    const lines: { level: number; uri?: string }[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; uri?: string })
        done()
      },
    })
    const app = buildTestApp(t, { service: new StubAddressBook({ notReady: new Error('down') }), logger: pino({ level: 'info' }, stream) })

    await app.inject({ method: 'GET', url: '/livez' })
    await app.inject({ method: 'GET', url: '/readyz' })
    await app.inject({ method: 'GET', url: '/addresses' })

    assert.deepEqual(lines.filter((line) => line.uri !== undefined).map((line) => line.uri), ['/addresses'])
  })
})

describe('metrics', () => {
  test('when requests are served, then /metrics reports their durations by route template and status', async (t) => {
    const registry = new Registry()
    const app = buildTestApp(t, { metrics: registry, serveMetrics: true })

    await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    await app.inject({ method: 'GET', url: '/addresses/0123456789abcdef0123456789abcdef' })
    await app.inject({ method: 'GET', url: '/nowhere' })
    const response = await app.inject({ method: 'GET', url: '/metrics' })

    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    assert.match(response.body, /http_request_duration_seconds_count\{method="POST",route="\/addresses",status_code="201"\} 1/)
    assert.match(response.body, /http_request_duration_seconds_count\{method="GET",route="\/addresses\/:id\(\[a-zA-Z0-9-\]\+\)",status_code="404"\} 1/)
    assert.match(response.body, /http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1/)
    assert.match(response.body, /http_requests_in_flight 1\n/)
  })

  test('when metrics are not served on the app, then /metrics is an unknown endpoint', async (t) => {
    const app = buildTestApp(t, { metrics: new Registry() })

    const response = await app.inject({ method: 'GET', url: '/metrics' })

    assert.equal(response.statusCode, 404)
  })

  test('when a metrics app of its own is built, then it serves the registry', async (t) => {
    const registry = new Registry()
    registry.setDefaultLabels({ probe: 'x' })
    const app = buildMetricsApp(registry)
    t.after(() => app.close())
    const store = new InstrumentedStore(new MemoryStore(), registry)
    await store.ready()

    const response = await app.inject({ method: 'GET', url: '/metrics' })

    assert.match(response.body, /addrservice_store_operation_duration_seconds_count\{probe="x",operation="ready",outcome="ok"\} 1/)
  })
})

describe('SeriesHistogram', () => {
  /** A registry with a histogram of each kind, observed alike, under the same name. */
  function twoRegistries() {
    const options = { name: 'job_seconds', help: 'How long a job took', labelNames: ['queue', 'outcome'] as const, buckets: [0.1, 0.5, 1] }
    const theirs = new Registry()
    const ours = new Registry()
    for (const registry of [theirs, ours]) registry.setDefaultLabels({ instance: 'a"b' })
    const histogram = new Histogram({ ...options, labelNames: [...options.labelNames], registers: [theirs] })
    const series = new SeriesHistogram({ ...options, registers: [ours] })
    const observe = (labels: { queue: string; outcome: string }, value: number) => {
      histogram.observe(labels, value)
      series.series(labels).observe(value)
    }
    return { theirs, ours, observe, series }
  }

  test("when the same values are observed, then the text and the JSON are prom-client's Histogram's, line for line", async () => {
    const { theirs, ours, observe } = twoRegistries()

    for (const value of [0.05, 0.1, 0.3, 0.7, 2, 9]) observe({ queue: 'mail', outcome: 'ok' }, value)
    observe({ queue: 'print\nnow', outcome: 'error' }, 0.5)

    assert.equal(await ours.metrics(), await theirs.metrics())
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON())
  })

  test('when a series is looked up again, then it is the same one and counts on', async () => {
    const { ours, series } = twoRegistries()

    series.series({ queue: 'mail', outcome: 'ok' }).observe(1)
    series.series({ outcome: 'ok', queue: 'mail' }).observe(1)

    assert.match(await ours.metrics(), /job_seconds_count\{instance="a\\"b",queue="mail",outcome="ok"\} 2\n/)
  })

  test('when the registry is reset, then the series start again from nothing', async () => {
    const { ours, series } = twoRegistries()
    series.series({ queue: 'mail', outcome: 'ok' }).observe(1)

    ours.resetMetrics()

    assert.doesNotMatch(await ours.metrics(), /job_seconds_count/)
  })
})

describe('InstrumentedStore', () => {
  test('when the registry is reset, then the operations after it are recorded again', async (t) => {
    const registry = new Registry()
    const store = new InstrumentedStore(new MemoryStore(), registry)
    t.after(() => store.close())
    await store.ready()

    registry.resetMetrics()
    await store.ready()

    assert.match(await registry.metrics(), /addrservice_store_operation_duration_seconds_count\{operation="ready",outcome="ok"\} 1\n/)
  })

  test('when operations succeed and fail, then durations are recorded by outcome and failures counted', async (t) => {
    const registry = new Registry()
    const inner = new MemoryStore()
    const store = new InstrumentedStore(inner, registry)
    t.after(() => store.close())

    await store.create('default', 'a', anEntry())
    await store.get('default', 'a')
    await store.update('default', 'a', anEntry({ full_name: 'B' }))
    await storedEntries(store, 'default')
    await store.delete('default', 'a')
    await assert.rejects(store.create('default', 'a', anEntry()).then(() => store.create('default', 'a', anEntry())))

    const text = await registry.metrics()
    for (const operation of ['get', 'update', 'list', 'delete']) {
      assert.match(text, new RegExp(`addrservice_store_operation_duration_seconds_count\\{operation="${operation}",outcome="ok"\\} 1`))
    }
    assert.match(text, /addrservice_store_operation_duration_seconds_count\{operation="create",outcome="ok"\} 2/)
    assert.match(text, /addrservice_store_operation_duration_seconds_count\{operation="create",outcome="error"\} 1/)
    assert.match(text, /addrservice_store_errors_total\{operation="create"\} 1/)
    assert.equal(store.description, 'memory')
    assert.deepEqual((await inner.get('default', 'a'))?.entry, anEntry())
  })

  test('when the change sequence and idempotency keys are used, then each operation is measured and write options reach the store', async (t) => {
    const registry = new Registry()
    const store = new InstrumentedStore(new MemoryStore(), registry)
    t.after(() => store.close())
    const times = { now: '2024-01-01T00:00:00.000Z', leaseUntil: '2024-01-01T00:01:00.000Z', expiresAt: '2024-01-02T00:00:00.000Z' }

    await store.claimIdempotencyKey('default', 'one', 'fingerprint', times)
    await store.claimIdempotencyKey('default', 'many', 'fingerprint', times)
    await store.create('default', 'a', anEntry(), { idempotency: { key: 'one', result: 'created a' } })
    await store.createMany('default', [{ id: 'b', entry: anEntry() }], { idempotency: { key: 'many', result: 'created b' } })
    await store.changePosition('default')
    await store.changesSince('default', 0, 10)
    await store.forgetDeletionsBefore(times.now)
    await store.releaseIdempotencyKey('default', 'none')
    await store.forgetIdempotencyKeysBefore(times.now)

    const text = await registry.metrics()
    for (const operation of ['create', 'create_many', 'change_position', 'changes_since', 'forget_deletions', 'release_idempotency_key', 'forget_idempotency_keys']) {
      assert.match(text, new RegExp(`addrservice_store_operation_duration_seconds_count\\{operation="${operation}",outcome="ok"\\} 1`))
    }
    assert.match(text, /addrservice_store_operation_duration_seconds_count\{operation="claim_idempotency_key",outcome="ok"\} 2/)
    const recorded = await Promise.all(['one', 'many'].map((key) => store.claimIdempotencyKey('default', key, 'fingerprint', times)))
    assert.deepEqual(recorded.map((claim) => claim.record?.result), ['created a', 'created b'])
  })

  test('when the store has a pool, then its connections are reported by state', async (t) => {
    const registry = new Registry()
    const pooled = Object.assign(new MemoryStore(), { poolStats: () => ({ total: 5, idle: 3, waiting: 1 }) })
    const store = new InstrumentedStore(pooled, registry)
    t.after(() => store.close())

    const text = await registry.metrics()

    assert.match(text, /addrservice_store_pool_connections\{state="total"\} 5/)
    assert.match(text, /addrservice_store_pool_connections\{state="idle"\} 3/)
    assert.match(text, /addrservice_store_pool_connections\{state="waiting"\} 1/)
  })
})
