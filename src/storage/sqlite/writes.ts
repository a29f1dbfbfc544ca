import Database from 'better-sqlite3'
import type { EntryIndex } from '../../domain/listing.js'
import type { NewApiKey } from '../store.js'

/**
 * Every write the SQLite store makes, as plain data: what the writer thread receives. Timestamps,
 * JSON and index terms are computed by the caller, so that the writer only writes.
 */
export type WriteOp =
  | { readonly kind: 'create'; readonly owner: string; readonly now: string; readonly items: readonly NewRow[] }
  | {
      readonly kind: 'update'
      readonly owner: string
      readonly id: string
      readonly now: string
      readonly entry: string
      readonly index: EntryIndex
      /** A JSON list of the versions the write is conditional on, or null for none. */
      readonly versions: string | null
    }
  | { readonly kind: 'delete'; readonly owner: string; readonly id: string; readonly versions: string | null }
  | { readonly kind: 'createApiKey'; readonly key: NewApiKey }
  | { readonly kind: 'revokeApiKey'; readonly id: string; readonly at: string }
  | { readonly kind: 'touchApiKey'; readonly id: string; readonly at: string }

export interface NewRow {
  readonly id: string
  readonly entry: string
  readonly index: EntryIndex
}

/** Why a write failed, as it crosses from the writer thread (an Error's own members do not). */
export interface WriteFailure {
  readonly message: string
  readonly code?: string
  /** The id of an entry that already exists, when that is why. */
  readonly takenId?: string
}

export type WriteOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly failure: WriteFailure }

export const KEY_COLUMNS = 'id, owner, scope, label, secret_hash, created_at, last_used_at, revoked_at'

/**
 * The statements of every write, prepared once on one connection, and `commit`: a batch of writes
 * in one transaction, so one sync to disk makes them all durable. Each write runs in a savepoint
 * of its own: one that fails is undone alone and reported, the others commit.
 */
export class Writes {
  readonly #db: Database.Database
  readonly #insert: Database.Statement<[string, string, string, string, string, string], { seq: number }>
  readonly #update: Database.Statement<
    [{ entry: string; updatedAt: string; sortName: string; owner: string; id: string; versions: string | null }],
    { seq: number; version: number; created_at: string; updated_at: string }
  >
  readonly #delete: Database.Statement<[{ owner: string; id: string; versions: string | null }], { seq: number }>
  readonly #insertTerm: Database.Statement<[number, string, string, string]>
  readonly #deleteTerms: Database.Statement<[number]>
  readonly #insertSearch: Database.Statement<[number, string]>
  readonly #deleteSearch: Database.Statement<[number]>
  readonly #insertKey: Database.Statement<[string, string, string, string | null, string, string]>
  readonly #revokeKey: Database.Statement<[string, string]>
  readonly #touchKey: Database.Statement<[string, string]>

  constructor(db: Database.Database) {
    this.#db = db
    this.#insert = db.prepare(
      `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, entry) VALUES (?, ?, 1, ?, ?, ?, ?) RETURNING seq`,
    )
    this.#update = db.prepare(
      `UPDATE address_entries SET entry = @entry, version = version + 1, updated_at = @updatedAt, sort_name = @sortName
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq, version, created_at, updated_at`,
    )
    this.#delete = db.prepare(
      `DELETE FROM address_entries
       WHERE owner = @owner AND id = @id AND (@versions IS NULL OR version IN (SELECT value FROM json_each(@versions)))
       RETURNING seq`,
    )
    this.#insertTerm = db.prepare('INSERT OR IGNORE INTO entry_terms (seq, owner, field, value) VALUES (?, ?, ?, ?)')
    this.#deleteTerms = db.prepare('DELETE FROM entry_terms WHERE seq = ?')
    this.#insertSearch = db.prepare('INSERT INTO entry_search (rowid, search_text) VALUES (?, ?)')
    this.#deleteSearch = db.prepare('DELETE FROM entry_search WHERE rowid = ?')
    this.#insertKey = db.prepare(`INSERT INTO api_keys (id, owner, scope, label, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
    this.#revokeKey = db.prepare(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING ${KEY_COLUMNS}`)
    this.#touchKey = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?')
  }

  /** Writes the batch in one transaction; resolves each write's outcome once it is committed. */
  commit(batch: readonly WriteOp[]): WriteOutcome[] {
    const outcomes: WriteOutcome[] = []
    try {
      this.#db.exec('BEGIN IMMEDIATE')
    } catch (error) {
      return batch.map(() => ({ ok: false, failure: failureOf(error) }))
    }
    try {
      for (const op of batch) {
        this.#db.exec('SAVEPOINT write')
        try {
          outcomes.push({ ok: true, value: this.#apply(op) })
          this.#db.exec('RELEASE write')
        } catch (error) {
          this.#db.exec('ROLLBACK TO write')
          this.#db.exec('RELEASE write')
          outcomes.push({ ok: false, failure: failureOf(error, op.kind === 'create' ? this.#taken : undefined) })
        }
      }
      this.#db.exec('COMMIT')
      return outcomes
    } catch (error) {
      // The commit itself failed (the disk, say): nothing of the batch is stored.
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      return batch.map(() => ({ ok: false, failure: failureOf(error) }))
    }
  }

  /** The id the last create was inserting, named when it turns out to be taken. */
  #taken: string | undefined

  #apply(op: WriteOp): unknown {
    switch (op.kind) {
      case 'create':
        for (const item of op.items) {
          this.#taken = item.id
          const row = this.#insert.get(item.id, op.owner, op.now, op.now, item.index.sortName, item.entry)
          if (row) this.#writeIndex(row.seq, op.owner, item.index)
        }
        return undefined
      case 'update': {
        const row = this.#update.get({ entry: op.entry, updatedAt: op.now, sortName: op.index.sortName, owner: op.owner, id: op.id, versions: op.versions })
        if (!row) return undefined
        this.#clearIndex(row.seq)
        this.#writeIndex(row.seq, op.owner, op.index)
        return { version: row.version, createdAt: row.created_at, updatedAt: row.updated_at }
      }
      case 'delete': {
        const row = this.#delete.get({ owner: op.owner, id: op.id, versions: op.versions })
        if (row) this.#clearIndex(row.seq)
        return row !== undefined
      }
      case 'createApiKey': {
        const { key } = op
        this.#insertKey.run(key.id, key.owner, key.scope, key.label, key.secretHash, key.createdAt)
        return undefined
      }
      case 'revokeApiKey':
        return this.#revokeKey.get(op.at, op.id)
      case 'touchApiKey':
        this.#touchKey.run(op.at, op.id)
        return undefined
    }
  }

  #writeIndex(seq: number, owner: string, index: EntryIndex): void {
    for (const term of index.terms) this.#insertTerm.run(seq, owner, term.field, term.value)
    this.#insertSearch.run(seq, index.searchText)
  }

  #clearIndex(seq: number): void {
    this.#deleteTerms.run(seq)
    this.#deleteSearch.run(seq)
  }
}

function failureOf(error: unknown, id?: string): WriteFailure {
  const code = error instanceof Database.SqliteError ? error.code : undefined
  const taken = code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
  return {
    message: error instanceof Error ? error.message : String(error),
    ...(code === undefined ? {} : { code }),
    ...(taken && id !== undefined ? { takenId: id } : {}),
  }
}
