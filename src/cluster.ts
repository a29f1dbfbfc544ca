import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'

/** What the primary and its workers tell each other over the IPC channel. */
export const WORKER_MESSAGES = {
  /** Worker to primary: it cannot serve (port taken, store unopenable); `reason` says why. */
  startFailed: 'start-failed',
  /** Primary to worker: drain and exit. */
  shutdown: 'shutdown',
} as const

export type WorkerMessage =
  | { addrservice: typeof WORKER_MESSAGES.startFailed; reason: string; exitCode: number }
  | { addrservice: typeof WORKER_MESSAGES.shutdown }

export interface ClusterOptions {
  workers: number
  /** How long workers get to drain after SIGTERM before they are killed. */
  shutdownTimeoutMs: number
  /** A worker that dies is replaced after this pause, so that a crash loop cannot spin. */
  restartDelayMs?: number
  /**
   * Called once every worker has stopped after one failed before it listened: the service
   * cannot start, so the primary should exit with `exitCode` and print `reason`.
   */
  onStartFailure: (reason: string, exitCode: number) => void
}

/**
 * The primary process of `--workers N`: forks N workers that share the listening port (each
 * runs the whole service with its own store connection) and replaces any that dies after it
 * listened. A worker that fails before it listens stops the whole cluster: repeating the same
 * start would fail the same way. On SIGTERM or SIGINT the primary asks every worker to drain,
 * once, and exits once all have stopped: 0 when all stopped cleanly, 1 otherwise.
 */
export function runPrimary(options: ClusterOptions, logger: Logger): void {
  const restartDelayMs = options.restartDelayMs ?? 1000
  let shuttingDown = false
  let failures = 0
  let startFailure: { reason: string; exitCode: number } | undefined
  const listened = new WeakSet<Worker>()

  const fork = (): Worker => cluster.fork()
  const liveWorkers = () => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined)

  cluster.on('listening', (worker) => {
    listened.add(worker)
  })
  cluster.on('message', (_worker, message: WorkerMessage | undefined) => {
    if (message?.addrservice === WORKER_MESSAGES.startFailed) startFailure ??= { reason: message.reason, exitCode: message.exitCode }
  })
  cluster.on('exit', (worker, code, signal) => {
    if (!shuttingDown && !listened.has(worker)) {
      // Node types the signal as a string, but it is null when the worker exited with a code.
      const how = (signal as string | null) ?? `code ${String(code)}`
      startFailure ??= { reason: `a worker exited before it listened (${how})`, exitCode: 1 }
      logger.fatal({ worker_pid: worker.process.pid, code, signal, reason: startFailure.reason }, 'a worker could not start; stopping the others')
      shutdown('start failure')
    }
    if (shuttingDown) {
      // A worker still starting up has no handler yet and simply dies of the SIGTERM: that is a clean stop too.
      if (code !== 0 && signal !== 'SIGTERM' && listened.has(worker)) failures++
      logger.info({ worker_pid: worker.process.pid, code, signal }, 'worker stopped')
      if (liveWorkers().length === 0) finish()
      return
    }
    logger.error({ worker_pid: worker.process.pid, code, signal }, 'worker died; starting a replacement')
    // Not unref'd: when every worker has died, this timer is all that keeps the primary alive.
    setTimeout(() => {
      if (!shuttingDown) fork()
    }, restartDelayMs)
  })

  const finish = () => {
    if (startFailure) {
      options.onStartFailure(startFailure.reason, startFailure.exitCode)
      return
    }
    logger.info('STOPPED')
    process.exit(failures === 0 ? 0 : 1)
  }

  const shutdown = (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    if (!startFailure) logger.info({ signal }, 'SHUTTING DOWN')
    const workers = liveWorkers()
    if (workers.length === 0) {
      finish()
      return
    }
    for (const worker of workers) {
      // A worker that has not started yet cannot act on a message; a signal stops it.
      if (listened.has(worker) && worker.isConnected()) worker.send({ addrservice: WORKER_MESSAGES.shutdown } satisfies WorkerMessage)
      else worker.process.kill('SIGTERM')
    }
    setTimeout(() => {
      logger.error('workers did not stop in time; killing them')
      for (const worker of liveWorkers()) worker.process.kill('SIGKILL')
      failures++
    }, options.shutdownTimeoutMs + 2000).unref()
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)

  for (let index = 0; index < options.workers; index++) fork()
}
