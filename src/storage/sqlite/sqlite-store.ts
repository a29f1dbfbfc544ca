import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { AddressEntry } from '../../domain/address-entry.js'
import { EntryExistsError } from '../../domain/errors.js'
import { systemClock, type AddressBookStore, type Clock, type StoredEntry } from '../store.js'
import { SQLITE_MIGRATIONS } from './migrations.js'

interface EntryRow {
  id: string
  owner: string
  version: number
  created_at: string
  updated_at: string
  entry: string
}

export interface SqliteStoreOptions {
  clock?: Clock
  busyTimeoutMs?: number
}

const COLUMNS = 'id, owner, version, created_at, updated_at, entry'

/**
 * Keeps entries in one SQLite file through better-sqlite3. Write-ahead log with
 * `synchronous=FULL`: once a write method resolves, the entry is on disk and survives a crash
 * of the process or the machine.
 */
export class SqliteStore implements AddressBookStore {
  readonly description: string
  readonly #db: Database.Database
  readonly #clock: Clock
  readonly #insert: Database.Statement<[string, string, string, string, string]>
  readonly #select: Database.Statement<[string, string], EntryRow>
  readonly #update: Database.Statement<[string, string, string, string], Pick<EntryRow, 'version' | 'created_at' | 'updated_at'>>
  readonly #delete: Database.Statement<[string, string]>
  readonly #selectAll: Database.Statement<[string], EntryRow>

  /** Opens (creating if needed) the database file, checks durability settings and migrates. */
  constructor(readonly path: string, options: SqliteStoreOptions = {}) {
    this.description = `sqlite:${path}`
    this.#clock = options.clock ?? systemClock
    mkdirSync(dirname(path), { recursive: true })
    const db = new Database(path)
    try {
      db.pragma(`busy_timeout = ${String(Math.trunc(options.busyTimeoutMs ?? 5000))}`)
      // Before anything writes: switching to WAL alone would rewrite a newer schema's file.
      const applied = checkedSchemaVersion(db)
      configureDurability(db)
      migrate(db, applied)
    } catch (error) {
      db.close()
      throw error
    }
    this.#db = db
    this.#insert = db.prepare(
      `INSERT INTO address_entries (${COLUMNS}) VALUES (?, ?, 1, ?, ?, ?)`,
    )
    this.#select = db.prepare(`SELECT ${COLUMNS} FROM address_entries WHERE owner = ? AND id = ?`)
    this.#update = db.prepare(
      `UPDATE address_entries SET entry = ?, version = version + 1, updated_at = ?
       WHERE owner = ? AND id = ? RETURNING version, created_at, updated_at`,
    )
    this.#delete = db.prepare('DELETE FROM address_entries WHERE owner = ? AND id = ?')
    this.#selectAll = db.prepare(`SELECT ${COLUMNS} FROM address_entries WHERE owner = ? ORDER BY id`)
  }

  /** The file was opened and migrated by the constructor; only a closed store is not ready. */
  ready(): Promise<void> {
    return attempt(() => {
      this.#select.get('', '')
    })
  }

  create(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry> {
    return attempt(() => {
      const now = this.#clock().toISOString()
      try {
        this.#insert.run(id, owner, now, now, JSON.stringify(entry))
      } catch (error) {
        if (isPrimaryKeyViolation(error)) throw new EntryExistsError(id)
        throw error
      }
      return { id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry) }
    })
  }

  get(owner: string, id: string): Promise<StoredEntry | undefined> {
    return attempt(() => {
      const row = this.#select.get(owner, id)
      return row && toStoredEntry(row)
    })
  }

  update(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry | undefined> {
    return attempt(() => {
      const row = this.#update.get(JSON.stringify(entry), this.#clock().toISOString(), owner, id)
      if (!row) return undefined
      return {
        id,
        owner,
        version: row.version,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        entry: structuredClone(entry),
      }
    })
  }

  delete(owner: string, id: string): Promise<boolean> {
    return attempt(() => this.#delete.run(owner, id).changes > 0)
  }

  list(owner: string): Promise<StoredEntry[]> {
    return attempt(() => this.#selectAll.all(owner).map(toStoredEntry))
  }

  close(): Promise<void> {
    return attempt(() => {
      if (this.#db.open) this.#db.close()
    })
  }
}

function configureDurability(db: Database.Database): void {
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

/** How many migrations the file has; refuses a schema newer than this code knows. */
function checkedSchemaVersion(db: Database.Database): number {
  const applied = Number(db.pragma('user_version', { simple: true }))
  if (applied > SQLITE_MIGRATIONS.length) {
    throw new Error(
      `database schema version ${String(applied)} is newer than this addrservice knows (${String(SQLITE_MIGRATIONS.length)})`,
    )
  }
  return applied
}

function migrate(db: Database.Database, applied: number): void {
  if (applied === SQLITE_MIGRATIONS.length) return
  db.transaction(() => {
    // Read again under the write lock: another process may have migrated since the first read.
    const current = checkedSchemaVersion(db)
    for (const sql of SQLITE_MIGRATIONS.slice(current)) db.exec(sql)
    db.pragma(`user_version = ${String(SQLITE_MIGRATIONS.length)}`)
  }).immediate()
}

function toStoredEntry(row: EntryRow): StoredEntry {
  return {
    id: row.id,
    owner: row.owner,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    entry: JSON.parse(row.entry) as AddressEntry,
  }
}

function isPrimaryKeyViolation(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

function attempt<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation())
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}
