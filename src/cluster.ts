import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'

export interface ClusterOptions {
  workers: number
  /** How long workers get to drain after SIGTERM before they are killed. */
  shutdownTimeoutMs: number
  /** A worker that dies is replaced after this pause, so that a crash loop cannot spin. */
  restartDelayMs?: number
}

/**
 * The primary process of `--workers N`: forks N workers that share the listening port (each
 * runs the whole service with its own store connection), replaces any that dies, and on
 * SIGTERM or SIGINT asks every worker to drain and exits once all have stopped: 0 when all
 * stopped cleanly, 1 otherwise.
 */
export function runPrimary(options: ClusterOptions, logger: Logger): void {
  const restartDelayMs = options.restartDelayMs ?? 1000
  let shuttingDown = false
  let failures = 0

  const fork = (): Worker => cluster.fork()
  cluster.on('exit', (worker, code, signal) => {
    if (shuttingDown) {
      // A worker still starting up has no handler yet and simply dies of the SIGTERM: that is a clean stop too.
      if (code !== 0 && signal !== 'SIGTERM') failures++
      logger.info({ worker_pid: worker.process.pid, code, signal }, 'worker stopped')
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('STOPPED')
        process.exit(failures === 0 ? 0 : 1)
      }
      return
    }
    logger.error({ worker_pid: worker.process.pid, code, signal }, 'worker died; starting a replacement')
    setTimeout(() => {
      if (!shuttingDown) fork()
    }, restartDelayMs).unref()
  })

  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return
    shuttingDown = true
    logger.info({ signal }, 'SHUTTING DOWN')
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined)
    if (workers.length === 0) {
      logger.info('STOPPED')
      process.exit(0)
    }
    for (const worker of workers) worker.process.kill('SIGTERM')
    setTimeout(() => {
      logger.error('workers did not stop in time; killing them')
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL')
      failures++
    }, options.shutdownTimeoutMs + 2000).unref()
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)

  for (let index = 0; index < options.workers; index++) fork()
}
