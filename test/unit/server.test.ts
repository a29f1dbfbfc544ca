import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { pino, type Logger } from 'pino'
import { DEFAULT_CONFIG } from '../../src/config/load.js'
import type { Config } from '../../src/config/settings.js'
import { checkServeConfig, startServer, StartupError, type RunningServer } from '../../src/server.js'
import { testConfig } from '../helpers/factories.js'
import { httpRequest } from '../helpers/http-client.js'
import { capturingLogger } from '../helpers/logger.js'

const silent = (): Logger => pino({ level: 'silent' })


/** A configuration for port 0 on `host`, with any auth mode and overrides. */
function configFor(host: string, { mode = null, ...overrides }: { mode?: Config['auth']['mode'] } & Parameters<typeof testConfig>[0] = {}): Config {
  return testConfig({ ...overrides, server: { host, port: 0, ...overrides.server }, auth: { ...DEFAULT_CONFIG.auth, mode } })
}

/** Starts the service and closes it when the test ends (unless the test closed it first). */
async function started(t: TestContext, config: Config, logger: Logger = silent(), storeDir?: string): Promise<RunningServer> {
  const running = await startServer(config, logger)
  t.after(async () => {
    if (running.app.server.listening) await running.close()
    // A store's directory goes only once the server, and the SQLite writer thread with it, has
    // closed: a writer still booting would find its directory gone.
    if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true })
  })
  return running
}

/** The StartupError the start fails with; a service that starts after all is closed and the test fails. */
async function refusal(config: Config): Promise<StartupError> {
  let running: RunningServer
  try {
    running = await startServer(config, silent())
  } catch (error) {
    assert.ok(error instanceof StartupError, String(error))
    return error
  }
  await running.close()
  assert.fail(`it started at ${running.url}`)
}

/** A self-signed certificate for 127.0.0.1 and its key, in a directory removed when the test ends. */
function aCertificate(t: TestContext): { certFile: string; keyFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-tls-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' })
  return { certFile, keyFile }
}

function httpsGet(url: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${url}${path}`, { method, rejectUnauthorized: false, headers: { depth: '0' } }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body })
      })
    })
    request.on('error', reject)
    request.end()
  })
}

async function takenPort(t: TestContext): Promise<number> {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  return (blocker.address() as AddressInfo).port
}

describe('startServer', () => {
  test('when it starts, then its url answers /livez, and close() releases the port', async (t) => {
    const running = await started(t, configFor('127.0.0.1'))
    const { port } = new URL(running.url)

    const live = await httpRequest(running.url, { method: 'GET', path: '/livez' })
    await running.close()

    assert.equal(live.status, 200)
    const again = createServer()
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject)
      again.listen(Number(port), '127.0.0.1', resolve)
    })
    await new Promise((resolve) => again.close(resolve))
  })

  test('when the port is taken, then StartupError with exit code 1 naming host:port', async (t) => {
    const port = await takenPort(t)

    const error = await refusal(configFor('127.0.0.1', { server: { port } }))

    assert.equal(error.exitCode, 1)
    assert.equal(error.message, `cannot listen on 127.0.0.1:${String(port)} (EADDRINUSE)`)
  })

  test('when the host is not loopback and auth.mode is unset, then the check before starting throws StartupError with exit code 2 and one line telling how to choose', () => {
    let error: unknown
    try {
      checkServeConfig(configFor('0.0.0.0'))
    } catch (thrown) {
      error = thrown
    }

    assert.ok(error instanceof StartupError, String(error))
    assert.equal(error.exitCode, 2)
    assert.doesNotMatch(error.message, /\n/)
    assert.match(error.message, /0\.0\.0\.0/)
    assert.match(error.message, /auth\.mode: api-key, jwt, or an explicit none/)
  })

  test('when the host is 0.0.0.0 and auth.mode is an explicit none, then it passes the check and starts', async (t) => {
    const config = configFor('0.0.0.0', { mode: 'none' })
    checkServeConfig(config)
    const running = await started(t, config)

    const live = await httpRequest(running.url, { method: 'GET', path: '/livez' })

    assert.equal(live.status, 200)
  })

  test('when debug is on and the host is not loopback, then a warning says stack traces reach beyond this machine', async (t) => {
    const { lines, logger } = capturingLogger()

    await started(t, configFor('0.0.0.0', { mode: 'none', debug: true }), logger)

    const warning = lines.find((line) => line.level === 40 && String(line.msg).includes('debug mode'))
    assert.ok(warning, JSON.stringify(lines))
    assert.equal(warning.host, '0.0.0.0')
  })

  test('when debug is on and the host is loopback, then there is no such warning', async (t) => {
    const { lines, logger } = capturingLogger()

    await started(t, configFor('127.0.0.1', { debug: true }), logger)

    assert.ok(lines.some((line) => String(line.msg).startsWith('Server listening at ')), 'the logger was used')
    assert.ok(!lines.some((line) => String(line.msg).includes('debug mode')))
  })

  describe('with server.tls', () => {
    test('when a certificate and key are configured, then the API and CardDAV are served over HTTPS', async (t) => {
      const { certFile, keyFile } = aCertificate(t)
      const config = configFor('127.0.0.1', { mode: 'none' })
      const running = await started(t, { ...config, server: { ...config.server, tls: { certFile, keyFile } } })

      const live = await httpsGet(running.url, '/livez')
      const dav = await httpsGet(running.url, '/dav/', 'PROPFIND')

      assert.match(running.url, /^https:\/\//)
      assert.equal(live.status, 200)
      assert.equal(dav.status, 207)
    })

    test('when the key file cannot be read, then StartupError with exit code 2 naming the setting', async (t) => {
      const { certFile } = aCertificate(t)
      const config = configFor('127.0.0.1', { mode: 'none' })

      const error = await refusal({ ...config, server: { ...config.server, tls: { certFile, keyFile: '/nonexistent/key.pem' } } })

      assert.equal(error.exitCode, 2)
      assert.equal(error.message, 'invalid configuration: server.tls.key-file: cannot be used (ENOENT)')
    })
  })

  describe('with authentication on', () => {
    /** A configuration with a SQLite store in a directory of its own, which `started` removes. */
    function apiKeyConfig(metricsPort: number | null): { config: Config; dir: string } {
      const dir = mkdtempSync(join(tmpdir(), 'addrservice-test-'))
      const config = testConfig({
        store: { kind: 'sqlite', path: join(dir, 'addressbook.db') },
        server: { ...DEFAULT_CONFIG.server, port: 0 },
        auth: { ...DEFAULT_CONFIG.auth, mode: 'api-key' },
        metrics: { enabled: true, port: metricsPort, host: '127.0.0.1' },
      })
      return { config, dir }
    }

    test('when metrics have no port of their own, then /metrics is not served on the API port, a warning says so, and the API needs credentials', async (t) => {
      const { lines, logger } = capturingLogger('warn')
      const { config, dir } = apiKeyConfig(null)
      const running = await started(t, config, logger, dir)

      const metrics = await httpRequest(running.url, { method: 'GET', path: '/metrics' })
      const addresses = await httpRequest(running.url, { method: 'GET', path: '/addresses' })

      assert.equal(metrics.status, 404)
      assert.equal(addresses.status, 401)
      assert.ok(lines.some((line) => String(line.msg).includes('metrics are not served on the API port')))
    })

    test('when metrics have a port of their own, then they are served there on metrics.host, auth failures counted', async (t) => {
      const port = await freePort()
      const { config, dir } = apiKeyConfig(port)
      const running = await started(t, config, silent(), dir)
      await httpRequest(running.url, { method: 'GET', path: '/addresses' })

      const metrics = await httpRequest(`http://127.0.0.1:${String(port)}`, { method: 'GET', path: '/metrics' })

      assert.equal(running.metricsUrl, `http://127.0.0.1:${String(port)}`)
      assert.equal(metrics.status, 200)
      assert.match(metrics.body, /addrservice_auth_failures_total\{reason="missing credentials"\} 1/)
    })

    test('when the JWT public key file cannot be read, then StartupError with exit code 2 naming the setting', async () => {
      const config = testConfig({
        server: { ...DEFAULT_CONFIG.server, port: 0 },
        auth: { ...DEFAULT_CONFIG.auth, mode: 'jwt', jwt: { ...DEFAULT_CONFIG.auth.jwt, publicKeyFile: '/nonexistent/idp.pem', issuer: 'i', audience: 'a' } },
      })

      const error = await refusal(config)

      assert.equal(error.exitCode, 2)
      assert.equal(error.message, 'invalid configuration: auth.jwt.public-key-file: cannot be used (ENOENT)')
    })
  })
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
