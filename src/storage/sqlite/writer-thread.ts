import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { configureDurability } from './durability.js'
import { Writes, type WriteOp } from './writes.js'

/**
 * The SQLite store's writer: a thread with a connection of its own that commits each batch it is
 * sent in one transaction and answers with every write's outcome once the batch is on disk. The
 * event loop never waits for the disk; readers keep reading on their own connection meanwhile
 * (write-ahead log).
 */
const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number }
const port = parentPort
if (!port) throw new Error('the SQLite writer runs as a worker thread')

const db = new Database(path)
db.pragma(`busy_timeout = ${String(Math.trunc(busyTimeoutMs))}`)
configureDurability(db)
const writes = new Writes(db)

port.on('message', (message: { batch: readonly WriteOp[] } | { close: true }) => {
  if ('close' in message) {
    db.close()
    port.close()
    return
  }
  port.postMessage(writes.commit(message.batch))
})
