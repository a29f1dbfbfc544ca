import pg from 'pg'
import type { AddressEntry } from '../../domain/address-entry.js'
import { EntryExistsError, StoreUnavailableError } from '../../domain/errors.js'
import type { Scope } from '../../domain/principal.js'
import { indexEntry, type EntryFilter, type SortKey } from '../../domain/listing.js'
import { likePattern } from '../like-pattern.js'
import { systemClock, type ApiKeyRecord, type Clock, type ListQuery, type NewApiKey, type Store, type StoredEntry } from '../store.js'
import { redactPassword } from '../store-config.js'
import { MIGRATION_LOCK_KEY, POSTGRES_MIGRATIONS } from './migrations.js'

interface EntryRow {
  id: string
  owner: string
  version: number
  created_at: Date
  updated_at: Date
  entry: AddressEntry
}

interface ApiKeyRow {
  id: string
  owner: string
  scope: Scope
  label: string | null
  secret_hash: string
  created_at: Date
  last_used_at: Date | null
  revoked_at: Date | null
}

export interface PostgresStoreOptions {
  clock?: Clock
  /** Most connections the pool opens. */
  poolSize?: number
  /** The server cancels a statement that runs longer. */
  statementTimeoutMs?: number
  /** Giving up on opening a connection after this long. */
  connectTimeoutMs?: number
  /** Told of errors on idle connections (a restarted server, say); the pool replaces them. */
  onBackgroundError?: (error: Error) => void
}

const COLUMNS = 'id, owner, version, created_at, updated_at, entry'
const KEY_COLUMNS = 'id, owner, scope, label, secret_hash, created_at, last_used_at, revoked_at'

/**
 * Keeps entries in PostgreSQL through a node-postgres pool, as jsonb beside the metadata
 * columns. Every statement is parameterized and each write is one statement, so concurrent
 * writers through any number of instances never see or leave a half-written entry. The schema
 * is migrated on first use, under an advisory lock; an unreachable server makes each call
 * reject with StoreUnavailableError until it is back, without restarting anything.
 */
export class PostgresStore implements Store {
  readonly description: string
  readonly #pool: pg.Pool
  readonly #clock: Clock
  #migrated: Promise<void> | undefined

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.description = `postgres:${redactPassword(url)}`
    this.#clock = options.clock ?? systemClock
    const statementTimeout = options.statementTimeoutMs ?? 5000
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      statement_timeout: statementTimeout,
      // A client-side bound too, for when the server stops answering altogether.
      query_timeout: statementTimeout + 1000,
      idleTimeoutMillis: 30_000,
      application_name: 'addrservice',
    })
    const onBackgroundError = options.onBackgroundError ?? (() => undefined)
    this.#pool.on('error', onBackgroundError)
  }

  async ready(): Promise<void> {
    await this.#query('SELECT 1', [])
  }

  /** Connects and applies pending migrations; every other method does it first when needed. */
  open(): Promise<void> {
    this.#migrated ??= this.#guard(() => migrate(this.#pool)).catch((error: unknown) => {
      this.#migrated = undefined
      throw error
    })
    return this.#migrated
  }

  /** The entry, its listing columns and its filter terms, in one statement. */
  async create(owner: string, id: string, entry: AddressEntry): Promise<StoredEntry> {
    const now = this.#clock().toISOString()
    const index = indexEntry(entry)
    try {
      await this.#query(
        `WITH created AS (
           INSERT INTO address_entries (${COLUMNS}, sort_name, search_text) VALUES ($1, $2, 1, $3, $3, $4::jsonb, $5, $6)
           RETURNING id, owner
         )
         INSERT INTO entry_terms (entry_id, owner, field, value)
         SELECT created.id, created.owner, term.field, term.value FROM created, jsonb_to_recordset($7::jsonb) AS term(field text, value text)`,
        [id, owner, now, JSON.stringify(entry), index.sortName, index.searchText, JSON.stringify(index.terms)],
      )
    } catch (error) {
      if ((error as { code?: unknown }).code === '23505') throw new EntryExistsError(id)
      throw error
    }
    return { id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry) }
  }

  /** One statement, so all or none: the entries, then every one's terms. */
  async createMany(owner: string, entries: readonly { readonly id: string; readonly entry: AddressEntry }[]): Promise<StoredEntry[]> {
    const now = this.#clock().toISOString()
    const rows = entries.map(({ id, entry }) => {
      const index = indexEntry(entry)
      return { id, entry, sort_name: index.sortName, search_text: index.searchText, terms: index.terms }
    })
    try {
      await this.#query(
        `WITH input AS (
           SELECT * FROM jsonb_to_recordset($2::jsonb) AS input(id text, entry jsonb, sort_name text, search_text text, terms jsonb)
         ),
         created AS (
           INSERT INTO address_entries (${COLUMNS}, sort_name, search_text)
           SELECT id, $1, 1, $3, $3, entry, sort_name, search_text FROM input
           RETURNING id
         )
         INSERT INTO entry_terms (entry_id, owner, field, value)
         SELECT created.id, $1, term.field, term.value
         FROM created JOIN input USING (id), jsonb_to_recordset(input.terms) AS term(field text, value text)`,
        [owner, JSON.stringify(rows), now],
      )
    } catch (error) {
      if ((error as { code?: unknown }).code === '23505') {
        const taken = /\(id\)=\(([^)]*)\)/.exec(String((error as { detail?: unknown }).detail))?.[1]
        throw new EntryExistsError(taken ?? entries[0]?.id ?? '')
      }
      throw error
    }
    return entries.map(({ id, entry }) => ({ id, owner, version: 1, createdAt: now, updatedAt: now, entry: structuredClone(entry) }))
  }

  async get(owner: string, id: string): Promise<StoredEntry | undefined> {
    const rows = await this.#query<EntryRow>(`SELECT ${COLUMNS} FROM address_entries WHERE owner = $1 AND id = $2`, [owner, id])
    return rows[0] && toStoredEntry(rows[0])
  }

  /**
   * One statement: the conditional update (so that no concurrent writer can slip between the
   * version check and the write), then the terms that changed.
   */
  async update(owner: string, id: string, entry: AddressEntry, ifVersion?: readonly number[]): Promise<StoredEntry | undefined> {
    const index = indexEntry(entry)
    const rows = await this.#query<Pick<EntryRow, 'version' | 'created_at' | 'updated_at'>>(
      `WITH updated AS (
         UPDATE address_entries SET entry = $3::jsonb, version = version + 1, updated_at = $4, sort_name = $5, search_text = $6
         WHERE owner = $1 AND id = $2 AND ($8::integer[] IS NULL OR version = ANY($8::integer[]))
         RETURNING id, owner, version, created_at, updated_at
       ),
       terms AS (SELECT field, value FROM jsonb_to_recordset($7::jsonb) AS term(field text, value text)),
       stale AS (
         DELETE FROM entry_terms WHERE entry_id IN (SELECT id FROM updated)
         AND (field, value) NOT IN (SELECT field, value FROM terms)
       ),
       added AS (
         INSERT INTO entry_terms (entry_id, owner, field, value)
         SELECT updated.id, updated.owner, terms.field, terms.value FROM updated, terms
         ON CONFLICT DO NOTHING
       )
       SELECT version, created_at, updated_at FROM updated`,
      [owner, id, JSON.stringify(entry), this.#clock().toISOString(), index.sortName, index.searchText, JSON.stringify(index.terms), ifVersion ?? null],
    )
    const [row] = rows
    if (!row) return undefined
    return {
      id,
      owner,
      version: row.version,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
      entry: structuredClone(entry),
    }
  }

  /** Its terms go with it (ON DELETE CASCADE). */
  async delete(owner: string, id: string, ifVersion?: readonly number[]): Promise<boolean> {
    const rows = await this.#query(
      'DELETE FROM address_entries WHERE owner = $1 AND id = $2 AND ($3::integer[] IS NULL OR version = ANY($3::integer[])) RETURNING id',
      [owner, id, ifVersion ?? null],
    )
    return rows.length > 0
  }

  async list(owner: string, { filter, sort, limit, after }: ListQuery): Promise<StoredEntry[]> {
    const { where, values } = filterSql(owner, filter)
    const { column, cast } = SORT_COLUMNS[sort.key]
    const direction = sort.descending ? 'DESC' : 'ASC'
    let position = ''
    if (after) {
      values.push(after.value, after.id)
      position = ` AND (${column}, id COLLATE "C") ${sort.descending ? '<' : '>'} ($${String(values.length - 1)}${cast}, $${String(values.length)})`
    }
    values.push(limit)
    const rows = await this.#query<EntryRow>(
      `SELECT ${COLUMNS} FROM address_entries WHERE ${where}${position}
       ORDER BY ${column} ${direction}, id COLLATE "C" ${direction} LIMIT $${String(values.length)}`,
      values,
    )
    return rows.map(toStoredEntry)
  }

  async count(owner: string, filter: EntryFilter): Promise<number> {
    const { where, values } = filterSql(owner, filter)
    const rows = await this.#query<{ total: number }>(`SELECT count(*)::integer AS total FROM address_entries WHERE ${where}`, values)
    return rows[0]?.total ?? 0
  }

  async createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    await this.#query(
      'INSERT INTO api_keys (id, owner, scope, label, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [key.id, key.owner, key.scope, key.label, key.secretHash, key.createdAt],
    )
    return { ...key, lastUsedAt: null, revokedAt: null }
  }

  async findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.#query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id])
    return rows[0] && toApiKeyRecord(rows[0])
  }

  async listApiKeys(owner?: string): Promise<ApiKeyRecord[]> {
    const rows =
      owner === undefined
        ? await this.#query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`, [])
        : await this.#query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE owner = $1 ORDER BY created_at, id`, [owner])
    return rows.map(toApiKeyRecord)
  }

  async revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.#query<ApiKeyRow>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
      [id, at],
    )
    return rows[0] && toApiKeyRecord(rows[0])
  }

  async touchApiKey(id: string, at: string): Promise<void> {
    await this.#query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, at])
  }

  /** Connections in the pool: open, idle, and callers waiting for one. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end()
  }

  async #query<Row extends object = object>(sql: string, values: unknown[]): Promise<Row[]> {
    await this.open()
    const result = await this.#guard(() => this.#pool.query<Row>(sql, values))
    return result.rows
  }

  /** Turns "the server is not there" into StoreUnavailableError; other errors pass unchanged. */
  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError({ cause: error })
      throw error
    }
  }
}

/**
 * SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57 (operator
 * intervention: shutdown, cancelled statement) and 40001/40P01, plus Node socket errors and
 * node-postgres's own timeouts.
 */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') {
    if (/^(08|53|57)/.test(code) || code === '40001' || code === '40P01') return true
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true
  }
  return /timeout|terminated|Connection ended|not queryable|Client has encountered a connection error/i.test(error.message)
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  // A checked-out client that loses its server emits 'error' beside failing its query; unheard,
  // that event would crash the process. The failed query reports the problem; this swallows the echo.
  const ignore = () => undefined
  client.on('error', ignore)
  let failure: Error | undefined
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query(
      'CREATE TABLE IF NOT EXISTS addrservice_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0)::integer AS version FROM addrservice_migrations')
    const applied = rows[0]?.version ?? 0
    if (applied > POSTGRES_MIGRATIONS.length) {
      throw new Error(
        `database schema version ${String(applied)} is newer than this addrservice knows (${String(POSTGRES_MIGRATIONS.length)})`,
      )
    }
    for (const [index, migration] of POSTGRES_MIGRATIONS.entries()) {
      if (index < applied) continue
      if (typeof migration === 'string') await client.query(migration)
      else await migration(client)
      await client.query('INSERT INTO addrservice_migrations (version) VALUES ($1)', [index + 1])
    }
    await client.query('COMMIT')
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error))
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.off('error', ignore)
    // A client that failed is destroyed rather than returned to the pool.
    client.release(failure)
  }
}

/** Sorting columns, with the cast a position's text needs to compare with them. Text sorts by code point ("C"), as in SQLite. */
const SORT_COLUMNS: Record<SortKey, { column: string; cast: string }> = {
  full_name: { column: 'sort_name COLLATE "C"', cast: '' },
  created: { column: 'created_at', cast: '::timestamptz' },
  updated: { column: 'updated_at', cast: '::timestamptz' },
}

/** The WHERE clause of a listing: the owner, each exact term (indexed), and the search (trigram index). */
function filterSql(owner: string, filter: EntryFilter): { where: string; values: unknown[] } {
  const values: unknown[] = [owner]
  const clauses = ['owner = $1']
  for (const term of filter.terms) {
    values.push(term.field, term.value)
    clauses.push(`id IN (SELECT entry_id FROM entry_terms WHERE owner = $1 AND field = $${String(values.length - 1)} AND value = $${String(values.length)})`)
  }
  if (filter.q !== undefined) {
    values.push(likePattern(filter.q))
    clauses.push(`search_text LIKE $${String(values.length)} ESCAPE '\\'`)
  }
  return { where: clauses.join(' AND '), values }
}

function toApiKeyRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    owner: row.owner,
    scope: row.scope,
    label: row.label,
    secretHash: row.secret_hash,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  }
}

function toStoredEntry(row: EntryRow): StoredEntry {
  return {
    id: row.id,
    owner: row.owner,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    entry: row.entry,
  }
}
