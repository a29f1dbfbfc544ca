#!/usr/bin/env node
import cluster from 'node:cluster'
import { createRequire } from 'node:module'
import { setTimeout } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { AggregatorRegistry, collectDefaultMetrics, Registry, type PrometheusContentType } from 'prom-client'
import { parseCommandLine, UsageError, USAGE } from './cli.js'
import { runPrimary } from './cluster.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { buildApp } from './http/app.js'
import { buildMetricsApp, clusterMetricsSource } from './http/metrics.js'
import { createLogger } from './logging.js'
import { AddressBookService } from './service/address-book-service.js'
import { createStore, describeStoreConfig } from './storage/factory.js'
import { InstrumentedStore } from './storage/instrumented-store.js'
import type { AddressBookStore } from './storage/store.js'

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

/** Exit codes: 0 done, 1 failed while running, 2 bad command line or configuration. */
async function main(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  let command
  let config
  try {
    command = parseCommandLine(args)
    if (command.action === 'help') {
      process.stdout.write(USAGE)
      return 0
    }
    if (command.action === 'version') {
      process.stdout.write(`addrservice ${version}\n`)
      return 0
    }
    config = loadConfig({ flags: command.flags, env })
  } catch (error) {
    if (error instanceof UsageError) return fail(2, `${error.message} (see --help)`)
    if (error instanceof ConfigError) return fail(2, `invalid configuration: ${error.message}`)
    throw error
  }

  const logger = createLogger(config.logging, config.serviceName)
  const clustered = config.workers > 1
  if (cluster.isPrimary) {
    const { host, port } = config.server
    const store = describeStoreConfig(config.store)
    logger.info({ service: config.serviceName, version, host, port, store, ...(clustered ? { workers: config.workers } : {}) }, 'STARTING')
  }
  if (clustered && cluster.isPrimary) {
    runPrimary({ workers: config.workers, shutdownTimeoutMs: config.server.shutdownTimeoutMs }, logger)
    // The primary serves no API; with a metrics port it serves the sum of every worker's metrics.
    if (config.metrics.enabled && config.metrics.port !== null) {
      try {
        await listenMetrics(buildMetricsApp(clusterMetricsSource()), config, logger)
      } catch (error) {
        // Exiting disconnects the workers, which then drain and exit too.
        return cannotListen(error, config.server.host, config.metrics.port, logger)
      }
    }
    return undefined
  }
  return serve(config, logger)
}

/** Runs the service in this process (alone, or as one worker of a cluster) until a signal. */
async function serve(config: Config, logger: Logger): Promise<number | undefined> {
  // A worker's registry answers the primary, which sums all workers' on the metrics port.
  const registry = config.metrics.enabled ? (cluster.isWorker ? new AggregatorRegistry<PrometheusContentType>() : new Registry()) : undefined
  if (registry) {
    collectDefaultMetrics({ register: registry })
    if (cluster.isWorker) AggregatorRegistry.setRegistries([registry])
  }
  let opened: AddressBookStore
  try {
    opened = createStore(config.store, {
      ...config.postgres,
      onBackgroundError: (error) => {
        logger.warn({ err: error }, 'store connection failed; it will be replaced')
      },
    })
  } catch (error) {
    logger.fatal({ err: error }, 'cannot open the store')
    return fail(1, `cannot open the store ${describeStoreConfig(config.store)}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const store = registry ? new InstrumentedStore(opened, registry) : opened
  store.ready().catch((error: unknown) => {
    logger.warn({ err: error }, 'the store is not ready yet; requests get 503 until it is')
  })

  const app = buildApp(config, new AddressBookService(store), {
    logger,
    ...(registry ? { metrics: registry, serveMetrics: config.metrics.port === null } : {}),
  })
  const metricsApp = registry && config.metrics.port !== null && cluster.isPrimary ? buildMetricsApp(registry) : undefined
  app.addHook('onClose', async () => {
    await metricsApp?.close()
    await store.close()
  })
  const graceful = closeWithGrace(
    { delay: config.server.shutdownTimeoutMs, logger: { error: (message: unknown) => { logger.error(String(message)) } } },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'SHUTTING DOWN after an unexpected error')
      else logger.info({ signal }, 'SHUTTING DOWN')
      app.beginShutdown()
      if (config.server.shutdownDelayMs > 0) await setTimeout(config.server.shutdownDelayMs)
      await app.close()
      logger.info('STOPPED')
      if (err) throw err
    },
  )
  // A worker whose primary is gone has no one to answer to: it drains and exits.
  if (cluster.isWorker) process.once('disconnect', () => { graceful.close() })

  const { host, port } = config.server
  try {
    await app.listen({ host, port })
    if (metricsApp) await listenMetrics(metricsApp, config, logger)
  } catch (error) {
    // The API listens first: if it is up, it was the metrics port that failed.
    const failedPort = app.server.listening ? (config.metrics.port ?? port) : port
    await app.close()
    return cannotListen(error, host, failedPort, logger)
  }
  return undefined
}

function cannotListen(error: unknown, host: string, port: number, logger: Logger): number {
  const code = (error as NodeJS.ErrnoException).code ?? 'error'
  logger.fatal({ err: error }, 'cannot listen')
  return fail(1, `cannot listen on ${host}:${String(port)} (${code})`)
}

async function listenMetrics(app: FastifyInstance, config: Config, logger: Logger): Promise<void> {
  const url = await app.listen({ host: config.server.host, port: config.metrics.port ?? 0 })
  logger.info({ url: `${url}/metrics` }, 'metrics listening')
}

function fail(code: number, message: string): number {
  process.stderr.write(`addrservice: ${message}\n`)
  return code
}

const exitCode = await main(process.argv.slice(2), process.env)
if (exitCode !== undefined) process.exit(exitCode)
