import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { transferablesOf, type WriteFailure, type WriteOp, type WriteOutcome } from './writes.js'

interface Pending {
  readonly op: WriteOp
  readonly resolve: (value: unknown) => void
  readonly reject: (failure: WriteFailure) => void
}

/**
 * Group commit: writes are queued and sent to the writer thread in batches. While the writer
 * commits one batch, the writes that arrive meanwhile wait and form the next, so under load one
 * sync to disk makes many writes durable, and a lone write is sent at once. Each write resolves
 * only when the batch it joined is committed.
 */
export class GroupCommit {
  readonly #worker: Worker
  readonly #onBatch: ((size: number) => void) | undefined
  #queue: Pending[] = []
  #inFlight: Pending[] | undefined
  #broken: WriteFailure | undefined
  #closing: Promise<void> | undefined
  #scheduled = false

  constructor(path: string, { busyTimeoutMs, onBatch }: { busyTimeoutMs: number; onBatch?: ((size: number) => void) | undefined }) {
    this.#onBatch = onBatch
    this.#worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: { path, busyTimeoutMs } })
    // Idle, the writer does not keep the process alive; a write in flight does.
    this.#worker.unref()
    this.#worker.on('message', (outcomes: WriteOutcome[]) => {
      this.#settle(outcomes)
    })
    this.#worker.on('error', (error) => {
      this.#fail({ message: `the SQLite writer failed: ${error.message}` })
    })
    this.#worker.on('exit', () => {
      this.#fail({ message: 'the SQLite writer has stopped' })
    })
  }

  /** Resolves with the write's result once it is on disk; rejects with why it failed. */
  write(op: WriteOp): Promise<unknown> {
    if (this.#broken) return Promise.reject(toError(this.#broken))
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject: (failure) => { reject(toError(failure)); } })
      this.#schedule()
    })
  }

  /** Lets the writes already asked for finish, then stops the writer. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#inFlight || this.#queue.length > 0) await once(this.#worker, 'message')
      if (this.#broken) return
      const exited = once(this.#worker, 'exit')
      this.#worker.ref()
      this.#worker.postMessage({ close: true })
      await exited
    })()
    return this.#closing
  }

  /**
   * Sends the queue once this turn of the event loop has read what arrived with it: writes from
   * requests that came in together go in one batch, and a lone write waits for nothing else.
   */
  #schedule(): void {
    if (this.#inFlight || this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      if (!this.#inFlight && this.#queue.length > 0) this.#send()
    })
  }

  #send(): void {
    const batch = this.#queue
    this.#queue = []
    this.#inFlight = batch
    this.#worker.ref()
    this.#onBatch?.(batch.length)
    const ops = batch.map((pending) => pending.op)
    this.#worker.postMessage({ batch: ops }, transferablesOf(ops))
  }

  #settle(outcomes: readonly WriteOutcome[]): void {
    const batch = this.#inFlight ?? []
    this.#inFlight = undefined
    batch.forEach((pending, index) => {
      const outcome = outcomes[index]
      if (outcome?.ok) pending.resolve(outcome.value)
      else pending.reject(outcome?.failure ?? { message: 'the SQLite writer gave no outcome' })
    })
    if (this.#queue.length > 0) this.#send()
    else this.#worker.unref()
  }

  #fail(failure: WriteFailure): void {
    this.#broken ??= failure
    const waiting = [...(this.#inFlight ?? []), ...this.#queue]
    this.#inFlight = undefined
    this.#queue = []
    for (const pending of waiting) pending.reject(failure)
  }
}

/** A write's failure as the error the store reports: SQLite's code kept, as better-sqlite3 gives it. */
export class WriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly takenId: string | undefined,
  ) {
    super(message)
    this.name = 'SqliteWriteError'
  }
}

function toError(failure: WriteFailure): WriteError {
  return new WriteError(failure.message, failure.code, failure.takenId)
}
