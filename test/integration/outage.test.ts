import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test, type TestContext } from 'node:test'
import { anEntry } from '../helpers/factories.js'
import { httpRequest, type RawResponse } from '../helpers/http-client.js'
import { OWN_POSTGRES_SKIP, OwnPostgres } from '../helpers/own-postgres.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

/** No request may take longer than this, outage or not: the timeouts bound every wait. */
const ANSWER_WITHIN_MS = 10_000

const get = (server: ServerProcess, path: string) => httpRequest(server.baseUrl, { method: 'GET', path, timeoutMs: ANSWER_WITHIN_MS })
const post = (server: ServerProcess, name: string) =>
  httpRequest(server.baseUrl, { method: 'POST', path: '/addresses', body: JSON.stringify(anEntry({ full_name: name })), timeoutMs: ANSWER_WITHIN_MS })

function serve(t: TestContext, db: string): Promise<ServerProcess> {
  return startServer(['--db', db]).then((server) => {
    t.after(() => server.child.kill('SIGKILL'))
    return server
  })
}

interface Acknowledged {
  location: string
  name: string
}

/**
 * Writers that POST until told to stop (or until their server is gone), each recording every
 * entry the service acknowledged with 201, and every other answer.
 */
function startWriters(server: ServerProcess, count: number, maxMs: number) {
  const acknowledged: Acknowledged[] = []
  const answers: number[] = []
  let stopped = false
  const deadline = Date.now() + maxMs
  const writers = Array.from({ length: count }, async (_, writer) => {
    for (let index = 0; !stopped && Date.now() < deadline; index++) {
      const name = `writer ${String(writer)} entry ${String(index)}`
      let response: RawResponse
      try {
        response = await post(server, name)
      } catch {
        if (server.child.exitCode !== null || server.child.signalCode !== null) return
        answers.push(0)
        continue
      }
      answers.push(response.status)
      if (response.status === 201) acknowledged.push({ location: String(response.headers.location), name })
      else await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
  return {
    acknowledged,
    answers,
    async stop() {
      stopped = true
      await Promise.all(writers)
    },
  }
}

async function waitUntilReady(server: ServerProcess, withinMs = 20_000): Promise<void> {
  const deadline = Date.now() + withinMs
  while ((await get(server, '/readyz')).status !== 200) {
    assert.ok(Date.now() < deadline, `ready within ${String(withinMs)} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function assertAllReadBack(server: ServerProcess, acknowledged: Acknowledged[]): Promise<void> {
  assert.ok(acknowledged.length > 0, 'some writes were acknowledged')
  for (const { location, name } of acknowledged) {
    const read = await get(server, location)
    assert.equal(read.status, 200, `${location} (${name}) was acknowledged but is gone`)
    assert.deepEqual(JSON.parse(read.body), anEntry({ full_name: name }))
  }
}

describe('outages of PostgreSQL', { skip: OWN_POSTGRES_SKIP }, () => {
  let postgres: OwnPostgres
  before(async () => {
    postgres = await OwnPostgres.create()
  })
  after(() => postgres.destroy())

  test('when the database is down at start, then the service starts, answers 503, and becomes ready by itself', async (t) => {
    const server = await serve(t, postgres.url)

    const live = await get(server, '/livez')
    const ready = await get(server, '/readyz')
    const write = await post(server, 'too early')
    assert.equal(live.status, 200)
    assert.equal(ready.status, 503)
    assert.equal(write.status, 503)
    assert.equal(write.headers['retry-after'], '2')
    assert.match(String(write.headers['content-type']), /^application\/problem\+json/)

    await postgres.start()
    await waitUntilReady(server)
    assert.equal((await post(server, 'on time')).status, 201)
  })

  for (const mode of ['immediate', 'fast'] as const) {
    test(`when the database restarts (${mode}) under load, then requests get 201 or 503 in bounded time, none is lost, and the pool recovers`, async (t) => {
      await postgres.start().catch(() => undefined)
      const server = await serve(t, postgres.url)
      await waitUntilReady(server)
      const writers = startWriters(server, 4, 8_000)
      await new Promise((resolve) => setTimeout(resolve, 800))

      await postgres.restart(mode)
      await new Promise((resolve) => setTimeout(resolve, 1500))
      await writers.stop()

      t.diagnostic(`acknowledged ${String(writers.acknowledged.length)}, refused with 503: ${String(writers.answers.filter((status) => status === 503).length)}`)
      assert.ok(writers.answers.every((status) => status === 201 || status === 503), `answers: ${[...new Set(writers.answers)].join(', ')}`)
      assert.equal(server.child.exitCode, null, 'the service is still running')
      let recovered = await post(server, 'after the restart')
      for (let attempt = 0; recovered.status !== 201 && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        recovered = await post(server, 'after the restart')
      }
      assert.equal(recovered.status, 201)
      await assertAllReadBack(server, writers.acknowledged)
      server.child.kill('SIGTERM')
      assert.equal(await server.exited, 0)
    })
  }

  test('when the service is killed with SIGKILL under load, then every acknowledged write survives', async (t) => {
    await postgres.start().catch(() => undefined)
    const first = await serve(t, postgres.url)
    const writers = startWriters(first, 4, 8_000)
    await new Promise((resolve) => setTimeout(resolve, 1500))

    first.child.kill('SIGKILL')
    await writers.stop()

    const second = await serve(t, postgres.url)
    await assertAllReadBack(second, writers.acknowledged)
  })
})

describe('a crash of the service on SQLite', () => {
  test('when the service is killed with SIGKILL under load, then every acknowledged write survives', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-crash-'))
    t.after(() => {
      rmSync(dir, { recursive: true, force: true })
    })
    const db = `sqlite:${join(dir, 'addressbook.db')}`
    const first = await serve(t, db)
    const writers = startWriters(first, 4, 8_000)
    await new Promise((resolve) => setTimeout(resolve, 1500))

    first.child.kill('SIGKILL')
    await writers.stop()

    const second = await serve(t, db)
    await assertAllReadBack(second, writers.acknowledged)
  })
})
