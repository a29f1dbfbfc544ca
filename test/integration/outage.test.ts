import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test, type TestContext } from 'node:test'
import pg from 'pg'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import { MIGRATION_LOCK_KEY } from '../../src/storage/postgres/migrations.js'
import { aFullEntry } from '../helpers/factories.js'
import { httpRequest, type RawResponse } from '../helpers/http-client.js'
import { OWN_POSTGRES_SKIP, useOwnPostgres, type StopMode } from '../helpers/own-postgres.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

/** Bounds each test as a whole, so that nothing here can hang a run. */
const BOUNDED = { timeout: 60_000 }

/** No request may take longer than this, outage or not: the store's timeouts bound every wait. */
const ANSWER_WITHIN_MS = 10_000

interface Answer {
  what: string
  ms: number
  response?: RawResponse
  error?: string
}

/** One request to the service, timed; a missing answer (or a broken connection) is recorded, not thrown. */
async function ask(server: ServerProcess, method: string, path: string, body?: AddressEntry): Promise<Answer> {
  const what = `${method} ${path}`
  const started = performance.now()
  try {
    const response = await httpRequest(server.baseUrl, {
      method,
      path,
      timeoutMs: ANSWER_WITHIN_MS,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { what, ms: performance.now() - started, response }
  } catch (error) {
    return { what, ms: performance.now() - started, error: error instanceof Error ? error.message : String(error) }
  }
}

function statusOf(answer: Answer): number | string {
  return answer.response?.status ?? `no answer after ${answer.ms.toFixed(0)} ms (${String(answer.error)})`
}

const anEntryNamed = (name: string) => aFullEntry({ full_name: name })

/** Starts the built CLI on `db`; the test kills it when it ends, whatever happened. */
async function serve(t: TestContext, db: string): Promise<ServerProcess> {
  const server = await startServer(['--db', db])
  t.after(() => server.child.kill('SIGKILL'))
  return server
}

function assertAlive(server: ServerProcess): void {
  const { exitCode, signalCode } = server.child
  const errors = server
    .logLines()
    .filter((line) => typeof line.level === 'number' && line.level >= 50)
    .map((line) => JSON.stringify(line).slice(0, 600))
  assert.ok(exitCode === null && signalCode === null, `the service exited (${String(exitCode ?? signalCode)}); its errors:\n${errors.join('\n')}`)
}

/** A 503 the way clients are promised one: a problem body and a Retry-After of some seconds. */
function assertRetryLater(answer: Answer, type: string): void {
  const { response } = answer
  assert.ok(response, `${answer.what}: ${String(statusOf(answer))}`)
  assert.equal(response.status, 503, `${answer.what}: ${response.body}`)
  assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/, `${answer.what}: Retry-After`)
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/, `${answer.what}: content type`)
  assert.equal((JSON.parse(response.body) as { type?: unknown }).type, `urn:addrservice:problem:${type}`)
}

/** Polls until `ready` holds, failing after `withinMs`; every poll is itself bounded. */
async function eventually(what: string, ready: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  while (!(await ready())) {
    assert.ok(Date.now() < deadline, `${what} within ${String(withinMs)} ms`)
    await sleep(100)
  }
}

/** Polls /readyz until it answers 200; fails at once, with the service's errors, if the service exits. */
const becomesReady = (server: ServerProcess, withinMs = 15_000) =>
  eventually(
    'GET /readyz answers 200',
    async () => {
      assertAlive(server)
      return (await ask(server, 'GET', '/readyz')).response?.status === 200
    },
    withinMs,
  )

interface Acknowledged {
  location: string
  name: string
}

/**
 * Writers that POST entries until stopped, their server is gone, `maxMs` passes or each has sent
 * `maxPerWriter`; they record every answer, and every entry acknowledged with 201.
 */
function startWriters(server: ServerProcess, { writers = 4, maxMs = 10_000, maxPerWriter = 5_000 } = {}) {
  const acknowledged: Acknowledged[] = []
  const answers: Answer[] = []
  let stopped = false
  // A function, so that the loop reads the flag anew after each await.
  const stopRequested = () => stopped
  const deadline = Date.now() + maxMs
  const gone = () => server.child.exitCode !== null || server.child.signalCode !== null
  const running = Array.from({ length: writers }, async (_, writer) => {
    for (let index = 0; index < maxPerWriter && !stopRequested() && Date.now() < deadline; index++) {
      const name = `Writer ${String(writer)} entry ${String(index)}`
      const answer = await ask(server, 'POST', '/addresses', anEntryNamed(name))
      if (answer.error !== undefined && (stopRequested() || gone())) return
      answers.push(answer)
      if (answer.response?.status === 201) acknowledged.push({ location: String(answer.response.headers.location), name })
      else await sleep(50)
    }
  })
  return {
    acknowledged,
    answers,
    /** Resolves once `count` more entries than now are acknowledged, failing after `withinMs`. */
    async acknowledge(count: number, withinMs = 15_000) {
      const target = acknowledged.length + count
      await eventually(`${String(count)} more acknowledged writes`, () => Promise.resolve(acknowledged.length >= target), withinMs)
    },
    /** Stops the writers; the requests in flight still finish (or fail). */
    async stop() {
      stopped = true
      await Promise.all(running)
    },
  }
}

/** Every answer came in time and was 201, or 503 with Retry-After: no 500, no hang. */
function assertCreatedOrRetryLater(answers: Answer[]): void {
  assert.ok(answers.length > 0, 'some writes were sent')
  const others = answers.filter((answer) => answer.response?.status !== 201 && answer.response?.status !== 503)
  assert.deepEqual(others.map(statusOf), [], 'every write answered 201 or 503')
  for (const refused of answers.filter((answer) => answer.response?.status === 503)) assertRetryLater(refused, 'store-unavailable')
  const slowest = Math.max(...answers.map((answer) => answer.ms))
  assert.ok(slowest < ANSWER_WITHIN_MS, `slowest answer took ${slowest.toFixed(0)} ms`)
}

/** GET of every acknowledged entry answers 200 with exactly what was written. */
async function assertAllReadBack(server: ServerProcess, acknowledged: Acknowledged[]): Promise<void> {
  const pending = [...acknowledged]
  const readers = Array.from({ length: 8 }, async () => {
    for (let next = pending.pop(); next; next = pending.pop()) {
      const read = await ask(server, 'GET', next.location)
      assert.equal(read.response?.status, 200, `${next.location} (${next.name}) was acknowledged but reads ${String(statusOf(read))}`)
      assert.deepEqual(JSON.parse(read.response.body), anEntryNamed(next.name))
    }
  })
  await Promise.all(readers)
}

function summary(answers: Answer[]): string {
  const counts = new Map<string, number>()
  for (const answer of answers) counts.set(String(statusOf(answer)), (counts.get(String(statusOf(answer))) ?? 0) + 1)
  const slowest = answers.length > 0 ? Math.max(...answers.map((answer) => answer.ms)) : 0
  return `${[...counts].map(([status, count]) => `${status}: ${String(count)}`).join(', ')}; slowest ${slowest.toFixed(0)} ms`
}

describe('the service while its PostgreSQL server is down or restarts', { skip: OWN_POSTGRES_SKIP }, () => {
  test('when the database is down at start, then the service is live, not ready, answers 503 with Retry-After, and serves once the database starts', BOUNDED, async (t) => {
    const postgres = await useOwnPostgres(t, { started: false })
    const server = await serve(t, postgres.url)

    const live = await ask(server, 'GET', '/livez')
    const ready = await ask(server, 'GET', '/readyz')
    const write = await ask(server, 'POST', '/addresses', anEntryNamed('Too Early'))
    assert.equal(live.response?.status, 200)
    assertRetryLater(ready, 'not-ready')
    assertRetryLater(write, 'store-unavailable')

    await postgres.start()
    await becomesReady(server)
    const created = await ask(server, 'POST', '/addresses', anEntryNamed('On Time'))
    assert.equal(created.response?.status, 201, created.response?.body)
    const read = await ask(server, 'GET', String(created.response.headers.location))
    assert.deepEqual(JSON.parse(read.response?.body ?? 'null'), anEntryNamed('On Time'))
    assertAlive(server)
  })

  for (const mode of ['immediate', 'fast'] satisfies StopMode[]) {
    test(`when the database stops (${mode}) mid-run, then every request answers 503 with Retry-After in bounded time and the service serves again once it is back`, BOUNDED, async (t) => {
      const postgres = await useOwnPostgres(t)
      const server = await serve(t, postgres.url)
      await becomesReady(server)
      const before = await ask(server, 'POST', '/addresses', anEntryNamed('Before The Outage'))
      assert.equal(before.response?.status, 201)
      const location = String(before.response.headers.location)

      await postgres.stop(mode)
      const during = await Promise.all([
        ask(server, 'POST', '/addresses', anEntryNamed('During The Outage')),
        ask(server, 'GET', '/addresses'),
        ask(server, 'GET', location),
        ask(server, 'PUT', location, anEntryNamed('Replaced During The Outage')),
        ask(server, 'DELETE', location),
      ])
      const live = await ask(server, 'GET', '/livez')
      const ready = await ask(server, 'GET', '/readyz')

      for (const answer of during) assertRetryLater(answer, 'store-unavailable')
      assertRetryLater(ready, 'not-ready')
      assert.equal(live.response?.status, 200)
      assertAlive(server)

      await postgres.start()
      await becomesReady(server)
      const after = await ask(server, 'POST', '/addresses', anEntryNamed('After The Outage'))
      const kept = await ask(server, 'GET', location)
      assert.equal(after.response?.status, 201)
      assert.equal(kept.response?.status, 200, 'the refused DELETE changed nothing')
      assert.deepEqual(JSON.parse(kept.response.body), anEntryNamed('Before The Outage'), 'the refused PUT changed nothing')
      server.child.kill('SIGTERM')
      assert.equal(await server.exited, 0, 'the service still shuts down cleanly')
    })

    test(`when the database restarts (${mode}) under concurrent writes, then each write answers 201 or 503 with Retry-After in bounded time and writes succeed again`, BOUNDED, async (t) => {
      const postgres = await useOwnPostgres(t)
      const server = await serve(t, postgres.url)
      await becomesReady(server)
      const writers = startWriters(server)
      t.after(() => writers.stop())
      await writers.acknowledge(20)

      await postgres.restart(mode)
      await writers.acknowledge(20)
      await writers.stop()

      t.diagnostic(`restart -m ${mode}: ${summary(writers.answers)}`)
      assertCreatedOrRetryLater(writers.answers)
      assertAlive(server)
    })
  }

  test('when the database stops answering, then every request answers 503 with Retry-After in bounded time and the service serves again once it answers', BOUNDED, async (t) => {
    const postgres = await useOwnPostgres(t)
    const server = await serve(t, postgres.url)
    await becomesReady(server)
    // Several at once, so that the pool holds idle connections that will hang as well as new ones.
    const warmUp = await Promise.all(Array.from({ length: 6 }, (_, index) => ask(server, 'POST', '/addresses', anEntryNamed(`Warm Up ${String(index)}`))))
    assert.deepEqual(warmUp.map(statusOf), [201, 201, 201, 201, 201, 201])

    postgres.freeze()
    t.after(() => {
      postgres.thaw()
    })
    const [live, ready, ...during] = await Promise.all([
      ask(server, 'GET', '/livez'),
      ask(server, 'GET', '/readyz'),
      ask(server, 'GET', '/addresses'),
      ...Array.from({ length: 12 }, (_, index) => ask(server, 'POST', '/addresses', anEntryNamed(`Hung ${String(index)}`))),
    ])
    postgres.thaw()

    t.diagnostic(`while frozen: ${summary(during)}`)
    for (const answer of during) assertRetryLater(answer, 'store-unavailable')
    assertRetryLater(ready, 'not-ready')
    assert.equal(live.response?.status, 200)
    assert.ok(live.ms < 1_000, `/livez took ${live.ms.toFixed(0)} ms`)
    assertAlive(server)
    await becomesReady(server)
    const after = await ask(server, 'POST', '/addresses', anEntryNamed('Answered Again'))
    assert.equal(after.response?.status, 201)
  })

  test('when the database restarts (immediate) under concurrent writes, then every acknowledged write reads back', BOUNDED, async (t) => {
    const postgres = await useOwnPostgres(t)
    const server = await serve(t, postgres.url)
    await becomesReady(server)
    const writers = startWriters(server)
    t.after(() => writers.stop())
    await writers.acknowledge(50)

    await postgres.restart('immediate')
    await writers.acknowledge(50)
    await writers.stop()

    t.diagnostic(`restart -m immediate: ${summary(writers.answers)}; reading back ${String(writers.acknowledged.length)}`)
    await assertAllReadBack(server, writers.acknowledged)
  })

  test('when the database restarts while the service waits to migrate the schema, then the service stays up and serves once it is back', BOUNDED, async (t) => {
    const postgres = await useOwnPostgres(t)
    // Another instance migrating holds this lock; ours waits on it with a connection of its own.
    const otherInstance = new pg.Client({ connectionString: postgres.url })
    otherInstance.on('error', () => undefined)
    await otherInstance.connect()
    t.after(() => otherInstance.end().catch(() => undefined))
    await otherInstance.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    const server = await serve(t, postgres.url)
    const waiting = ask(server, 'POST', '/addresses', anEntryNamed('Waits For The Migration'))
    await eventually(
      'the service waits for the migration lock',
      async () => {
        const { rows } = await otherInstance.query<{ waiting: number }>(
          "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'",
        )
        return (rows[0]?.waiting ?? 0) > 0
      },
      5_000,
    )

    await postgres.restart('immediate')
    const refused = await waiting

    assertRetryLater(refused, 'store-unavailable')
    await becomesReady(server)
    const created = await ask(server, 'POST', '/addresses', anEntryNamed('After The Migration'))
    assert.equal(created.response?.status, 201)
  })
})

describe('a crash (SIGKILL) of the service under concurrent writes', () => {
  async function crashAndRestart(t: TestContext, db: string): Promise<void> {
    const first = await serve(t, db)
    const writers = startWriters(first)
    t.after(() => writers.stop())
    await writers.acknowledge(100)

    const stopping = writers.stop()
    first.child.kill('SIGKILL')
    await stopping
    assert.equal(await first.exited, 'SIGKILL')

    const second = await serve(t, db)
    t.diagnostic(`before the crash: ${summary(writers.answers)}; reading back ${String(writers.acknowledged.length)}`)
    await assertAllReadBack(second, writers.acknowledged)
  }

  test('when the store is SQLite, then every acknowledged write reads back after a restart', BOUNDED, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-crash-'))
    t.after(() => {
      rmSync(dir, { recursive: true, force: true })
    })

    await crashAndRestart(t, `sqlite:${join(dir, 'addressbook.db')}`)
  })

  test('when the store is PostgreSQL, then every acknowledged write reads back after a restart', { ...BOUNDED, skip: OWN_POSTGRES_SKIP }, async (t) => {
    const postgres = await useOwnPostgres(t)

    await crashAndRestart(t, postgres.url)
  })
})
