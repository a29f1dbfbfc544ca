import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { AggregatorRegistry, collectDefaultMetrics, Histogram, Registry, type PrometheusContentType } from 'prom-client'
import type { Config } from './config/settings.js'
import { buildApp, type App } from './http/app.js'
import { buildMetricsApp, type MetricsSource } from './http/edge/metrics.js'
import { AddressBookService } from './service/address-book-service.js'
import { HistoryService } from './service/history-service.js'
import { LabelService } from './service/label-service.js'
import { CardBookService, cardShelvesOf } from './service/card-book-service.js'
import { DeviceKeyService } from './service/device-keys.js'
import { createStore } from './storage/factory.js'
import { InstrumentedStore } from './storage/instrumented-store.js'
import { ApiKeys } from './auth/api-keys.js'
import { apiKeyAuthenticator, jwtAuthenticator, type Authenticator } from './auth/authenticator.js'
import type { AddressBookStore, Clock, PhotoData, Store } from './storage/store.js'
import { describeStoreConfig } from './storage/store-config.js'

/** The service could not start: `exitCode` 2 for a configuration it refuses, 1 for anything else. */
export class StartupError extends Error {
  constructor(readonly exitCode: 1 | 2, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StartupError'
  }
}

/** The service, listening; `close` stops it and releases everything it opened. */
export interface RunningServer {
  readonly app: App
  /** Where the API listens, e.g. http://127.0.0.1:8080. */
  readonly url: string
  /** Where /metrics listens when it has a port of its own. */
  readonly metricsUrl: string | undefined
  /** Readiness turns 503 ahead of closing, so that load balancers stop sending traffic. */
  beginShutdown(): void
  close(): Promise<void>
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/**
 * Refuses what the service will not run with, before anything is opened: listening beyond
 * this machine without having chosen who may call.
 */
export function checkServeConfig(config: Config): void {
  if (config.auth.mode === null && !isLoopback(config.server.host)) {
    throw new StartupError(
      2,
      `refusing to listen on ${config.server.host} without authentication chosen: set auth.mode: api-key, jwt, or an explicit none (--auth, ADDRSERVICE_AUTH_MODE)`,
    )
  }
}

/**
 * How this process takes part in serving: alone, or as one worker of a cluster, whose primary
 * serves the sum of every worker's metrics on the metrics port (see commands/serve.ts).
 */
export type ProcessRole = 'alone' | 'worker'

export interface StartOptions {
  /** The service's version, for the OpenAPI document. */
  readonly version?: string | undefined
  readonly role?: ProcessRole
}

/** The address book over a store, as the configuration asks for it: what the service and the tests build alike. */
export function addressBookFor(store: AddressBookStore, config: Pick<Config, 'requireIfMatch' | 'sync' | 'idempotency' | 'trash'>): AddressBookService {
  return new AddressBookService(store, {
    requireIfMatch: config.requireIfMatch,
    syncRetentionMs: config.sync.retention,
    idempotencyExpiryMs: config.idempotency.expiry,
    trashKept: config.trash.retention > 0,
    photos: normalizePhoto,
  })
}

/** Entries' history, the trash and restores over a store, as the configuration asks for them. */
export function historyFor(store: AddressBookStore, config: Pick<Config, 'trash'>, clock?: Clock): HistoryService {
  return new HistoryService(store, {
    retentionMs: config.trash.retention,
    keepVersions: config.trash.keepVersions,
    booksOf: cardShelvesOf,
    ...(clock ? { clock } : {}),
  })
}

/** The image library loads with the first photo, not at start: most requests never need it. */
export async function normalizePhoto(bytes: Uint8Array): Promise<PhotoData> {
  const photos = await import('./formats/photo.js')
  return photos.normalizePhoto(bytes)
}

/**
 * Opens the store, builds the app and listens: the whole service in this process (alone, or as
 * one worker of a cluster). The configuration was checked before (checkServeConfig). Throws
 * StartupError when it cannot; whatever it opened is closed.
 */
export async function startServer(config: Config, logger: Logger, { version, role = 'alone' }: StartOptions = {}): Promise<RunningServer> {
  if (config.debug && !isLoopback(config.server.host)) {
    logger.warn({ host: config.server.host }, 'debug mode puts stack traces in error responses, and this service listens beyond this machine')
  }
  const registry = config.metrics.enabled ? metricsRegistry(role) : undefined
  let opened: Store
  try {
    opened = await createStore(
      config.store,
      {
        ...config.postgres,
        onBackgroundError: (error) => {
          logger.warn({ err: error }, 'store connection failed; it will be replaced')
        },
      },
      registry ? { onBatch: commitBatchSizes(registry) } : {},
    )
  } catch (error) {
    logger.fatal({ err: error }, 'cannot open the store')
    const reason = error instanceof Error ? error.message : String(error)
    throw new StartupError(1, `cannot open the store ${describeStoreConfig(config.store)}: ${reason}`, { cause: error })
  }
  const store = registry ? new InstrumentedStore(opened, registry) : opened
  store.ready().catch((error: unknown) => {
    logger.warn({ err: error }, 'the store is not ready yet; requests get 503 until it is')
  })

  let authenticator
  const keys = config.auth.mode === 'api-key' || config.auth.mode === 'jwt' ? apiKeysOf(config, store, logger) : undefined
  try {
    authenticator = await createAuthenticator(config, keys)
  } catch (error) {
    await store.close()
    throw error
  }
  // With authentication on, /metrics is not for every caller of the API: only its own port serves it.
  const serveMetrics = config.metrics.port === null && authenticator === undefined
  if (registry && config.metrics.port === null && !serveMetrics) {
    logger.warn('metrics are not served on the API port while authentication is on; set metrics.port to serve them')
  }
  const addressBook = addressBookFor(store, config)
  const history = historyFor(store, config)
  const forgetting = forgetExpiredNowAndThen(addressBook, history, logger)
  const cardBook = new CardBookService(store, { photos: normalizePhoto, trashKept: history.trashKept })
  const labels = new LabelService(store)
  const deviceKeys = keys ? new DeviceKeyService(keys) : undefined
  let tls
  try {
    tls = tlsFiles(config)
  } catch (error) {
    await store.close()
    throw error
  }
  const app = buildApp(config, { addressBook, cardBook, labels, history, deviceKeys, authenticator }, {
    logger,
    ...(tls ? { tls } : {}),
    ...(version === undefined ? {} : { version }),
    ...(registry ? { metrics: registry, serveMetrics } : {}),
  })
  let metricsServer: MetricsServer | undefined
  app.addHook('onClose', async () => {
    clearInterval(forgetting)
    await metricsServer?.app.close()
    await store.close()
  })

  const { host, port } = config.server
  let url: string
  try {
    url = await app.listen({ host, port })
  } catch (error) {
    await app.close()
    logger.fatal({ err: error }, 'cannot listen')
    throw cannotListen(error, `${host}:${String(port)}`)
  }
  // A worker's own metrics port would clash with its siblings': its primary serves their sum there.
  if (registry && config.metrics.port !== null && role === 'alone') {
    try {
      metricsServer = await startMetricsServer(registry, config, logger)
    } catch (error) {
      await app.close()
      throw error
    }
  }
  return {
    app,
    url,
    metricsUrl: metricsServer?.url,
    beginShutdown: () => {
      app.beginShutdown()
    },
    close: () => app.close(),
  }
}

/**
 * Serves metrics on the port of their own (metrics.host, metrics.port): this process's, or, in a
 * cluster's primary, the sum of its workers'. Throws StartupError when it cannot listen.
 */
export async function startMetricsServer(source: MetricsSource, config: Config, logger: Logger): Promise<MetricsServer> {
  const app = buildMetricsApp(source)
  try {
    const url = await app.listen({ host: config.metrics.host, port: config.metrics.port ?? 0 })
    logger.info({ url: `${url}/metrics` }, 'metrics listening')
    return { app, url }
  } catch (error) {
    await app.close()
    logger.fatal({ err: error }, 'cannot listen')
    throw cannotListen(error, `${config.metrics.host}:${String(config.metrics.port)}`)
  }
}

/** The metrics' own server, listening at `url`. */
export interface MetricsServer {
  readonly app: FastifyInstance
  readonly url: string
}

/** How often expired tombstones and idempotency keys are forgotten. */
const FORGET_EVERY_MS = 3_600_000

/**
 * Forgets what has expired once the store is up, then every hour. Every instance does it: the
 * work is idempotent and cheap, and no instance has to be the one.
 */
function forgetExpiredNowAndThen(addressBook: AddressBookService, history: HistoryService, logger: Logger): NodeJS.Timeout {
  const forget = () => {
    Promise.all([addressBook.forgetExpired(), history.forgetExpired()]).then(
      ([forgotten, versions]) => {
        if (forgotten.deletions > 0 || forgotten.idempotencyKeys > 0 || versions > 0) {
          logger.info({ ...forgotten, versions }, 'forgot expired deletions, idempotency keys, versions and trash')
        }
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'could not forget expired deletions, idempotency keys, versions and trash; trying again later')
      },
    )
  }
  setImmediate(forget).unref()
  return setInterval(forget, FORGET_EVERY_MS).unref()
}

/** Who may call, as auth.mode says; none when authentication is off. */
/** A setting whose file or value could not be used: exit code 2, naming the setting and why (an errno code when there is one). */
function unusableSetting(key: string, error: unknown): StartupError {
  const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error))
  return new StartupError(2, `invalid configuration: ${key}: cannot be used (${reason})`, { cause: error })
}

/** The certificate chain and key to serve HTTPS with, when the configuration names them; StartupError when they cannot be read. */
function tlsFiles(config: Config): { cert: Buffer; key: Buffer } | undefined {
  const { certFile, keyFile } = config.server.tls
  if (certFile === null || keyFile === null) return undefined
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file)
    } catch (error) {
      throw unusableSetting(key, error)
    }
  }
  return { cert: read(certFile, 'server.tls.cert-file'), key: read(keyFile, 'server.tls.key-file') }
}

/** The owners' API keys in the store: what api-key mode authenticates with, and jwt mode's devices. */
function apiKeysOf(config: Config, store: Store, logger: Logger): ApiKeys {
  return new ApiKeys(store, {
    cacheMs: config.auth.keyCacheMs,
    onBackgroundError: (error) => {
      logger.warn({ err: error }, 'cannot record when an API key was last used')
    },
  })
}

async function createAuthenticator(config: Config, keys: ApiKeys | undefined): Promise<Authenticator | undefined> {
  const { auth } = config
  switch (auth.mode) {
    case 'api-key':
      return keys ? apiKeyAuthenticator(keys) : undefined
    case 'jwt':
      try {
        // jose is loaded only when tokens are to be verified.
        const { JwtVerifier } = await import('./auth/jwt.js')
        return jwtAuthenticator(new JwtVerifier(auth.jwt), keys)
      } catch (error) {
        throw unusableSetting(auth.jwt.publicKeyFile === null ? 'auth.jwt' : 'auth.jwt.public-key-file', error)
      }
    case 'none':
    case null:
      return undefined
  }
}

/** A worker's registry answers its primary, which sums all workers' on the metrics port. */
function metricsRegistry(role: ProcessRole): Registry {
  const registry = role === 'worker' ? new AggregatorRegistry<PrometheusContentType>() : new Registry()
  collectDefaultMetrics({ register: registry })
  if (role === 'worker') AggregatorRegistry.setRegistries([registry])
  return registry
}

export function cannotListen(error: unknown, where: string): StartupError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error'
  return new StartupError(1, `cannot listen on ${where} (${code})`, { cause: error })
}

/** How many writes each SQLite commit made durable together (group commit). */
function commitBatchSizes(registry: Registry): (size: number) => void {
  const sizes = new Histogram({
    name: 'addrservice_store_commit_batch_size',
    help: 'Writes committed together in one transaction (SQLite group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry],
  })
  return (size) => {
    sizes.observe(size)
  }
}
