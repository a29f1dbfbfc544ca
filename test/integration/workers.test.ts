import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout } from 'node:timers/promises'
import { describe, test, type TestContext } from 'node:test'
import { anEntry } from '../helpers/factories.js'
import { httpRequest } from '../helpers/http-client.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'
import { runCli, startServer, until, type ServerProcess } from '../helpers/server-process.js'

const pidsListening = (server: ServerProcess) =>
  new Set(
    server
      .logLines()
      .filter((line) => typeof line.msg === 'string' && line.msg.startsWith('Server listening at '))
      .map((line) => line.pid),
  )

async function exerciseWorkers(t: TestContext, db: string): Promise<void> {
  const server = await startServer(['--workers', '2', '--db', db])
  t.after(() => server.child.kill('SIGKILL'))
  await until('two workers listening', () => (pidsListening(server).size >= 2 ? true : undefined))

  const created = await Promise.all(
    Array.from({ length: 40 }, (_, index) =>
      httpRequest(server.baseUrl, { method: 'POST', path: '/addresses', body: JSON.stringify(anEntry({ full_name: `Person ${String(index)}` })) }),
    ),
  )
  assert.deepEqual(new Set(created.map((response) => response.status)), new Set([201]))
  const listed = await httpRequest(server.baseUrl, { method: 'GET', path: '/addresses' })
  const ids = created.map((response) => String(response.headers.location).slice('/addresses/'.length))
  assert.deepEqual(Object.keys(JSON.parse(listed.body) as object).sort(), [...ids].sort())
  const served = new Set(server.logLines().filter((line) => line.method === 'POST').map((line) => line.pid))
  assert.equal(served.size, 2, 'both workers served requests')

  const [victim] = [...pidsListening(server)]
  process.kill(Number(victim), 'SIGKILL')
  await until('a replacement worker', () => (pidsListening(server).size >= 3 ? true : undefined))
  assert.ok(server.logLines().some((line) => line.msg === 'worker died; starting a replacement' && line.worker_pid === victim))
  assert.equal((await httpRequest(server.baseUrl, { method: 'GET', path: '/readyz' })).status, 200)

  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
  const primary = server.child.pid
  assert.ok(server.logLines().some((line) => line.msg === 'STOPPED' && line.pid === primary))
  for (const pid of pidsListening(server)) {
    assert.throws(() => process.kill(Number(pid), 0), 'every worker has exited')
  }
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-workers-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** A port held by a plain TCP server until the test ends. */
async function takenPort(t: TestContext): Promise<number> {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  return (blocker.address() as AddressInfo).port
}

const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)

/** Every process that wrote a log line, or that the primary logged as a worker: all but the primary are workers. */
function workerPids(lines: Record<string, unknown>[], primary: unknown): Set<number> {
  const pids = lines.flatMap((line) => [line.pid, line.worker_pid]).filter((pid) => typeof pid === 'number' && pid !== primary)
  return new Set(pids as number[])
}

/**
 * A POST whose body is held back until `finish`. A server answers "100 Continue" once it has
 * the headers: when `inFlight` resolves, the request is in a worker's hands, waiting for the rest.
 */
function slowPost(baseUrl: string, body: string) {
  const req = request(new URL('/addresses', baseUrl), {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' },
  })
  const inFlight = new Promise<void>((resolve) => {
    req.once('continue', () => {
      req.write(body.slice(0, 10))
      resolve()
    })
  })
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => {
        resolve(res.statusCode ?? 0)
      })
    })
    req.on('error', reject)
  })
  req.flushHeaders()
  return { inFlight, status, finish: () => req.end(body.slice(10)) }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('--workers', () => {
  test('when two workers serve SQLite, then both serve, a killed one is replaced, and SIGTERM stops all with 0', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-workers-'))
    t.after(() => {
      rmSync(dir, { recursive: true, force: true })
    })

    await exerciseWorkers(t, `sqlite:${join(dir, 'addressbook.db')}`)
  })

  test('when metrics have a port of their own, then the primary serves the sum of every worker', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-workers-'))
    t.after(() => {
      rmSync(dir, { recursive: true, force: true })
    })
    const config = join(dir, 'config.yaml')
    writeFileSync(config, 'addr-db: {memory: null}\nmetrics: {port: 0}\n')
    const server = await startServer(['--workers', '2', '-c', config])
    t.after(() => server.child.kill('SIGKILL'))
    await until('two workers listening', () => (pidsListening(server).size >= 2 ? true : undefined))

    for (let index = 0; index < 6; index++) {
      await httpRequest(server.baseUrl, { method: 'POST', path: '/addresses', body: JSON.stringify(anEntry()) })
    }
    const url = await until('the metrics port', () => server.logLines().find((line) => line.msg === 'metrics listening')?.url)
    const metrics = await httpRequest(String(url), { method: 'GET', path: '/metrics' })
    server.child.kill('SIGTERM')

    assert.match(metrics.body, /http_request_duration_seconds_count\{method="POST",route="\/addresses",status_code="201"\} 6/)
    assert.equal(new Set(server.logLines().filter((line) => line.method === 'POST').map((line) => line.pid)).size, 2)
    assert.equal(await server.exited, 0)
  })

  test('when every worker dies at once, then the primary replaces them instead of exiting', async (t) => {
    // A fixed port: once no worker holds it, replacements asking for port 0 would get another.
    const server = await startServer(['--workers', '2', '--db', 'memory:', '--port', String(await freePort())])
    t.after(() => server.child.kill('SIGKILL'))
    await until('two workers listening', () => (pidsListening(server).size >= 2 ? true : undefined))

    for (const pid of pidsListening(server)) process.kill(Number(pid), 'SIGKILL')
    await until('two replacements listening, or the primary gone', () =>
      pidsListening(server).size >= 4 || server.child.exitCode !== null ? true : undefined,
    )

    assert.equal(server.child.exitCode, null, 'the primary is still running')
    assert.equal((await httpRequest(server.baseUrl, { method: 'GET', path: '/livez' })).status, 200)
    server.child.kill('SIGTERM')
    assert.equal(await server.exited, 0)
  })

  describe('a worker that cannot start', () => {
    test('when the port is taken, then the primary stops every worker and exits 1 with one line naming the port', async (t) => {
      const port = await takenPort(t)

      const result = await runCli(['--workers', '2', '--port', String(port), '--db', 'memory:'])

      assert.equal(result.code, 1)
      assert.equal(result.stderr, `addrservice: cannot listen on 127.0.0.1:${String(port)} (EADDRINUSE)\n`)
      const lines = jsonLines(result.stdout)
      const primary = lines.find((line) => line.msg === 'STARTING')?.pid
      assert.ok(lines.some((line) => line.msg === 'a worker could not start; stopping the others' && line.pid === primary))
      assert.ok(!lines.some((line) => line.msg === 'worker died; starting a replacement'), 'no worker was replaced')
      const workers = workerPids(lines, primary)
      assert.equal(workers.size, 2)
      for (const pid of workers) assert.equal(isRunning(pid), false, `worker ${String(pid)} has exited`)
    })

    test('when the SQLite file cannot be opened, then the primary exits 1 with one line giving the reason', async (t) => {
      const notAFolder = join(tempDir(t), 'a-file')
      writeFileSync(notAFolder, '')
      const db = `sqlite:${join(notAFolder, 'addressbook.db')}`

      const result = await runCli(['--workers', '2', '--port', '0', '--db', db])

      assert.equal(result.code, 1)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      assert.match(result.stderr, new RegExp(`^addrservice: cannot open the store ${db}: E[A-Z]+`))
      const lines = jsonLines(result.stdout)
      const workers = workerPids(lines, lines.find((line) => line.msg === 'STARTING')?.pid)
      assert.equal(workers.size, 2)
      for (const pid of workers) assert.equal(isRunning(pid), false, `worker ${String(pid)} has exited`)
    })
  })

  test('when Ctrl-C reaches the whole process group, then a request in flight completes, every worker stops cleanly and the exit is 0', async (t) => {
    const server = await startServer(['--workers', '2', '--db', 'memory:'], undefined, undefined, { detached: true })
    const primary = Number(server.child.pid)
    t.after(() => {
      if (isRunning(primary)) process.kill(-primary, 'SIGKILL')
    })
    await until('two workers listening', () => (pidsListening(server).size >= 2 ? true : undefined))
    const workers = [...pidsListening(server)]
    const shuttingDown = () => server.logLines().filter((line) => line.msg === 'SHUTTING DOWN')
    const post = slowPost(server.baseUrl, JSON.stringify(anEntry()))
    await post.inFlight

    // The workers get the SIGINT before the primary reacts to it, as under load: the primary is
    // stopped until they have had time to act on it. Then it asks each to drain, and the request
    // is still in flight a while after that.
    process.kill(primary, 'SIGSTOP')
    process.kill(-primary, 'SIGINT')
    await setTimeout(300)
    const beforeThePrimary = shuttingDown().length
    process.kill(primary, 'SIGCONT')
    await until('every worker shutting down', () => (workers.every((pid) => shuttingDown().some((line) => line.pid === pid)) ? true : undefined))
    await setTimeout(300)
    post.finish()

    assert.equal(beforeThePrimary, 0, 'no worker acted on the SIGINT itself')
    assert.equal(await post.status, 201)
    assert.equal(await server.exited, 0)
    const lines = server.logLines()
    for (const pid of workers) {
      assert.ok(lines.some((line) => line.msg === 'STOPPED' && line.pid === pid), `worker ${String(pid)} logged STOPPED`)
      const stopped = lines.find((line) => line.msg === 'worker stopped' && line.worker_pid === pid)
      assert.deepEqual([stopped?.code, stopped?.signal], [0, null], `worker ${String(pid)} exited 0`)
    }
    assert.ok(lines.some((line) => line.msg === 'STOPPED' && line.pid === primary))
  })

  describe('on PostgreSQL', { skip: POSTGRES_SKIP }, () => {
    const postgres = POSTGRES_SKIP ? undefined : useTestPostgres()

    test('when two workers serve PostgreSQL, then the same holds', async (t) => {
      assert.ok(postgres)
      await exerciseWorkers(t, await postgres.freshSchemaUrl(t))
    })
  })
})
