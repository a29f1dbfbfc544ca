import { availableParallelism } from 'node:os'
import Type from 'typebox'
import { parseStoreSetting } from '../storage/store-config.js'

/**
 * Every setting of the service, each defined once: its YAML name (the path in this tree), its
 * type, its default, what it means, and the environment variables and flag that may set it.
 * The Config type, the defaults, validation, the environment and command-line layers, and the
 * test that keeps configs/addressbook-local.yaml complete all derive from this table.
 */

/** What a setting may say beyond its type, default and meaning. */
export interface SettingExtras {
  /** Environment variables that set it, the weaker first. */
  readonly env?: readonly string[]
  /** The command-line flag that sets it. */
  readonly flag?: { readonly name: string; readonly short?: string }
  /** Its value is never repeated in an error message. */
  readonly secret?: boolean
  /** Turns the YAML value into the value the service uses; throws an Error whose message is one line. */
  readonly convert?: (value: never) => unknown
}

export interface Setting extends SettingExtras {
  readonly schema: Type.TSchema
  /** The default, written as it would be in YAML. */
  readonly default: unknown
  readonly description: string
}

export interface SettingsTree {
  readonly [key: string]: Setting | SettingsTree
}

const SETTING = Symbol('setting')

function setting<T extends Type.TSchema, const E extends SettingExtras = object>(
  schema: T,
  defaultValue: Type.Static<T>,
  description: string,
  extras?: E,
): { readonly schema: T; readonly default: Type.Static<T>; readonly description: string } & E {
  return Object.freeze({ [SETTING]: true, schema, default: defaultValue, description, ...extras }) as unknown as {
    readonly schema: T
    readonly default: Type.Static<T>
    readonly description: string
  } & E
}

export function isSetting(value: Setting | SettingsTree): value is Setting {
  return SETTING in value
}

const milliseconds = (minimum = 1, maximum = 3_600_000) => Type.Integer({ minimum, maximum })
const port = () => Type.Integer({ minimum: 0, maximum: 65535 })
const nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const httpUrl = () => Type.String({ minLength: 1, maxLength: 2000, pattern: '^https?://' })
/** A span of time as people write it: 45s, 90m, 24h, 30d. */
const duration = () => Type.String({ pattern: '^[1-9][0-9]{0,5}[smhd]$' })
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const durationMs = (value: string): number => Number(value.slice(0, -1)) * (UNIT_MS[value.slice(-1)] ?? Number.NaN)
const origin = Type.String({ minLength: 1, maxLength: 200, pattern: '^(\\*|https?://[^/?#\\s]+)$' })

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const AUTH_MODES = ['none', 'api-key', 'jwt'] as const

export const SETTINGS = {
  service: {
    name: setting(Type.String({ minLength: 1, maxLength: 100 }), 'addrservice', 'name in the logs'),
  },
  workers: setting(
    Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')]),
    1,
    'processes serving the port (node:cluster), or auto for one per CPU',
    {
      env: ['ADDRSERVICE_WORKERS'],
      flag: { name: 'workers', short: 'w' },
      convert: (value: number | 'auto'): number => (value === 'auto' ? availableParallelism() : value),
    },
  ),
  'require-if-match': setting(
    Type.Boolean(),
    false,
    'refuse PUT, PATCH and DELETE without If-Match (428), so that no client overwrites a change it has not seen',
  ),
  debug: setting(Type.Boolean(), false, 'stack traces in error bodies (never in production)', {
    flag: { name: 'debug', short: 'd' },
  }),
  server: {
    host: setting(Type.String({ minLength: 1, maxLength: 255 }), '127.0.0.1', 'address to listen on', {
      env: ['ADDRSERVICE_HOST'],
      flag: { name: 'host' },
    }),
    port: setting(port(), 8080, 'port to listen on (0 picks a free one)', {
      env: ['ADDRSERVICE_PORT'],
      flag: { name: 'port', short: 'p' },
    }),
    'body-limit': setting(
      Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
      64 * 1024,
      'largest request body in bytes, after decompression',
    ),
    'request-timeout-ms': setting(milliseconds(), 30_000, 'a whole request must arrive within this'),
    'headers-timeout-ms': setting(milliseconds(), 10_000, 'request headers must arrive within this (at most the request timeout)'),
    'keep-alive-timeout-ms': setting(milliseconds(), 5_000, 'idle keep-alive connections close after this'),
    'shutdown-timeout-ms': setting(milliseconds(), 10_000, 'on SIGTERM/SIGINT, in-flight requests get this long; then the process exits 1'),
    'shutdown-delay-ms': setting(
      milliseconds(0, 600_000),
      0,
      'on SIGTERM/SIGINT, /readyz answers 503 this long before the listener closes (below the shutdown timeout)',
    ),
    'trust-proxy': setting(
      Type.Union([Type.Boolean(), Type.String({ minLength: 1, maxLength: 1000 })]),
      false,
      "whose X-Forwarded-For to believe for the client address: false, true, or a comma-separated list of addresses and CIDR ranges",
    ),
    tls: {
      'cert-file': setting(nullable(Type.String({ minLength: 1 })), null, 'a PEM file with the certificate chain: serve HTTPS (with key-file)'),
      'key-file': setting(nullable(Type.String({ minLength: 1 })), null, "a PEM file with the certificate's private key"),
    },
  },
  'addr-db': setting(Type.Unknown(), { sqlite: './var/addressbook.db' }, 'the store: {memory: null}, {sqlite: PATH} or {postgres: URL}, or as a URL', {
    env: ['DATABASE_URL', 'ADDRSERVICE_DB'],
    flag: { name: 'db' },
    convert: parseStoreSetting,
  }),
  postgres: {
    'pool-size': setting(Type.Integer({ minimum: 1, maximum: 1000 }), 10, 'most connections each instance opens'),
    'statement-timeout-ms': setting(milliseconds(), 5_000, 'the server cancels a statement that runs longer'),
    'connect-timeout-ms': setting(milliseconds(), 5_000, 'give up opening a connection after this long'),
  },
  auth: {
    mode: setting(
      nullable(Type.Enum([...AUTH_MODES])),
      null,
      'who may call: none, api-key or jwt; unset (null) refuses to listen on a non-loopback address',
      { env: ['ADDRSERVICE_AUTH_MODE'], flag: { name: 'auth' } },
    ),
    'key-cache-ms': setting(
      milliseconds(0, 5_000),
      2_000,
      'how long an instance trusts what it read of an API key (a revoked key stops working within this)',
    ),
    jwt: {
      'jwks-url': setting(nullable(httpUrl()), null, "the identity provider's JWKS (keys fetched, cached, refreshed on an unknown kid)"),
      'public-key-file': setting(nullable(Type.String({ minLength: 1 })), null, 'a PEM file with the public key tokens are signed with'),
      secret: setting(nullable(Type.String({ minLength: 32, maxLength: 1024 })), null, 'an HS256 secret of at least 32 characters', {
        env: ['ADDRSERVICE_JWT_SECRET'],
        secret: true,
      }),
      issuer: setting(nullable(Type.String({ minLength: 1, maxLength: 1000 })), null, 'the required iss claim'),
      audience: setting(nullable(Type.String({ minLength: 1, maxLength: 1000 })), null, 'the required aud claim'),
      'owner-claim': setting(Type.String({ minLength: 1, maxLength: 100 }), 'sub', 'the claim that names the owner'),
      'scope-claim': setting(
        Type.String({ minLength: 1, maxLength: 100 }),
        'scope',
        'the claim with the scopes (space-separated, or a list): addresses:read, addresses:write',
      ),
      'clock-tolerance-s': setting(Type.Integer({ minimum: 0, maximum: 600 }), 30, 'leeway for exp and nbf, in seconds'),
    },
  },
  'rate-limit': {
    enabled: setting(nullable(Type.Boolean()), null, 'limit requests; unset (null) means on when authentication is on'),
    max: setting(Type.Integer({ minimum: 1, maximum: 1_000_000 }), 600, 'requests each owner (or client address) may make per window'),
    'window-ms': setting(milliseconds(1_000, 86_400_000), 60_000, 'the window, in milliseconds'),
    redis: setting(
      nullable(Type.String({ minLength: 1, maxLength: 2000, pattern: '^rediss?://' })),
      null,
      'share the counters across instances in this Redis (redis://host:6379/0)',
      { secret: true },
    ),
    'redis-prefix': setting(Type.String({ minLength: 1, maxLength: 100 }), 'addrservice:rate-limit:', 'prefix of the Redis keys'),
  },
  cors: {
    origins: setting(
      Type.Array(origin, { maxItems: 100 }),
      [],
      'origins that browsers may call the API from (https://app.example.com, or * for any); empty turns CORS off',
    ),
  },
  import: {
    'body-limit': setting(
      Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }),
      16 * 1024 * 1024,
      'largest NDJSON or vCard import (POST /addresses) in bytes, after decompression',
    ),
  },
  sync: {
    retention: setting(duration(), '30d', 'deletions are kept this long for GET /addresses/changes; an older sync token gets 410 (s, m, h or d)', {
      convert: durationMs,
    }),
  },
  trash: {
    retention: setting(
      Type.String({ pattern: '^(0|[1-9][0-9]{0,5}[smhd])$' }),
      '30d',
      'deleted entries stay in the trash, replaced versions in history, and a book can be put back, this long (s, m, h or d); 0 turns the trash off',
      { convert: (value: string) => (value === '0' ? 0 : durationMs(value)) },
    ),
    'keep-versions': setting(Type.Integer({ minimum: 0, maximum: 1000 }), 10, "versions of each entry kept beyond the retention, for the entry's history"),
  },
  idempotency: {
    expiry: setting(duration(), '24h', 'an Idempotency-Key answers retries this long (s, m, h or d)', { convert: durationMs }),
  },
  ui: {
    enabled: setting(Type.Boolean(), true, 'serve the contacts web app at /app/ and redirect / to it'),
  },
  docs: {
    enabled: setting(Type.Boolean(), true, 'serve interactive API docs at /docs (the OpenAPI document at /openapi.json is always served)'),
  },
  metrics: {
    enabled: setting(Type.Boolean(), true, 'record and serve Prometheus metrics'),
    port: setting(nullable(port()), null, "serve /metrics on this port of its own instead of the API's (required when authentication is on)"),
    host: setting(Type.String({ minLength: 1, maxLength: 255 }), '127.0.0.1', 'address the metrics port listens on'),
  },
  logging: {
    level: setting(Type.Enum([...LOG_LEVELS]), 'info', 'fatal, error, warn, info, debug, trace or silent', {
      env: ['ADDRSERVICE_LOG_LEVEL'],
    }),
    format: setting(Type.Enum(['json', 'pretty']), 'json', 'json lines, or pretty for humans'),
    file: setting(nullable(Type.String({ minLength: 1 })), null, 'log to this file (directories created) instead of standard output'),
  },
} as const satisfies SettingsTree

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S
type DeepReadonly<T> = T extends readonly (infer Item)[] ? readonly DeepReadonly<Item>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

/** The values of a settings tree, with camelCase names: what the service reads. */
export type Values<S> = {
  readonly [K in keyof S as CamelCase<K & string>]: S[K] extends { convert: (value: never) => infer V }
    ? DeepReadonly<V>
    : S[K] extends { schema: infer T extends Type.TSchema }
      ? DeepReadonly<Type.Static<T>>
      : Values<S[K]>
}

/** A partial tree in YAML names: what one layer (the file, a variable, a flag) sets. */
export type Layer<S> = {
  [K in keyof S]?: S[K] extends { schema: infer T extends Type.TSchema } ? Type.Static<T> : Layer<S[K]>
}

type AllValues = Values<typeof SETTINGS>

/** The service's configuration; `addr-db` is read into `store`. */
export type Config = Omit<AllValues, 'addrDb'> & { readonly store: AllValues['addrDb'] }
export type ConfigLayer = Layer<typeof SETTINGS>
export type ServerConfig = Config['server']
export type LoggingConfig = Config['logging']
export type AuthConfig = Config['auth']
export type LogLevel = (typeof LOG_LEVELS)[number]
export type AuthMode = (typeof AUTH_MODES)[number]

/** Every setting with its dotted YAML path, in the order of the table. */
export function listSettings(tree: SettingsTree = SETTINGS, prefix = ''): { path: string; setting: Setting }[] {
  return Object.entries(tree).flatMap(([key, item]) =>
    isSetting(item) ? [{ path: `${prefix}${key}`, setting: item }] : listSettings(item, `${prefix}${key}.`),
  )
}
