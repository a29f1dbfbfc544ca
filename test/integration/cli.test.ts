import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { aFullEntry } from '../helpers/factories.js'
import { httpRequest } from '../helpers/http-client.js'
import { cleanEnv, runCli, startServer, until } from '../helpers/server-process.js'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-cli-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

const messages = (lines: Record<string, unknown>[]) => lines.map((line) => line.msg)

describe('the addrservice command', () => {
  test('when it serves, is stopped with SIGTERM and restarted, then it exits 0 and the data is still there', async (t) => {
    const db = join(tempDir(t), 'nested', 'addressbook.db')
    const first = await startServer(['--db', `sqlite:${db}`])
    t.after(() => first.child.kill('SIGKILL'))

    const created = await httpRequest(first.baseUrl, { method: 'POST', path: '/addresses', body: JSON.stringify(aFullEntry()) })
    assert.equal(created.status, 201)
    first.child.kill('SIGTERM')

    assert.equal(await first.exited, 0)
    const logged = messages(first.logLines())
    assert.ok(logged.includes('STARTING') && logged.includes('SHUTTING DOWN') && logged.includes('STOPPED'), String(logged))
    const starting = first.logLines().find((line) => line.msg === 'STARTING')
    assert.deepEqual(
      { service: starting?.service, host: starting?.host, store: starting?.store },
      { service: 'addrservice', host: '127.0.0.1', store: `sqlite:${db}` },
    )
    const requestLine = first.logLines().find((line) => line.method === 'POST')
    assert.ok(requestLine)
    assert.equal(requestLine.status, 201)
    assert.equal(requestLine.req_id, created.headers['x-request-id'])

    const second = await startServer(['--db', `sqlite:${db}`])
    t.after(() => second.child.kill('SIGKILL'))
    const read = await httpRequest(second.baseUrl, { method: 'GET', path: String(created.headers.location) })
    second.child.kill('SIGINT')

    assert.equal(read.status, 200)
    assert.deepEqual(JSON.parse(read.body), aFullEntry())
    assert.equal(await second.exited, 0)
  })

  test('when SIGTERM arrives during a request, then the request still completes before the exit', async (t) => {
    const server = await startServer(['--db', 'memory:'])
    t.after(() => server.child.kill('SIGKILL'))
    const body = JSON.stringify(aFullEntry())
    const url = new URL('/addresses', server.baseUrl)

    const response = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.write(body.slice(0, 10))
      setTimeout(() => {
        server.child.kill('SIGTERM')
        setTimeout(() => req.end(body.slice(10)), 300)
      }, 200)
    })

    assert.equal(await response, 201)
    assert.equal(await server.exited, 0)
  })

  test('when a configuration file is given, then its service name, store and logging apply', async (t) => {
    const dir = tempDir(t)
    const config = join(dir, 'config.yaml')
    const log = join(dir, 'logs', 'service.log')
    writeFileSync(config, `service:\n  name: contacts\naddr-db:\n  memory: null\nlogging:\n  level: info\n  file: ${log}\n`)

    const server = await startServer(['-c', config], cleanEnv(), log)
    t.after(() => server.child.kill('SIGKILL'))
    server.child.kill('SIGTERM')
    await server.exited

    const lines = server.logLines()
    assert.ok(lines.length >= 3)
    assert.ok(lines.every((line) => line.name === 'contacts'))
    assert.equal(lines.find((line) => line.msg === 'STARTING')?.store, 'memory')
    assert.ok(messages(lines).includes('STOPPED'))
  })

  test('when SIGTERM arrives with a shutdown delay, then readiness turns 503 first while the API still serves', async (t) => {
    const config = join(tempDir(t), 'config.yaml')
    writeFileSync(config, 'server: {shutdown-delay-ms: 1500}\naddr-db: {memory: null}\nmetrics: {port: 0}\n')
    const server = await startServer(['-c', config])
    t.after(() => server.child.kill('SIGKILL'))
    assert.equal((await httpRequest(server.baseUrl, { method: 'GET', path: '/readyz' })).status, 200)

    server.child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const ready = await httpRequest(server.baseUrl, { method: 'GET', path: '/readyz' })
    const live = await httpRequest(server.baseUrl, { method: 'GET', path: '/livez' })
    const api = await httpRequest(server.baseUrl, { method: 'GET', path: '/addresses' })

    assert.deepEqual([ready.status, live.status, api.status], [503, 200, 200])
    assert.equal(await server.exited, 0)
  })

  test('when metrics have a port of their own, then /metrics is served there and not on the API port', async (t) => {
    const config = join(tempDir(t), 'config.yaml')
    writeFileSync(config, 'addr-db: {memory: null}\nmetrics: {port: 0}\n')
    const server = await startServer(['-c', config])
    t.after(() => server.child.kill('SIGKILL'))
    await httpRequest(server.baseUrl, { method: 'POST', path: '/addresses', body: JSON.stringify(aFullEntry()) })

    const url = String(await until('the metrics port', () => server.logLines().find((line) => line.msg === 'metrics listening')?.url))
    const metrics = await httpRequest(url, { method: 'GET', path: new URL(url).pathname })
    const onApi = await httpRequest(server.baseUrl, { method: 'GET', path: '/metrics' })
    server.child.kill('SIGTERM')

    assert.equal(metrics.status, 200)
    assert.match(metrics.body, /http_request_duration_seconds_count\{method="POST",route="\/addresses",status_code="201"\} 1/)
    assert.match(metrics.body, /addrservice_store_operation_duration_seconds_count\{operation="create",outcome="ok"\} 1/)
    assert.match(metrics.body, /process_cpu_seconds_total/)
    assert.equal(onApi.status, 404)
    assert.equal(await server.exited, 0)
  })

  test('when the port is not a number, then it exits 2 with one line naming --port', async () => {
    const result = await runCli(['--port', 'eighty'])

    assert.equal(result.code, 2)
    assert.equal(result.stderr.trim().split('\n').length, 1)
    assert.match(result.stderr, /--port/)
    assert.doesNotMatch(result.stderr, /\s+at /)
  })

  test('when the environment has a bad value, then it exits 2 naming the variable', async () => {
    const result = await runCli([], cleanEnv({ ADDRSERVICE_DB: 'oracle://db' }))

    assert.equal(result.code, 2)
    assert.match(result.stderr, /^addrservice: invalid configuration: ADDRSERVICE_DB/)
  })

  test('when the config file has a bad value, then it exits 2 with one line naming the key', async (t) => {
    const config = join(tempDir(t), 'bad.yaml')
    writeFileSync(config, 'server:\n  port: 99999\n')

    const result = await runCli(['--config', config])

    assert.equal(result.code, 2)
    assert.equal(result.stderr.trim().split('\n').length, 1)
    assert.match(result.stderr, /server\.port/)
  })

  test('when the shutdown delay is not below the shutdown timeout, then it exits 2 with one line naming the key', async (t) => {
    const config = join(tempDir(t), 'config.yaml')
    writeFileSync(config, 'server: {shutdown-timeout-ms: 1000, shutdown-delay-ms: 1000}\naddr-db: {memory: null}\n')

    const result = await runCli(['--config', config])

    assert.equal(result.code, 2)
    assert.equal(result.stderr.trim().split('\n').length, 1)
    assert.match(result.stderr, /^addrservice: invalid configuration: server\.shutdown-delay-ms.*below server\.shutdown-timeout-ms/)
  })

  test('when the config file is missing, then it exits 2 with one line', async () => {
    const result = await runCli(['--config', '/nonexistent/addrservice.yaml'])

    assert.equal(result.code, 2)
    assert.equal(result.stderr.trim().split('\n').length, 1)
    assert.match(result.stderr, /nonexistent\/addrservice\.yaml/)
  })

  test('when an option is unknown, then it exits 2 and points to --help', async () => {
    const result = await runCli(['--frobnicate'])

    assert.equal(result.code, 2)
    assert.match(result.stderr, /--frobnicate.*see --help/)
  })

  test('when the store cannot be opened, then it exits 1 with one line', async (t) => {
    const dir = tempDir(t)
    const result = await runCli(['--port', '0', '--db', `sqlite:${dir}`])

    assert.equal(result.code, 1)
    assert.match(result.stderr, /^addrservice: cannot open the store/)
    assert.equal(result.stderr.trim().split('\n').length, 1)
  })

  test('when the host is not loopback and no auth mode is chosen, then it exits 2 with one line telling how to choose', async () => {
    const result = await runCli(['--port', '0', '--host', '0.0.0.0', '--db', 'memory:'])

    assert.equal(result.code, 2)
    assert.equal(result.stderr.trim().split('\n').length, 1)
    assert.match(result.stderr, /^addrservice: refusing to listen on 0\.0\.0\.0 .*auth\.mode: api-key, jwt, or an explicit none/)
  })

  test('when the host is not loopback and auth none is chosen, then it serves', async (t) => {
    const server = await startServer(['--host', '0.0.0.0', '--auth', 'none', '--db', 'memory:'])
    t.after(() => server.child.kill('SIGKILL'))

    const live = await httpRequest(server.baseUrl, { method: 'GET', path: '/livez' })
    server.child.kill('SIGTERM')

    assert.equal(live.status, 200)
    assert.equal(server.logLines().find((line) => line.msg === 'STARTING')?.host, '0.0.0.0')
    assert.equal(await server.exited, 0)
  })

  test('when the PostgreSQL URL carries ?password=, then no log line and nothing on stderr repeats it', async (t) => {
    // Nothing listens on port 1: the service stays up and answers 503, logging why.
    const server = await startServer(['--db', 'postgres://u@127.0.0.1:1/db?password=hunter2'])
    t.after(() => server.child.kill('SIGKILL'))

    const api = await httpRequest(server.baseUrl, { method: 'GET', path: '/addresses' })
    const ready = await httpRequest(server.baseUrl, { method: 'GET', path: '/readyz' })
    await until('the failed request logged', () => server.logLines().find((line) => line.msg === 'request failed'))
    server.child.kill('SIGTERM')
    assert.equal(await server.exited, 0)

    assert.deepEqual([api.status, api.headers['retry-after'], ready.status], [503, '2', 503])
    const lines = server.logLines()
    assert.equal(lines.find((line) => line.msg === 'STARTING')?.store, 'postgres:postgres://u@127.0.0.1:1/db?password=***')
    assert.ok(lines.some((line) => line.msg === 'the store is not ready yet; requests get 503 until it is'))
    const leaking = lines.filter((line) => JSON.stringify(line).includes('hunter2'))
    assert.deepEqual(leaking, [])
    assert.doesNotMatch(server.stderr(), /hunter2/)
  })

  for (const workers of ['1', '2']) {
    test(`when the metrics port is taken (workers: ${workers}), then it exits 1 with one line naming it`, async (t) => {
      const blocker = createServer()
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
      t.after(() => blocker.close())
      const taken = (blocker.address() as AddressInfo).port
      const config = join(tempDir(t), 'config.yaml')
      writeFileSync(config, `addr-db: {memory: null}\nmetrics: {port: ${String(taken)}}\n`)

      const result = await runCli(['--port', '0', '--workers', workers, '-c', config])

      assert.equal(result.code, 1)
      assert.equal(result.stderr.trim(), `addrservice: cannot listen on 127.0.0.1:${String(taken)} (EADDRINUSE)`)
    })
  }

  test('when --help is asked for, then usage goes to stdout and it exits 0', async () => {
    const result = await runCli(['--help'])

    assert.equal(result.code, 0)
    assert.match(result.stdout, /^Usage: addrservice/)
    for (const flag of ['--port', '--host', '--config', '--db', '--debug', '--version']) assert.match(result.stdout, new RegExp(flag))
  })

  test('when --version is asked for, then it prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

    const result = await runCli(['-v'])

    assert.equal(result.code, 0)
    assert.equal(result.stdout.trim(), `addrservice ${version}`)
  })
})
