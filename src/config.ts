import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { parse as parseYaml } from 'yaml'
import type { StoreConfig } from './storage/factory.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface ServerConfig {
  readonly host: string
  readonly port: number
  /** The largest request body accepted, in bytes, after decompression. */
  readonly bodyLimit: number
  readonly requestTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  /** How long in-flight requests may take to finish once shutdown starts. */
  readonly shutdownTimeoutMs: number
  /** How long readiness answers 503 before the listener closes, for load balancers to notice. */
  readonly shutdownDelayMs: number
  /**
   * Which proxies' X-Forwarded-For to believe for the client address in logs: false (none),
   * true (any), or a comma-separated list of addresses and CIDR ranges.
   */
  readonly trustProxy: boolean | string
}

export interface MetricsConfig {
  readonly enabled: boolean
  /** Serve /metrics on this port of its own; null serves it on the API's port. */
  readonly port: number | null
}

export interface LoggingConfig {
  readonly level: LogLevel
  readonly format: 'json' | 'pretty'
  /** Log to this file instead of standard output. */
  readonly file: string | null
}

export interface PostgresConfig {
  readonly poolSize: number
  readonly statementTimeoutMs: number
  readonly connectTimeoutMs: number
}

export interface Config {
  readonly serviceName: string
  /** Processes serving the port (node:cluster); 1 serves from this process alone. */
  readonly workers: number
  /** Error bodies carry stack traces. Never in production. */
  readonly debug: boolean
  readonly server: ServerConfig
  readonly store: StoreConfig
  /** Pool settings, used when the store is PostgreSQL. */
  readonly postgres: PostgresConfig
  readonly metrics: MetricsConfig
  readonly logging: LoggingConfig
}

/** The built-in defaults: those of configs/addressbook-local.yaml. */
export const DEFAULT_CONFIG: Config = deepFreeze({
  serviceName: 'addrservice',
  workers: 1,
  debug: false,
  server: {
    host: '127.0.0.1',
    port: 8080,
    bodyLimit: 64 * 1024,
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5_000,
    shutdownTimeoutMs: 10_000,
    shutdownDelayMs: 0,
    trustProxy: false,
  },
  store: { kind: 'sqlite', path: './var/addressbook.db' },
  postgres: { poolSize: 10, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000 },
  metrics: { enabled: true, port: null },
  logging: { level: 'info', format: 'json', file: null },
})

/** A configuration problem: `key` names where the bad value came from. */
export class ConfigError extends Error {
  constructor(readonly key: string, readonly problem: string) {
    super(`${key}: ${problem}`)
    this.name = 'ConfigError'
  }
}

const milliseconds = (maximum: number) => Type.Optional(Type.Integer({ minimum: 1, maximum }))

/** The YAML file's shape; every key is optional and falls back to the layer below. */
const FileConfig = Type.Object(
  {
    service: Type.Optional(
      Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) }, { additionalProperties: false }),
    ),
    debug: Type.Optional(Type.Boolean()),
    workers: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')])),
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          'body-limit': Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 })),
          'request-timeout-ms': milliseconds(3_600_000),
          'headers-timeout-ms': milliseconds(3_600_000),
          'keep-alive-timeout-ms': milliseconds(3_600_000),
          'shutdown-timeout-ms': milliseconds(3_600_000),
          'shutdown-delay-ms': Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
          'trust-proxy': Type.Optional(Type.Union([Type.Boolean(), Type.String({ minLength: 1, maxLength: 1000 })])),
        },
        { additionalProperties: false },
      ),
    ),
    'addr-db': Type.Optional(Type.Unknown()),
    postgres: Type.Optional(
      Type.Object(
        {
          'pool-size': Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          'statement-timeout-ms': milliseconds(3_600_000),
          'connect-timeout-ms': milliseconds(3_600_000),
        },
        { additionalProperties: false },
      ),
    ),
    metrics: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          port: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
    logging: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(Type.Enum([...LOG_LEVELS])),
          format: Type.Optional(Type.Enum(['json', 'pretty'])),
          file: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)
type FileConfig = Type.Static<typeof FileConfig>
const fileConfigValidator = Compile(FileConfig)

/** What the command line said; flags not given are undefined. */
export interface ConfigFlags {
  config?: string | undefined
  host?: string | undefined
  port?: string | undefined
  db?: string | undefined
  workers?: string | undefined
  debug?: boolean | undefined
}

export interface ConfigSources {
  flags: ConfigFlags
  env: Readonly<Record<string, string | undefined>>
}

/**
 * Builds the configuration: built-in defaults < YAML file < environment < command-line flags.
 * Every value is checked; the first bad one throws a ConfigError naming its key and source.
 */
export function loadConfig({ flags, env }: ConfigSources): Config {
  const layers: { label: (key: string) => string; values: FileConfig }[] = []
  if (flags.config !== undefined) {
    const file = flags.config
    layers.push({ label: (key) => `${key} (in ${file})`, values: readConfigFile(file) })
  }
  layers.push(...environmentLayers(env), ...flagLayers(flags))

  let config: Config = DEFAULT_CONFIG
  for (const { label, values } of layers) {
    const errors = [...fileConfigValidator.Errors(values)] as LayerError[]
    const first = errors.find((error) => error.instancePath !== '') ?? errors[0]
    if (first) {
      const key = first.instancePath.slice(1).replaceAll('/', '.') || 'the file'
      throw new ConfigError(label(key), describeProblem(first, valueAt(values, first.instancePath)))
    }
    config = applyLayer(config, values, label)
  }
  if (config.server.headersTimeoutMs > config.server.requestTimeoutMs) {
    throw new ConfigError(
      'server.headers-timeout-ms',
      `must not be more than server.request-timeout-ms (${String(config.server.requestTimeoutMs)})`,
    )
  }
  return deepFreeze(config)
}

function readConfigFile(file: string): FileConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'
    throw new ConfigError(`--config ${file}`, reason)
  }
  let values: unknown
  try {
    values = parseYaml(text, { maxAliasCount: 100 })
  } catch (error) {
    const where = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line
    throw new ConfigError(`--config ${file}`, `not valid YAML${where === undefined ? '' : ` (line ${String(where)})`}`)
  }
  if (values === null || values === undefined) return {}
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw new ConfigError(`--config ${file}`, 'must be a YAML mapping of settings')
  }
  return values
}

/** Applied in this order, so a later variable overrides an earlier one. */
const ENV_KEYS = {
  DATABASE_URL: (value: string): FileConfig => ({ 'addr-db': value }),
  ADDRSERVICE_HOST: (value: string): FileConfig => ({ server: { host: value } }),
  ADDRSERVICE_PORT: (value: string): FileConfig => ({ server: { port: numeric(value) } }),
  ADDRSERVICE_WORKERS: (value: string): FileConfig => ({ workers: workersValue(value) }),
  ADDRSERVICE_DB: (value: string): FileConfig => ({ 'addr-db': value }),
  ADDRSERVICE_LOG_LEVEL: (value: string): FileConfig => ({ logging: { level: value as LogLevel } }),
}

function environmentLayers(env: ConfigSources['env']) {
  return Object.entries(ENV_KEYS).flatMap(([name, toValues]) => {
    const value = env[name]
    if (value === undefined || value === '') return []
    return [{ label: () => name, values: toValues(value) }]
  })
}

function flagLayers(flags: ConfigFlags) {
  const layers: { label: (key: string) => string; values: FileConfig }[] = []
  if (flags.host !== undefined) layers.push({ label: () => '--host', values: { server: { host: flags.host } } })
  if (flags.port !== undefined) layers.push({ label: () => '--port', values: { server: { port: numeric(flags.port) } } })
  if (flags.db !== undefined) layers.push({ label: () => '--db', values: { 'addr-db': flags.db } })
  if (flags.workers !== undefined) layers.push({ label: () => '--workers', values: { workers: workersValue(flags.workers) } })
  if (flags.debug === true) layers.push({ label: () => '--debug', values: { debug: true } })
  return layers
}

function workersValue(value: string): number | 'auto' {
  return value === 'auto' ? 'auto' : numeric(value)
}

/** Decimal digits become a number; anything else stays a string for the schema to refuse. */
function numeric(value: string): number {
  return /^\d{1,15}$/.test(value) ? Number(value) : (value as unknown as number)
}

function applyLayer(config: Config, values: FileConfig, label: (key: string) => string): Config {
  const server = values.server ?? {}
  return {
    serviceName: values.service?.name ?? config.serviceName,
    workers: values.workers === 'auto' ? availableParallelism() : (values.workers ?? config.workers),
    debug: values.debug ?? config.debug,
    server: {
      host: server.host ?? config.server.host,
      port: server.port ?? config.server.port,
      bodyLimit: server['body-limit'] ?? config.server.bodyLimit,
      requestTimeoutMs: server['request-timeout-ms'] ?? config.server.requestTimeoutMs,
      headersTimeoutMs: server['headers-timeout-ms'] ?? config.server.headersTimeoutMs,
      keepAliveTimeoutMs: server['keep-alive-timeout-ms'] ?? config.server.keepAliveTimeoutMs,
      shutdownTimeoutMs: server['shutdown-timeout-ms'] ?? config.server.shutdownTimeoutMs,
      shutdownDelayMs: server['shutdown-delay-ms'] ?? config.server.shutdownDelayMs,
      trustProxy: server['trust-proxy'] ?? config.server.trustProxy,
    },
    store: values['addr-db'] === undefined ? config.store : parseStoreConfig(values['addr-db'], label('addr-db')),
    postgres: {
      poolSize: values.postgres?.['pool-size'] ?? config.postgres.poolSize,
      statementTimeoutMs: values.postgres?.['statement-timeout-ms'] ?? config.postgres.statementTimeoutMs,
      connectTimeoutMs: values.postgres?.['connect-timeout-ms'] ?? config.postgres.connectTimeoutMs,
    },
    metrics: {
      enabled: values.metrics?.enabled ?? config.metrics.enabled,
      port: values.metrics?.port === undefined ? config.metrics.port : values.metrics.port,
    },
    logging: {
      level: values.logging?.level ?? config.logging.level,
      format: values.logging?.format ?? config.logging.format,
      file: values.logging?.file === undefined ? config.logging.file : values.logging.file,
    },
  }
}

const STORE_HELP =
  'must be {memory: null}, {sqlite: PATH}, {postgres: URL}, or a URL like memory:, sqlite:PATH or postgres://HOST/DB'

/** `addr-db` as the original's mapping (`{sqlite: PATH}`) or as a URL (`sqlite:PATH`). */
export function parseStoreConfig(value: unknown, key: string): StoreConfig {
  if (typeof value === 'string') return parseStoreUrl(value, key)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(key, STORE_HELP)
  }
  const entries = Object.entries(value as Record<string, unknown>)
  const [first] = entries
  if (entries.length !== 1 || first === undefined) throw new ConfigError(key, STORE_HELP)
  const [kind, setting] = first
  if (kind === 'memory' && (setting === null || setting === undefined)) return { kind: 'memory' }
  if (kind === 'sqlite' && typeof setting === 'string' && setting.length > 0) return { kind: 'sqlite', path: setting }
  if (kind === 'postgres' && typeof setting === 'string' && isPostgresUrl(setting)) return { kind: 'postgres', url: setting }
  throw new ConfigError(key, STORE_HELP)
}

function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\/./.test(url) && URL.canParse(url)
}

function parseStoreUrl(url: string, key: string): StoreConfig {
  if (url === 'memory:' || url === 'memory://') return { kind: 'memory' }
  if (isPostgresUrl(url)) return { kind: 'postgres', url }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path.length > 0 && !path.startsWith('//')) return { kind: 'sqlite', path }
  }
  throw new ConfigError(key, `${STORE_HELP} (got ${JSON.stringify(url.includes('@') ? '(a URL with credentials)' : url)})`)
}

function valueAt(values: unknown, pointer: string): unknown {
  let current = values
  for (const part of pointer.split('/').slice(1)) {
    current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[part] : undefined
  }
  return current
}

interface LayerError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

/** TypeBox reports an unknown key as "schema is false" and an enum without its values. */
function describeProblem({ keyword, params, message }: LayerError, value: unknown): string {
  if (keyword === 'boolean') return 'is not a known setting'
  const allowed = params.allowedValues
  const problem = keyword === 'enum' && Array.isArray(allowed) ? `must be one of: ${allowed.map(String).join(', ')}` : message
  return `${problem}${describeValue(value)}`
}

function describeValue(value: unknown): string {
  if (value === undefined || (typeof value === 'object' && value !== null)) return ''
  const text = JSON.stringify(value)
  return ` (got ${text.length > 60 ? `${text.slice(0, 60)}…` : text})`
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
