import type Database from 'better-sqlite3'

/**
 * Write-ahead logging and synchronous=FULL: a transaction is durable once its commit returns. Every
 * connection that writes sets it (synchronous is per connection); refuses a file that will not.
 */
export function configureDurability(db: Database.Database): void {
  const journalMode: unknown = db.pragma('journal_mode = WAL', { simple: true })
  if (journalMode !== 'wal') {
    throw new Error(`SQLite refused write-ahead logging (journal_mode is ${String(journalMode)})`)
  }
  db.pragma('synchronous = FULL')
  const synchronous: unknown = db.pragma('synchronous', { simple: true })
  if (synchronous !== 2) {
    throw new Error(`SQLite refused synchronous=FULL (synchronous is ${String(synchronous)})`)
  }
}
