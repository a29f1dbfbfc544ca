import cluster from 'node:cluster'
import { setTimeout } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { Logger } from 'pino'
import { runPrimary, WORKER_MESSAGES, type WorkerMessage } from '../cluster.js'
import type { Config } from '../config/settings.js'
import { clusterMetricsSource } from '../http/edge/metrics.js'
import { checkServeConfig, startMetricsServer, startServer, StartupError } from '../server.js'
import { describeStoreConfig } from '../storage/store-config.js'

/**
 * `addrservice serve`: runs the service until a signal, alone or as a cluster of workers.
 * Resolves with an exit code when it has to stop at once, or undefined while it keeps serving
 * (the signal handlers exit later).
 */
export async function runServe(config: Config, logger: Logger, version: string, fail: (code: number, message: string) => number): Promise<number | undefined> {
  const clustered = config.workers > 1
  try {
    checkServeConfig(config)
  } catch (error) {
    if (error instanceof StartupError) return fail(error.exitCode, error.message)
    throw error
  }
  if (cluster.isPrimary) {
    const { host, port } = config.server
    const store = describeStoreConfig(config.store)
    const auth = config.auth.mode ?? 'none'
    logger.info({ service: config.service.name, version, host, port, store, auth, ...(clustered ? { workers: config.workers } : {}) }, 'STARTING')
  }
  if (clustered && cluster.isPrimary) return runClusterPrimary(config, logger, fail)
  return serveHere(config, logger, version, fail)
}

async function runClusterPrimary(config: Config, logger: Logger, fail: (code: number, message: string) => number): Promise<number | undefined> {
  runPrimary(
    {
      workers: config.workers,
      shutdownTimeoutMs: config.server.shutdownTimeoutMs,
      onStartFailure: (reason, exitCode) => {
        process.exit(fail(exitCode, reason))
      },
    },
    logger,
  )
  // The primary serves no API; with a metrics port it serves the sum of every worker's metrics.
  if (config.metrics.enabled && config.metrics.port !== null) {
    try {
      await startMetricsServer(clusterMetricsSource(), config, logger)
    } catch (error) {
      // Exiting disconnects the workers, which then drain and exit too.
      if (error instanceof StartupError) return fail(error.exitCode, error.message)
      throw error
    }
  }
  return undefined
}

async function serveHere(config: Config, logger: Logger, version: string, fail: (code: number, message: string) => number): Promise<number | undefined> {
  // Ctrl-C reaches the whole process group: a worker leaves it to the primary, from its first
  // moment (a worker still starting must not die of it and pass for a failed start).
  if (cluster.isWorker) process.on('SIGINT', () => undefined)
  let server
  try {
    server = await startServer(config, logger, { version, role: cluster.isWorker ? 'worker' : 'alone' })
  } catch (error) {
    if (!(error instanceof StartupError)) throw error
    if (cluster.isWorker) {
      // The primary stops the other workers and prints this reason, once for the whole cluster:
      // workers share its stderr.
      await tellPrimary({ addrservice: WORKER_MESSAGES.startFailed, reason: error.message, exitCode: error.exitCode })
      return error.exitCode
    }
    return fail(error.exitCode, error.message)
  }
  const running = server
  let stopping: Promise<void> | undefined
  const stop = (signal: string | undefined, err: unknown) => {
    stopping ??= (async () => {
      if (err) logger.error({ err }, 'SHUTTING DOWN after an unexpected error')
      else logger.info({ signal }, 'SHUTTING DOWN')
      running.beginShutdown()
      if (config.server.shutdownDelayMs > 0) await setTimeout(config.server.shutdownDelayMs)
      await running.close()
      logger.info('STOPPED')
      if (err) throw err instanceof Error ? err : new Error('unexpected error', { cause: err })
    })()
    return stopping
  }
  const graceful = closeWithGrace(
    {
      delay: config.server.shutdownTimeoutMs,
      logger: { error: (message: unknown) => { logger.error(String(message)) } },
      // A worker leaves SIGINT (Ctrl-C reaches the whole process group) to the primary, which
      // asks every worker to drain exactly once.
      ...(cluster.isWorker ? { skip: ['SIGINT'] } : {}),
    },
    async ({ signal, err }) => stop(signal, err),
  )
  if (cluster.isWorker) {
    process.on('message', (message: WorkerMessage | undefined) => {
      if (message?.addrservice === WORKER_MESSAGES.shutdown) graceful.close()
    })
    // A worker whose primary is gone has no one to answer to: it drains and exits.
    process.once('disconnect', () => {
      graceful.close()
    })
  }
  return undefined
}

/** Sends a message to the primary and waits until it is on its way, so that exiting cannot lose it. */
function tellPrimary(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      resolve()
      return
    }
    process.send(message, undefined, {}, () => {
      resolve()
    })
  })
}
