import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { AddressEntry } from '../../domain/address-entry.js'
import { EntryExistsError, StoreUnavailableError } from '../../domain/errors.js'
import type { Scope } from '../../domain/principal.js'
import { systemClock, type ApiKeyRecord, type Clock, type NewApiKey, type Store, type StoredEntry } from '../store.js'
import { SQLITE_MIGRATIONS } from './migrations.js'

interface EntryRow {
  id: string
  owner: string
  version: number
  created_at: string
  updated_at: string
  entry: string
}

interface ApiKeyRow {
  id: string
  owner: string
  scope: Scope
  label: string | null
  secret_hash: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export interface SqliteStoreOptions {
  clock?: Clock
  busyTimeoutMs?: number
}

const COLUMNS = 'id, owner, version, created_at, updated_at, entry'
const KEY_COLUMNS = 'id, owner, scope, label, secret_hash, created_at, last_used_at, revoked_at'

/**
 * Keeps entries in one SQLite file through better-sqlite3. Write-ahead log with
 * `synchronous=FULL`: once a write method resolves, the entry is on disk and survives a crash
 * of the process or the machine.
 */
export class SqliteStore implements Store {
  readonly description: string
  readonly #db: Database.Database
  readonly #clock: Clock
  readonly #insert: Database.Statement<[string, string, string, string, string]>
  readonly #select: Database.Statement<[string, string], EntryRow>
  readonly #update: Database.Statement<[string, string, string, string], Pick<EntryRow, 'version' | 'created_at' | 'updated_at'>>
  readonly #delete: Database.Statement<[string, string]>
  readonly #selectAll: Database.Statement<[string], EntryRow>
  readonly #keys: {
    insert: Database.Statement<[string, string, string, string | null, string, string]>
    select: Database.Statement<[string], ApiKeyRow>
    selectAll: Database.Statement<[], ApiKeyRow>
    selectByOwner: Database.Statement<[string], ApiKeyRow>
    revoke: Database.Statement<[string, string], ApiKeyRow>
    touch: Database.Statement<[string, string]>
  }

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
    this.#keys = {
      insert: db.prepare(`INSERT INTO api_keys (id, owner, scope, label, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
      select: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`),
      selectAll: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`),
      selectByOwner: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE owner = ? ORDER BY created_at, id`),
      revoke: db.prepare(
        `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING ${KEY_COLUMNS}`,
      ),
      touch: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
    }
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

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return attempt(() => {
      this.#keys.insert.run(key.id, key.owner, key.scope, key.label, key.secretHash, key.createdAt)
      return { ...key, lastUsedAt: null, revokedAt: null }
    })
  }

  findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return attempt(() => {
      const row = this.#keys.select.get(id)
      return row && toApiKeyRecord(row)
    })
  }

  listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    return attempt(() => (owner === undefined ? this.#keys.selectAll.all() : this.#keys.selectByOwner.all(owner)).map(toApiKeyRecord))
  }

  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    return attempt(() => {
      const row = this.#keys.revoke.get(at, id)
      return row && toApiKeyRecord(row)
    })
  }

  touchApiKey(id: string, at: string): Promise<void> {
    return attempt(() => {
      this.#keys.touch.run(at, id)
    })
  }

  close(): Promise<void> {
    return attempt(() => {
      if (this.#db.open) this.#db.close()
    })
  }
}

function toApiKeyRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    owner: row.owner,
    scope: row.scope,
    label: row.label,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
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

/**
 * Runs a synchronous better-sqlite3 call as a promise. A database still locked by another
 * process after busy_timeout is a passing condition: StoreUnavailableError, so the client
 * gets 503 and retries.
 */
function attempt<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation())
  } catch (error) {
    if (isBusy(error)) return Promise.reject(new StoreUnavailableError({ cause: error }))
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(error.code)
}
