import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { ConfigError, DEFAULT_CONFIG, loadConfig, type ConfigFlags } from '../../src/config/load.js'
import { listSettings } from '../../src/config/settings.js'
import { USAGE } from '../../src/usage.js'

function yamlFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-config-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const file = join(dir, 'config.yaml')
  writeFileSync(file, text)
  return file
}

function load(flags: ConfigFlags = {}, env: Record<string, string> = {}) {
  return loadConfig({ flags, env })
}

/** Asserts that loading fails with a ConfigError whose key and problem match. */
function assertConfigError(run: () => unknown, key: string | RegExp, problem = /./): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error))
    if (typeof key === 'string') assert.equal(error.key, key)
    else assert.match(error.key, key)
    assert.match(error.problem, problem)
    assert.ok(!error.message.includes('\n'))
    return true
  })
}

/** What a row of the settings table says: the code spans of its environment, flag and default cells. */
interface SettingRow {
  environment: string[]
  flags: string[]
  defaults: string[]
}

const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '')

/** The rows of the table `| YAML key | Environment | Flag | Default | Meaning |`, by YAML key. */
function settingRows(markdown: string): Map<string, SettingRow> {
  const rows = new Map<string, SettingRow>()
  for (const line of markdown.split('\n').filter((text) => text.startsWith('| `'))) {
    const cells = line.split('|').slice(1, -1)
    assert.equal(cells.length, 5, `a settings row has five cells: ${line}`)
    const [key = '', environment = '', flag = '', defaults = ''] = cells
    const [path = ''] = codeSpans(key)
    assert.ok(!rows.has(path), `${path} has two rows`)
    rows.set(path, { environment: codeSpans(environment), flags: codeSpans(flag), defaults: codeSpans(defaults) })
  }
  return rows
}

describe('loadConfig', () => {
  test('when nothing is given, then the built-in defaults', () => {
    assert.deepEqual(load(), DEFAULT_CONFIG)
    assert.deepEqual(DEFAULT_CONFIG.store, { kind: 'sqlite', path: './var/addressbook.db' })
    assert.equal(DEFAULT_CONFIG.server.port, 8080)
    assert.equal(DEFAULT_CONFIG.server.host, '127.0.0.1')
    assert.equal(DEFAULT_CONFIG.server.bodyLimit, 65536)
  })

  test('when the shipped local config is loaded, then it equals the defaults', () => {
    assert.deepEqual(load({ config: 'configs/addressbook-local.yaml' }), DEFAULT_CONFIG)
  })

  test('when a file sets every key, then each applies', (t) => {
    const file = yamlFile(
      t,
      [
        'service: {name: contacts}',
        'debug: true',
        'server:',
        '  host: 0.0.0.0',
        '  port: 9000',
        '  body-limit: 2048',
        '  request-timeout-ms: 5000',
        '  headers-timeout-ms: 4000',
        '  keep-alive-timeout-ms: 1000',
        '  shutdown-timeout-ms: 3000',
        '  shutdown-delay-ms: 500',
        '  trust-proxy: 127.0.0.1,10.0.0.0/8',
        '  tls:',
        '    cert-file: /etc/addrservice/cert.pem',
        '    key-file: /etc/addrservice/key.pem',
        'addr-db: {memory: null}',
        'metrics: {enabled: false, port: 9464}',
        'logging: {level: debug, format: pretty, file: /tmp/x.log}',
      ].join('\n'),
    )

    assert.deepEqual(load({ config: file }), {
      ...DEFAULT_CONFIG,
      service: { name: 'contacts' },
      debug: true,
      server: {
        host: '0.0.0.0',
        port: 9000,
        bodyLimit: 2048,
        requestTimeoutMs: 5000,
        headersTimeoutMs: 4000,
        keepAliveTimeoutMs: 1000,
        shutdownTimeoutMs: 3000,
        shutdownDelayMs: 500,
        trustProxy: '127.0.0.1,10.0.0.0/8',
        tls: { certFile: '/etc/addrservice/cert.pem', keyFile: '/etc/addrservice/key.pem' },
      },
      store: { kind: 'memory' },
      metrics: { enabled: false, port: 9464, host: '127.0.0.1' },
      logging: { level: 'debug', format: 'pretty', file: '/tmp/x.log' },
    })
  })

  test('when a file is empty, then the defaults', (t) => {
    assert.deepEqual(load({ config: yamlFile(t, '# nothing here\n') }), DEFAULT_CONFIG)
  })

  test('when layers disagree, then flags beat the environment, which beats the file', (t) => {
    const file = yamlFile(t, 'server: {host: file-host, port: 1111}\naddr-db: {sqlite: file.db}\nlogging: {level: error}\n')
    const env = { ADDRSERVICE_PORT: '2222', ADDRSERVICE_HOST: 'env-host', ADDRSERVICE_DB: 'sqlite:env.db', ADDRSERVICE_LOG_LEVEL: 'warn' }

    const fromEnv = load({ config: file }, env)
    const fromFlags = load({ config: file, port: '3333', host: 'flag-host', db: 'memory:' }, env)

    assert.deepEqual([fromEnv.server.port, fromEnv.server.host, fromEnv.store, fromEnv.logging.level], [2222, 'env-host', { kind: 'sqlite', path: 'env.db' }, 'warn'])
    assert.deepEqual([fromFlags.server.port, fromFlags.server.host, fromFlags.store], [3333, 'flag-host', { kind: 'memory' }])
  })

  test('when an environment variable is empty, then it counts as unset', () => {
    assert.equal(load({}, { ADDRSERVICE_PORT: '' }).server.port, 8080)
  })

  test('when workers are asked for, then each layer can set them, and auto means one per CPU', (t) => {
    const file = yamlFile(t, 'workers: 3\n')

    assert.equal(load().workers, 1)
    assert.equal(load({ config: file }).workers, 3)
    assert.equal(load({ config: file }, { ADDRSERVICE_WORKERS: '4' }).workers, 4)
    assert.equal(load({ workers: '2' }, { ADDRSERVICE_WORKERS: '4' }).workers, 2)
    assert.equal(load({ workers: 'auto' }).workers, availableParallelism())
    assert.equal(load({ config: yamlFile(t, 'workers: auto\n') }).workers, availableParallelism())
  })

  test('when server.tls names a certificate but no key, then ConfigError names the missing one', (t) => {
    assertConfigError(() => load({ config: yamlFile(t, 'server:\n  tls:\n    cert-file: /etc/cert.pem\n') }), 'server.tls.key-file', /both/)
  })

  for (const [workers, key] of [['0', '--workers'], ['many', '--workers'], ['257', '--workers']] as const) {
    test(`when --workers is ${workers}, then a ConfigError names ${key}`, () => {
      assertConfigError(() => load({ workers }), key)
    })
  }

  test('when --debug is given, then debug is on', () => {
    assert.equal(load({ debug: true }).debug, true)
    assert.equal(load({ debug: false }).debug, false)
  })

  test('when port 0 is asked for, then it is accepted (a free port)', () => {
    assert.equal(load({ port: '0' }).server.port, 0)
  })

  for (const [url, store] of [
    ['memory:', { kind: 'memory' }],
    ['memory://', { kind: 'memory' }],
    ['sqlite:./var/x.db', { kind: 'sqlite', path: './var/x.db' }],
    ['sqlite:/abs/x.db', { kind: 'sqlite', path: '/abs/x.db' }],
    ['sqlite:///abs/x.db', { kind: 'sqlite', path: '/abs/x.db' }],
  ] as const) {
    test(`when the store URL is ${url}, then ${JSON.stringify(store)}`, () => {
      assert.deepEqual(load({ db: url }).store, store)
    })
  }

  for (const url of ['postgres://app:pw@db.internal:5432/contacts', 'postgresql://localhost/contacts']) {
    test(`when the store URL is ${url.replace('pw', '…')}, then a PostgreSQL store`, () => {
      assert.deepEqual(load({ db: url }).store, { kind: 'postgres', url })
      assert.deepEqual(load({}, { DATABASE_URL: url }).store, { kind: 'postgres', url })
    })
  }

  test('when both DATABASE_URL and ADDRSERVICE_DB are set, then ADDRSERVICE_DB wins', () => {
    const config = load({}, { DATABASE_URL: 'postgres://db/one', ADDRSERVICE_DB: 'memory:' })

    assert.deepEqual(config.store, { kind: 'memory' })
  })

  test('when the file names a PostgreSQL store and pool settings, then both apply', (t) => {
    const file = yamlFile(t, 'addr-db: {postgres: "postgres://db/contacts"}\npostgres: {pool-size: 20, statement-timeout-ms: 2000, connect-timeout-ms: 1500}\n')

    const config = load({ config: file })

    assert.deepEqual(config.store, { kind: 'postgres', url: 'postgres://db/contacts' })
    assert.deepEqual(config.postgres, { poolSize: 20, statementTimeoutMs: 2000, connectTimeoutMs: 1500 })
  })

  test('when a bad store URL carries credentials, then the error does not repeat them', () => {
    assertConfigError(() => load({ db: 'mysql://root:hunter2@db/x' }), '--db', /^(?!.*hunter2)/)
  })

  for (const url of ['sqlite:', 'sqlite://host/x.db', 'memory', 'nonsense']) {
    test(`when the store URL is ${url}, then a ConfigError names its source`, () => {
      assertConfigError(() => load({ db: url }), '--db', /memory:, sqlite:PATH or postgres:\/\/HOST\/DB/)
      assertConfigError(() => load({}, { ADDRSERVICE_DB: url }), 'ADDRSERVICE_DB')
    })
  }

  for (const yaml of ['addr-db: {postgres: x}', 'addr-db: {postgres: "mysql://db/x"}', 'addr-db: {memory: 1}', 'addr-db: {sqlite: ""}', 'addr-db: {}', 'addr-db: [memory]', 'addr-db: {memory: null, sqlite: x.db}', 'addr-db: 42']) {
    test(`when the file says ${yaml}, then a ConfigError names addr-db in the file`, (t) => {
      const file = yamlFile(t, `${yaml}\n`)

      assertConfigError(() => load({ config: file }), `addr-db (in ${file})`)
    })
  }

  for (const [name, flags, env, key] of [
    ['a port that is not a number', { port: 'eighty' }, {}, '--port'],
    ['a port out of range', { port: '65536' }, {}, '--port'],
    ['a negative port', {}, { ADDRSERVICE_PORT: '-1' }, 'ADDRSERVICE_PORT'],
    ['an unknown log level', {}, { ADDRSERVICE_LOG_LEVEL: 'loud' }, 'ADDRSERVICE_LOG_LEVEL'],
    ['a host longer than a host name can be', { host: 'h'.repeat(256) }, {}, '--host'],
  ] as const) {
    test(`when given ${name}, then a ConfigError names ${key}`, () => {
      assertConfigError(() => load(flags, env), key)
    })
  }

  for (const [yaml, key, problem] of [
    ['server: {port: 99999}', 'server.port', /<= 65535.*\(got 99999\)/],
    ['server: {port: "8080"}', 'server.port', /integer/],
    ['server: {body-limit: 10}', 'server.body-limit', />= 1024/],
    ['server: {request-timeout-ms: 0}', 'server.request-timeout-ms', />= 1/],
    ['server: {prot: 8080}', 'server.prot', /./],
    ['logging: {format: xml}', 'logging.format', /./],
    ['logging: {file: ""}', 'logging.file', /./],
    ['servr: {port: 1}', 'servr', /./],
    ['debug: yes please', 'debug', /boolean/],
    ['service: {name: ""}', 'service.name', /./],
    ['postgres: {pool-size: 0}', 'postgres.pool-size', />= 1/],
    ['metrics: {port: 70000}', 'metrics.port', /./],
    ['metrics: {enabled: "no"}', 'metrics.enabled', /boolean/],
    ['server: {shutdown-delay-ms: -1}', 'server.shutdown-delay-ms', />= 0/],
  ] as const) {
    test(`when the file has ${yaml}, then a ConfigError names ${key} in the file`, (t) => {
      const file = yamlFile(t, `${yaml}\n`)

      assertConfigError(() => load({ config: file }), `${key} (in ${file})`, problem)
    })
  }

  test('when the headers timeout is longer than the request timeout, then a ConfigError names it', (t) => {
    const file = yamlFile(t, 'server: {request-timeout-ms: 1000, headers-timeout-ms: 2000}\n')

    assertConfigError(() => load({ config: file }), 'server.headers-timeout-ms', /request-timeout-ms \(1000\)/)
  })

  test('when the file does not exist, then a ConfigError says so', () => {
    assertConfigError(() => load({ config: '/nonexistent/x.yaml' }), '--config /nonexistent/x.yaml', /no such file/)
  })

  test('when the file cannot be read, then a ConfigError says so', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-config-'))
    t.after(() => {
      rmSync(dir, { recursive: true, force: true })
    })

    assertConfigError(() => load({ config: dir }), `--config ${dir}`, /cannot be read/)
  })

  test('when the file is not YAML, then a ConfigError gives the line', (t) => {
    const file = yamlFile(t, 'server:\n  port: 1\n  host: [unclosed\n')

    assertConfigError(() => load({ config: file }), `--config ${file}`, /not valid YAML \(line \d+\)/)
  })

  for (const yaml of ['- a\n- b\n', 'just a string\n', '42\n']) {
    test(`when the file is ${JSON.stringify(yaml)}, then a ConfigError says it must be a mapping`, (t) => {
      const file = yamlFile(t, yaml)

      assertConfigError(() => load({ config: file }), `--config ${file}`, /mapping/)
    })
  }

  test('when the config is loaded, then it is deeply frozen', () => {
    const config = load()

    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.server) && Object.isFrozen(config.store) && Object.isFrozen(config.logging))
    assert.throws(() => {
      ;(config.server as { port: number }).port = 1
    }, TypeError)
  })

  test('when the shipped local config is read, then it spells out every setting', () => {
    const yaml = parseYaml(readFileSync('configs/addressbook-local.yaml', 'utf8')) as unknown

    for (const { path } of listSettings()) {
      let node: unknown = yaml
      for (const key of path.split('.')) {
        assert.ok(typeof node === 'object' && node !== null && Object.hasOwn(node, key), `configs/addressbook-local.yaml lacks ${path}`)
        node = (node as Record<string, unknown>)[key]
      }
    }
  })

  test('when the shutdown delay is not below the shutdown timeout, then a ConfigError names it', (t) => {
    const file = yamlFile(t, 'server: {shutdown-timeout-ms: 1000, shutdown-delay-ms: 1000}\n')

    assertConfigError(() => load({ config: file }), 'server.shutdown-delay-ms', /below server.shutdown-timeout-ms \(1000\)/)
  })

  describe('auth', () => {
    test('when nothing says, then the mode is unset, and each layer can choose one', (t) => {
      assert.equal(load().auth.mode, null)
      assert.equal(load({ config: yamlFile(t, 'auth: {mode: none}\n') }).auth.mode, 'none')
      const claims = yamlFile(t, 'auth: {jwt: {issuer: https://id.example, audience: addrservice}}\n')
      assert.equal(load({ config: claims }, { ADDRSERVICE_AUTH_MODE: 'jwt', ADDRSERVICE_JWT_SECRET: 's'.repeat(32) }).auth.mode, 'jwt')
      assert.equal(load({ auth: 'api-key' }, { ADDRSERVICE_AUTH_MODE: 'none' }).auth.mode, 'api-key')
    })

    test('when the mode is not one of the three, then a ConfigError names where it came from', () => {
      assertConfigError(() => load({ auth: 'password' }), '--auth')
      assertConfigError(() => load({}, { ADDRSERVICE_AUTH_MODE: 'basic' }), 'ADDRSERVICE_AUTH_MODE')
    })

    test('when api-key is asked for with the memory store, then a ConfigError says it needs a store that keeps keys', () => {
      assertConfigError(() => load({ auth: 'api-key', db: 'memory:' }), 'auth.mode', /keeps keys/)
    })

    test('when jwt has no key source, or two, then a ConfigError asks for exactly one', (t) => {
      const base = 'auth: {mode: jwt, jwt: {issuer: https://id.example, audience: addrservice'
      assertConfigError(() => load({ config: yamlFile(t, `${base}}}\n`) }), 'auth.jwt', /exactly one/)
      assertConfigError(
        () => load({ config: yamlFile(t, `${base}, jwks-url: "https://id.example/jwks", public-key-file: k.pem}}\n`) }),
        'auth.jwt',
        /got jwks-url, public-key-file/,
      )
    })

    test('when jwt lacks the issuer or the audience, then a ConfigError names the missing one', (t) => {
      assertConfigError(() => load({ config: yamlFile(t, 'auth: {mode: jwt, jwt: {jwks-url: "https://id.example/jwks", audience: a}}\n') }), 'auth.jwt.issuer', /required/)
      assertConfigError(() => load({ config: yamlFile(t, 'auth: {mode: jwt, jwt: {jwks-url: "https://id.example/jwks", issuer: i}}\n') }), 'auth.jwt.audience', /required/)
    })

    test('when the JWT secret comes from the environment, then it applies, and a short one is refused without repeating it', (t) => {
      const claims = yamlFile(t, 'auth: {jwt: {issuer: https://id.example, audience: addrservice}}\n')
      const config = load({ auth: 'jwt', config: claims }, { ADDRSERVICE_JWT_SECRET: 'x'.repeat(40), ADDRSERVICE_DB: 'memory:' })
      assert.equal(config.auth.jwt.secret, 'x'.repeat(40))

      assertConfigError(() => load({}, { ADDRSERVICE_JWT_SECRET: 'hunter2' }), 'ADDRSERVICE_JWT_SECRET', /^(?!.*hunter2)/)
    })
  })

  for (const [yaml, key] of [
    ['rate-limit: {max: 0}', 'rate-limit.max'],
    ['rate-limit: {redis: "http://cache:6379"}', 'rate-limit.redis'],
    ['cors: {origins: ["app.example.com"]}', 'cors.origins.0'],
    ['cors: {origins: "https://app.example.com"}', 'cors.origins'],
    ['auth: {key-cache-ms: 6000}', 'auth.key-cache-ms'],
    ['metrics: {host: ""}', 'metrics.host'],
  ] as const) {
    test(`when the file has ${yaml}, then a ConfigError names ${key}`, (t) => {
      const file = yamlFile(t, `${yaml}\n`)

      assertConfigError(() => load({ config: file }), `${key} (in ${file})`)
    })
  }
})

describe('docs/configuration.md', () => {
  const page = readFileSync('docs/configuration.md', 'utf8')
  const rows = settingRows(page)

  test('when it documents the settings, then each has one row with its variables, flag and default', () => {
    for (const { path, setting } of listSettings()) {
      const row = rows.get(path)
      assert.ok(row, `docs/configuration.md has no row for ${path}`)
      assert.deepEqual(row.environment.toSorted(), [...(setting.env ?? [])].sort(), `the variables of ${path}`)
      const flags = setting.flag ? [`--${setting.flag.name}`, ...(setting.flag.short ? [`-${setting.flag.short}`] : [])] : []
      assert.deepEqual(row.flags.toSorted(), flags.sort(), `the flags of ${path}`)
      assert.equal(row.defaults.length, 1, `${path} has one default, as YAML`)
      assert.deepEqual(parseYaml(row.defaults[0] ?? ''), setting.default, `the default of ${path}`)
    }
  })

  test('when it has a row, then the row is a setting', () => {
    const paths = new Set(listSettings().map(({ path }) => path))

    for (const path of rows.keys()) assert.ok(paths.has(path), `docs/configuration.md documents ${path}, which is no setting`)
  })

  test('when it shows the help, then it is the text --help prints', () => {
    assert.ok(page.includes(USAGE), 'docs/configuration.md does not show the help text of src/usage.ts')
  })
})
