import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { EntryExistsError, StoreUnavailableError } from '../../src/domain/errors.js'
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js'
import { LIST_STAMPS, PostgresStore } from '../../src/storage/postgres/postgres-store.js'
import { redactPassword } from '../../src/storage/store-config.js'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import type { StoredEntry } from '../../src/storage/store.js'
import { DEFAULT_SORT, indexEntry, normalizeFilter, type FilterRequest, type Sort } from '../../src/domain/listing.js'
import { storedEntries } from '../helpers/stores.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'

/** A port on which nothing listens: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  return typeof address === 'object' && address ? address.port : 1
}

/** Applies the first `count` migrations to a new database, as a service of that version left it. */
async function migrateTo(client: pg.PoolClient, count: number): Promise<void> {
  await client.query('CREATE TABLE addrservice_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
  for (const [index, migration] of POSTGRES_MIGRATIONS.slice(0, count).entries()) {
    if (typeof migration === 'string') await client.query(migration)
    else await migration(client)
    await client.query('INSERT INTO addrservice_migrations (version) VALUES ($1)', [index + 1])
  }
}

describe('PostgresStore without a server', () => {
  test('when nothing listens at the URL, then every call rejects with StoreUnavailableError', async (t) => {
    const store = new PostgresStore(`postgres://postgres@127.0.0.1:${String(await closedPort())}/none`, { connectTimeoutMs: 1000 })
    t.after(() => store.close())

    await assert.rejects(store.ready(), StoreUnavailableError)
    await assert.rejects(store.create('default', 'a', anEntry()), StoreUnavailableError)
    await assert.rejects(storedEntries(store, 'default'), StoreUnavailableError)
  })

  test('when a URL carries a password, then the description hides it', () => {
    const store = new PostgresStore('postgres://app:s3cret@db.internal:5432/contacts')

    assert.equal(store.description, 'postgres:postgres://app:***@db.internal:5432/contacts')
    assert.equal(redactPassword('not a url'), 'postgres://(unparseable URL)')
  })
})

/** Resolves once `count` of the store's sessions wait on a lock; rejects after two seconds. */
async function waitForLockWaits(url: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (let attempt = 0; attempt < 200; attempt++) {
      const { rows } = await client.query<{ waiting: number }>(
        `SELECT count(*)::integer AS waiting FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'addrservice' AND wait_event_type = 'Lock'`,
      )
      if ((rows[0]?.waiting ?? 0) >= count) return
      await sleep(10)
    }
    throw new Error(`${String(count)} sessions never waited on a lock`)
  } finally {
    await client.end()
  }
}

/** Resolves once `ready` holds; rejects after two seconds. */
async function eventually(what: string, ready: () => boolean | Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await ready()) return
    await sleep(10)
  }
  throw new Error(`${what} never happened`)
}

/** An entry with one email: its terms are told apart by it. */
const withEmail = (email: string) => anEntry({ full_name: email, emails: [{ kind: 'home', email }] })

describe('PostgresStore on a server', { skip: POSTGRES_SKIP }, () => {
  const postgres = POSTGRES_SKIP ? undefined : useTestPostgres()
  const freshUrl = (t: Parameters<NonNullable<typeof postgres>['freshSchemaUrl']>[0]) => {
    assert.ok(postgres)
    return postgres.freshSchemaUrl(t)
  }
  const query = async <Row extends object>(url: string, sql: string, values: unknown[] = []): Promise<Row[]> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query<Row>(sql, values)).rows
    } finally {
      await client.end()
    }
  }

  test('when a database from before the listing index is opened, then its entries are indexed: searchable and filterable', async (t) => {
    const url = await freshUrl(t)
    await query(url, 'CREATE TABLE addrservice_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    for (const [index, migration] of POSTGRES_MIGRATIONS.slice(0, 2).entries()) {
      await query(url, String(migration))
      await query(url, 'INSERT INTO addrservice_migrations (version) VALUES ($1)', [index + 1])
    }
    await query(url, `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry) VALUES ('e1', 'default', 1, now(), now(), $1::jsonb)`, [
      JSON.stringify(anEntry({ full_name: 'Ada Lovelace', emails: [{ kind: 'home', email: 'ada@example.org' }] })),
    ])
    const store = new PostgresStore(url)
    t.after(() => store.close())

    const found = await store.list('default', { filter: normalizeFilter({ q: 'LOVE' }), sort: DEFAULT_SORT, limit: 10 })

    assert.deepEqual(found.map((stored) => stored.id), ['e1'])
    assert.equal(await store.count('default', normalizeFilter({ email: 'ADA@example.org' })), 1)
    const [version] = await query<{ version: number }>(url, 'SELECT max(version) AS version FROM addrservice_migrations')
    assert.equal(version?.version, POSTGRES_MIGRATIONS.length)
  })

  test('when the planner may not scan, then a search and an exact filter are answered from their indexes', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'e1', anEntry({ full_name: 'Ada Lovelace' }))
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    t.after(() => client.end())
    await client.query('SET enable_seqscan = off')

    const plan = async (sql: string) => (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows.map((row) => row['QUERY PLAN']).join('\n')
    // The planner weighs the owner's index against this one by their statistics; the point here is that this one serves LIKE.
    const search = await plan("SELECT id FROM address_entries WHERE search_text LIKE '%lovelace%'")
    const term = await plan("SELECT entry_id FROM entry_terms WHERE owner = 'default' AND field = 'email' AND value = 'ada@example.org'")

    assert.match(search, /address_entries_search/, search)
    assert.match(term, /entry_terms_pkey/, term)
  })

  test('when many instances start at once on a new database, then the schema is migrated exactly once', async (t) => {
    const url = await freshUrl(t)
    const stores = Array.from({ length: 6 }, () => new PostgresStore(url, { poolSize: 2 }))
    t.after(() => Promise.all(stores.map((store) => store.close())))

    await Promise.all(stores.map((store) => store.ready()))

    const rows = await query<{ version: number }>(url, 'SELECT version FROM addrservice_migrations ORDER BY version')
    assert.deepEqual(rows.map((row) => row.version), POSTGRES_MIGRATIONS.map((_, index) => index + 1))
  })

  test('when the database has a newer schema, then the store refuses it and changes nothing', async (t) => {
    const url = await freshUrl(t)
    const first = new PostgresStore(url)
    await first.ready()
    await first.close()
    await query(url, 'INSERT INTO addrservice_migrations (version) VALUES ($1)', [POSTGRES_MIGRATIONS.length + 1])
    const store = new PostgresStore(url)
    t.after(() => store.close())

    await assert.rejects(store.ready(), new RegExp(`schema version ${String(POSTGRES_MIGRATIONS.length + 1)} is newer`))
    const rows = await query<{ count: string }>(url, 'SELECT count(*) FROM addrservice_migrations')
    assert.equal(rows[0]?.count, String(POSTGRES_MIGRATIONS.length + 1))
  })

  test('when an entry is stored, then metadata are columns and the jsonb holds only the entry', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())

    await store.create('default', 'e1', aFullEntry())

    const [row] = await query<Record<string, unknown>>(url, 'SELECT id, owner, version, created_at, updated_at, entry, jsonb_typeof(entry) AS type FROM address_entries')
    assert.equal(row?.type, 'object')
    assert.deepEqual(row.entry, aFullEntry())
    assert.deepEqual([row.id, row.owner, row.version], ['e1', 'default', 1])
    assert.ok(row.created_at instanceof Date && row.updated_at instanceof Date)
  })

  test('when two instances update the same entry concurrently, then no update is lost', async (t) => {
    const url = await freshUrl(t)
    const [one, two] = [new PostgresStore(url, { poolSize: 4 }), new PostgresStore(url, { poolSize: 4 })]
    t.after(() => Promise.all([one.close(), two.close()]))
    await one.create('default', 'e1', anEntry())

    const updates = Array.from({ length: 40 }, (_, index) =>
      (index % 2 ? one : two).update('default', 'e1', anEntry({ full_name: `Name ${String(index)}` })),
    )
    const results = await Promise.all(updates)

    const versions = results.map((result) => result?.version).sort((a, b) => (a ?? 0) - (b ?? 0))
    assert.deepEqual(versions, Array.from({ length: 40 }, (_, index) => index + 2))
    const final = await two.get('default', 'e1')
    assert.equal(final?.version, 41)
    const winner = results.find((result) => result?.version === 41)
    assert.deepEqual(final.entry, winner?.entry)
  })

  test('when many writers through two instances write to one owner while a reader follows, then the seqs run 1..n without a gap and the reader never skips one', async (t) => {
    const url = await freshUrl(t)
    const [one, two] = [new PostgresStore(url, { poolSize: 6 }), new PostgresStore(url, { poolSize: 6 })]
    t.after(() => Promise.all([one.close(), two.close()]))
    await one.create('default', 'taken', anEntry())
    await one.create('someone-else', 'e0', anEntry())
    let writing = true
    const seen: number[] = []
    // Follows the way a syncing client does: after the last seq it saw. Creates only, so that no
    // seq is superseded: every seq that exists stays visible, and one that is skipped is a gap.
    const follow = async () => {
      let since = 0
      for (let more = true; writing || more; ) {
        const page = await two.changesSince('default', since, 7)
        for (const change of page.changes) {
          assert.equal(change.seq, since + 1, `after ${String(since)} came ${String(change.seq)}`)
          since = change.seq
          seen.push(change.seq)
        }
        more = page.more
      }
    }
    const reader = follow()

    const writes = Array.from({ length: 120 }, (_, index) => {
      const store = index % 2 ? one : two
      const id = `e${String(index)}`
      if (index % 10 === 3) return store.create('default', 'taken', anEntry()).then(() => 'created', () => 'refused')
      if (index % 10 === 7) return store.createMany('default', [{ id, entry: anEntry() }, { id: `${id}b`, entry: anEntry() }]).then(() => 'created twice')
      return store.create('default', id, anEntry()).then(() => 'created')
    })
    const outcomes = await Promise.all(writes)
    writing = false
    await reader

    const written = 1 + outcomes.filter((outcome) => outcome === 'created').length + 2 * outcomes.filter((outcome) => outcome === 'created twice').length
    assert.equal(outcomes.filter((outcome) => outcome === 'refused').length, 12)
    assert.deepEqual(await one.changePosition('default'), { latest: written, forgottenThrough: 0 })
    assert.deepEqual(seen, Array.from({ length: written }, (_, index) => index + 1))
    assert.deepEqual((await one.changePosition('someone-else')).latest, 1)
  })

  test('when a write has taken its seq but not committed, then a later write of the owner waits for it, and readers see neither before it', async (t) => {
    const url = await freshUrl(t)
    const [one, two] = [new PostgresStore(url), new PostgresStore(url)]
    t.after(() => Promise.all([one.close(), two.close()]))
    await one.ready()
    const blocker = new pg.Client({ connectionString: url })
    await blocker.connect()
    t.after(() => blocker.end())
    const settled: string[] = []
    let whileHeld
    let first: Promise<unknown> | undefined
    let second: Promise<unknown> | undefined
    try {
      // An uncommitted row with the id the first write creates: that write takes seq 1, then waits for this transaction.
      await blocker.query('BEGIN')
      await blocker.query(
        `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry, sort_name, search_text, created_seq, changed_seq)
         VALUES ('held', 'default', 1, now(), now(), '{}', '', '', 1000, 1000)`,
      )
      first = one.create('default', 'held', anEntry({ full_name: 'First' })).then(() => settled.push('first'))
      await waitForLockWaits(url, 1)
      second = two.create('default', 'second', anEntry({ full_name: 'Second' })).then(() => settled.push('second'))
      // Either it waits, as it should, or it commits a seq after one that nobody can see yet.
      await Promise.race([waitForLockWaits(url, 2), second])

      whileHeld = { changes: await one.changesSince('default', 0, 10), position: await two.changePosition('default'), settled: [...settled] }
    } finally {
      await blocker.query('ROLLBACK')
    }
    await Promise.all([first, second])

    assert.deepEqual(whileHeld, { changes: { changes: [], more: false }, position: { latest: 0, forgottenThrough: 0 }, settled: [] })
    assert.deepEqual(settled, ['first', 'second'])
    assert.deepEqual((await two.changesSince('default', 0, 10)).changes.map((change) => [change.seq, change.id]), [
      [1, 'held'],
      [2, 'second'],
    ])
  })

  /** A connection of the test's own, beside the stores': to hold locks and write rows as another writer would. */
  const aConnection = async (t: Parameters<typeof freshUrl>[0], url: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    t.after(() => client.end())
    return client
  }
  const rawEntry = (id: string, seq: number) =>
    `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry, sort_name, search_text, created_seq, changed_seq)
     VALUES ('${id}', 'default', 1, now(), now(), '{"full_name": "Raw"}', 'raw', 'raw', ${String(seq)}, ${String(seq)})`

  test('when updates of one entry wait for each other, then each that goes through replaces the terms the one before it wrote, and one whose version no longer matches takes no seq', async (t) => {
    const url = await freshUrl(t)
    const [one, two] = [new PostgresStore(url), new PostgresStore(url)]
    t.after(() => Promise.all([one.close(), two.close()]))
    await one.create('default', 'e1', withEmail('first@example.org'))
    const blocker = await aConnection(t, url)
    const updates: Promise<StoredEntry | undefined>[] = []
    try {
      // Each update takes its snapshot, then waits for the entry behind the one before it.
      await blocker.query('BEGIN')
      await blocker.query("SELECT FROM address_entries WHERE owner = 'default' AND id = 'e1' FOR UPDATE")
      updates.push(one.update('default', 'e1', withEmail('second@example.org')))
      await waitForLockWaits(url, 1)
      updates.push(two.update('default', 'e1', withEmail('stale@example.org'), [1]))
      await waitForLockWaits(url, 2)
      updates.push(two.update('default', 'e1', withEmail('third@example.org')))
      await waitForLockWaits(url, 3)
    } finally {
      await blocker.query('ROLLBACK')
    }
    const results = await Promise.all(updates)

    assert.deepEqual(results.map((result) => result?.version), [2, undefined, 3])
    const found = async (email: string) => (await one.list('default', { filter: normalizeFilter({ email }), sort: DEFAULT_SORT, limit: 10 })).map((stored) => stored.id)
    assert.deepEqual(
      { first: await found('first@example.org'), second: await found('second@example.org'), stale: await found('stale@example.org'), third: await found('third@example.org') },
      { first: [], second: [], stale: [], third: ['e1'] },
    )
    assert.deepEqual(await one.changePosition('default'), { latest: 3, forgottenThrough: 0 })
    assert.deepEqual((await two.changesSince('default', 0, 10)).changes.map((change) => [change.seq, change.id, change.stored?.entry.full_name]), [[3, 'e1', 'third@example.org']])
  })

  test('when an id is created by another write after a create\'s snapshot, then the create is refused with that id and takes no seq', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.ready()
    const other = await aConnection(t, url)
    let refused: Promise<unknown> | undefined
    try {
      await other.query('BEGIN')
      await other.query(rawEntry('taken', 1000))
      refused = store.createMany('default', [{ id: 'free', entry: anEntry() }, { id: 'taken', entry: anEntry() }])
      // It took its seqs, and waits to learn whether the other write keeps the id.
      await waitForLockWaits(url, 1)
    } finally {
      await other.query('COMMIT')
    }

    await assert.rejects(refused, (error: unknown) => error instanceof EntryExistsError && error.id === 'taken')
    assert.equal(await store.get('default', 'free'), undefined)
    assert.deepEqual(await store.changePosition('default'), { latest: 0, forgottenThrough: 0 })
  })

  test('when deletions of ids commit after the snapshot of the create that makes them again, then their tombstones are not read, one is replaced by the next deletion, and neither counts as forgotten', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'other', anEntry({ full_name: 'Other' }))
    const others = await aConnection(t, url)
    let created: Promise<unknown> | undefined
    try {
      // Stands for writes that create and delete x and y (seqs 2 to 5), holding the counter while the create waits.
      await others.query('BEGIN')
      await others.query("UPDATE change_counters SET latest = latest + 4 WHERE owner = 'default'")
      created = store.createMany('default', [{ id: 'x', entry: anEntry({ full_name: 'X again' }) }, { id: 'y', entry: anEntry({ full_name: 'Y again' }) }])
      await waitForLockWaits(url, 1)
      await others.query("INSERT INTO tombstones (owner, id, seq, deleted_at) VALUES ('default', 'x', 3, '2024-01-01T00:00:00Z'), ('default', 'y', 5, '2024-01-01T00:00:00Z')")
    } finally {
      await others.query('COMMIT')
    }
    await created
    const brief = async () => (await store.changesSince('default', 0, 10)).changes.map((change) => [change.seq, change.id, change.kind])

    const afterCreate = await brief()
    const deleted = await store.delete('default', 'x')
    const afterDelete = await brief()
    const forgotten = await store.forgetDeletionsBefore('3000-01-01T00:00:00.000Z')

    assert.deepEqual(afterCreate, [[1, 'other', 'created'], [6, 'x', 'created'], [7, 'y', 'created']])
    assert.equal(deleted, true)
    assert.deepEqual(afterDelete, [[1, 'other', 'created'], [7, 'y', 'created'], [8, 'x', 'deleted']])
    assert.equal(forgotten, 1)
    assert.deepEqual(await store.changePosition('default'), { latest: 8, forgottenThrough: 8 })
    assert.deepEqual(await brief(), [[1, 'other', 'created'], [7, 'y', 'created']])
  })

  test('when a create and a delete of one id both wait for the owner\'s counter, then neither waits for the other', async (t) => {
    const url = await freshUrl(t)
    const [one, two] = [new PostgresStore(url), new PostgresStore(url)]
    t.after(() => Promise.all([one.close(), two.close()]))
    await one.create('default', 'other', anEntry())
    const counter = await aConnection(t, url)
    let create: Promise<string> | undefined
    let deletion: Promise<boolean> | undefined
    try {
      await counter.query('BEGIN')
      await counter.query("UPDATE change_counters SET latest = latest + 1 WHERE owner = 'default'")
      // The create's snapshot has no x; x is there by the time it holds the counter, locked by the delete.
      create = one.create('default', 'x', anEntry()).then(() => 'created', (error: unknown) => (error instanceof EntryExistsError ? 'refused' : String(error)))
      await waitForLockWaits(url, 1)
      await query(url, rawEntry('x', 2))
      deletion = two.delete('default', 'x')
      await waitForLockWaits(url, 2)
    } finally {
      await counter.query('COMMIT')
    }

    const [created, deleted] = await Promise.all([create, deletion])

    // Had either waited for the other, the server would have broken the deadlock by failing one of them.
    assert.equal(deleted, true)
    const changes = (await one.changesSince('default', 0, 10)).changes.map((change) => [change.seq, change.id, change.kind])
    // The create is refused while x is there, or makes x again once the deletion has committed.
    if (created === 'refused') assert.deepEqual(changes, [[1, 'other', 'created'], [3, 'x', 'deleted']])
    else assert.deepEqual({ created, changes }, { created: 'created', changes: [[1, 'other', 'created'], [4, 'x', 'created']] })
  })

  test('when creates of one owner arrive while one of theirs is in flight, then they go together: in one transaction, each with its own seq in the order asked and its result under its own key', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'earlier', anEntry())
    for (const key of ['key-b', 'key-c']) await store.claimIdempotencyKey('default', key, 'fingerprint', { now: '2024-01-01T00:00:00Z', leaseUntil: '2024-01-01T00:01:00Z', expiresAt: '2024-01-02T00:00:00Z' })
    const counter = await aConnection(t, url)
    const creates: Promise<StoredEntry>[] = []
    try {
      await counter.query('BEGIN')
      await counter.query("UPDATE change_counters SET latest = latest WHERE owner = 'default'")
      creates.push(store.create('default', 'a', anEntry({ full_name: 'A' })))
      await waitForLockWaits(url, 1)
      creates.push(store.create('default', 'b', anEntry({ full_name: 'B' }), { idempotency: { key: 'key-b', result: 'made b' } }))
      creates.push(store.create('default', 'c', anEntry({ full_name: 'C' }), { idempotency: { key: 'key-c', result: 'made c' } }))
      creates.push(store.create('default', 'd', anEntry({ full_name: 'D' })))
    } finally {
      await counter.query('COMMIT')
    }

    const stored = await Promise.all(creates)

    assert.deepEqual(stored.map((entry) => [entry.id, entry.version, entry.entry.full_name]), [['a', 1, 'A'], ['b', 1, 'B'], ['c', 1, 'C'], ['d', 1, 'D']])
    assert.deepEqual((await store.changesSince('default', 1, 10)).changes.map((change) => [change.seq, change.id]), [[2, 'a'], [3, 'b'], [4, 'c'], [5, 'd']])
    const transactions = await query<{ id: string; xmin: string }>(url, "SELECT id, xmin::text FROM address_entries WHERE owner = 'default' AND id IN ('a', 'b', 'c', 'd') ORDER BY id")
    const [a, b, c, d] = transactions.map((row) => row.xmin)
    assert.ok(a !== b && b === c && c === d, `one transaction for b, c and d, another for a: ${JSON.stringify(transactions)}`)
    const results = await query<{ key: string; result: string }>(url, "SELECT key, result FROM idempotency_keys WHERE owner = 'default' ORDER BY key")
    assert.deepEqual(results, [{ key: 'key-b', result: 'made b' }, { key: 'key-c', result: 'made c' }])
  })

  test('when creates that go together include a taken id, an id asked twice and an entry the database refuses, then only those are refused, each with its own error, and the others take seqs without a gap', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'taken', anEntry())
    await query(url, "ALTER TABLE address_entries ADD CONSTRAINT no_refused CHECK (id <> 'refused')")
    const counter = await aConnection(t, url)
    const outcomes: Promise<string>[] = []
    const ask = (id: string) =>
      outcomes.push(
        store.create('default', id, anEntry()).then(
          () => 'created',
          (error: unknown) => (error instanceof EntryExistsError ? `exists: ${error.id}` : `code ${String((error as { code?: unknown }).code)}`),
        ),
      )
    try {
      await counter.query('BEGIN')
      await counter.query("UPDATE change_counters SET latest = latest WHERE owner = 'default'")
      ask('a')
      await waitForLockWaits(url, 1)
      for (const id of ['taken', 'b', 'b', 'refused', 'c']) ask(id)
    } finally {
      await counter.query('COMMIT')
    }

    assert.deepEqual(await Promise.all(outcomes), ['created', 'exists: taken', 'created', 'exists: b', 'code 23514', 'created'])
    assert.deepEqual((await store.changesSince('default', 0, 10)).changes.map((change) => [change.seq, change.id]), [
      [1, 'taken'],
      [2, 'a'],
      [3, 'b'],
      [4, 'c'],
    ])
    assert.deepEqual(await store.changePosition('default'), { latest: 4, forgottenThrough: 0 })
  })

  test('when the create in flight loses the server, then the creates waiting for it fail with it instead of trying in turn', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'earlier', anEntry())
    const counter = await aConnection(t, url)
    const outcomes: Promise<string>[] = []
    const ask = (id: string) =>
      outcomes.push(store.create('default', id, anEntry()).then(() => 'created', (error: unknown) => (error instanceof StoreUnavailableError ? 'unavailable' : String(error))))
    try {
      await counter.query('BEGIN')
      await counter.query("UPDATE change_counters SET latest = latest WHERE owner = 'default'")
      ask('a')
      await waitForLockWaits(url, 1)
      ask('b')
      ask('c')
      await counter.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'addrservice' AND wait_event_type = 'Lock'")
    } finally {
      // Had b and c been tried after a, this would let them through.
      await counter.query('COMMIT')
    }

    assert.deepEqual(await Promise.all(outcomes), ['unavailable', 'unavailable', 'unavailable'])
    assert.equal((await store.create('default', 'after', anEntry())).id, 'after')
    assert.deepEqual((await store.changesSince('default', 0, 10)).changes.map((change) => [change.seq, change.id]), [
      [1, 'earlier'],
      [2, 'after'],
    ])
  })

  test('when the server ends the store\'s connections, then its prepared statements are prepared again on new ones', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url, { poolSize: 2 })
    t.after(() => store.close())
    const use = async (id: string) => {
      await store.create('default', id, anEntry())
      await store.update('default', id, anEntry({ full_name: 'Renamed' }))
      const stored = await store.get('default', id)
      await store.delete('default', id)
      return stored?.entry.full_name
    }
    await Promise.all([use('a'), use('b')])
    const admin = await aConnection(t, url)

    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'addrservice'")
    await eventually('the pool dropping its ended connections', () => store.poolStats().total === 0)

    assert.deepEqual(await Promise.all([use('c'), use('d')]), ['Renamed', 'Renamed'])
    assert.deepEqual(await store.changePosition('default'), { latest: 12, forgottenThrough: 0 })
  })

  test('when a database from before the change sequence is opened, then ids are unique per owner and existing entries are numbered in creation order', async (t) => {
    const url = await freshUrl(t)
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    t.after(() => pool.end())
    const client = await pool.connect()
    try {
      await migrateTo(client, 3)
      const insert = async (id: string, owner: string, createdAt: string, entry: AddressEntry) => {
        const index = indexEntry(entry)
        await client.query(
          `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry, sort_name, search_text) VALUES ($1, $2, 1, $3, $3, $4, $5, $6)`,
          [id, owner, createdAt, JSON.stringify(entry), index.sortName, index.searchText],
        )
        await client.query(
          'INSERT INTO entry_terms (entry_id, owner, field, value) SELECT $1, $2, field, value FROM jsonb_to_recordset($3::jsonb) AS term(field text, value text)',
          [id, owner, JSON.stringify(index.terms)],
        )
      }
      await insert('later', 'default', '2024-01-02T00:00:00.000Z', anEntry({ full_name: 'Later' }))
      await insert('first', 'default', '2024-01-01T00:00:00.000Z', anEntry({ full_name: 'First', emails: [{ kind: 'home', email: 'first@example.org' }] }))
      await insert('bobs', 'bob', '2024-01-03T00:00:00.000Z', anEntry({ full_name: 'Bob' }))
    } finally {
      client.release()
    }
    const store = new PostgresStore(url)
    t.after(() => store.close())

    const page = await store.changesSince('default', 0, 10)
    await store.create('bob', 'first', anEntry({ full_name: 'Bob too' }))
    await store.delete('bob', 'first')

    assert.deepEqual(page.changes.map((change) => [change.seq, change.id, change.kind]), [
      [1, 'first', 'created'],
      [2, 'later', 'created'],
    ])
    assert.deepEqual(await store.changePosition('default'), { latest: 2, forgottenThrough: 0 })
    assert.deepEqual(await store.changePosition('bob'), { latest: 3, forgottenThrough: 0 })
    assert.equal(await store.count('default', normalizeFilter({ email: 'first@example.org' })), 1)
    assert.equal((await store.get('default', 'first'))?.entry.full_name, 'First')
    const [version] = await query<{ version: number }>(url, 'SELECT max(version) AS version FROM addrservice_migrations')
    assert.equal(version?.version, POSTGRES_MIGRATIONS.length)
  })

  test('when a database from before card data is opened, then its entries and tombstones have none, and card names can then be given and found', async (t) => {
    const url = await freshUrl(t)
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    t.after(() => pool.end())
    const client = await pool.connect()
    const beforeCardData = POSTGRES_MIGRATIONS.findIndex((migration) => typeof migration === 'string' && migration.includes('card_name'))
    try {
      await migrateTo(client, beforeCardData)
      const index = indexEntry(anEntry())
      await client.query(
        `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry, sort_name, search_text, created_seq, changed_seq)
         VALUES ('old', 'default', 1, now(), now(), $1, $2, $3, 1, 1)`,
        [JSON.stringify(anEntry()), index.sortName, index.searchText],
      )
      await client.query("INSERT INTO tombstones (owner, id, seq, deleted_at) VALUES ('default', 'gone', 2, now())")
      await client.query("INSERT INTO change_counters (owner, latest) VALUES ('default', 2)")
    } finally {
      client.release()
    }
    const store = new PostgresStore(url)
    t.after(() => store.close())

    const stored = await store.get('default', 'old')
    const { changes } = await store.changesSince('default', 0, 10)
    await store.update('default', 'old', anEntry(), undefined, { card: { name: 'old.vcf' } })

    assert.ok(stored)
    assert.equal('card' in stored, false)
    assert.deepEqual(changes.map((change) => [change.id, change.kind, 'card' in (change.stored ?? {}), 'name' in change]), [
      ['old', 'created', false, false],
      ['gone', 'deleted', false, false],
    ])
    assert.equal((await store.findByName('default', 'old.vcf'))?.id, 'old')
    await assert.rejects(store.create('default', 'new', anEntry(), { card: { name: 'old.vcf' } }), EntryExistsError)
    const [version] = await query<{ version: number }>(url, 'SELECT max(version) AS version FROM addrservice_migrations')
    assert.equal(version?.version, POSTGRES_MIGRATIONS.length)
  })

  test('when a database from before history is opened, then its photos are kept under their entity tags, its entries were made through the API, and a photo replaced since stays for a restore', async (t) => {
    const url = await freshUrl(t)
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    t.after(() => pool.end())
    const client = await pool.connect()
    const beforeHistory = POSTGRES_MIGRATIONS.findIndex((migration) => typeof migration === 'string' && migration.includes('entry_history'))
    const image = new Uint8Array(100).fill(7)
    try {
      await migrateTo(client, beforeHistory)
      const index = indexEntry(anEntry({ full_name: 'Old' }))
      await client.query(
        `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry, sort_name, search_text, created_seq, changed_seq, photo_etag)
         VALUES ('old', 'default', 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', $1, $2, $3, 1, 1, 'p1')`,
        [JSON.stringify(anEntry({ full_name: 'Old' })), index.sortName, index.searchText],
      )
      await client.query("INSERT INTO entry_photos (owner, entry_id, content_type, image, thumbnail) VALUES ('default', 'old', 'image/jpeg', $1, $2)", [image, new Uint8Array([7])])
      await client.query("INSERT INTO change_counters (owner, latest) VALUES ('default', 1)")
    } finally {
      client.release()
    }
    const store = new PostgresStore(url)
    t.after(() => store.close())

    const history = await store.history('default', 'old', 10)
    await store.setPhoto('default', 'old', { etag: 'p2', contentType: 'image/png', image: new Uint8Array([2]), thumbnail: new Uint8Array([2]) })
    const restored = await store.restoreVersion('default', 'old', (await store.history('default', 'old', 10))[1]?.seq ?? 0)
    await store.delete('default', 'old')

    assert.deepEqual(history.map(({ version, source, photo }) => [version, source, photo]), [[1, 'api', { etag: 'p1' }]])
    assert.deepEqual([restored?.version, restored?.photo], [3, { etag: 'p1' }])
    assert.deepEqual((await store.listTrash('default', { limit: 10 })).map(({ id, photo }) => [id, photo]), [['old', { etag: 'p1' }]])
    assert.deepEqual(await store.restoreFromTrash('default', 'old').then((back) => back?.photo), { etag: 'p1' })
    assert.deepEqual(await store.getPhoto('default', 'old', 'image'), { etag: 'p1', contentType: 'image/jpeg', data: image })
    const photos = await query<{ etag: string }>(url, "SELECT etag FROM entry_photos WHERE owner = 'default' AND entry_id = 'old' ORDER BY etag")
    assert.deepEqual(photos.map(({ etag }) => etag), ['p1', 'p2'])
  })

  test('when a database from before compatibility forms were folded is opened, then entries written in them are found and sorted as plain text', async (t) => {
    const url = await freshUrl(t)
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    t.after(() => pool.end())
    const client = await pool.connect()
    const beforeRefold = POSTGRES_MIGRATIONS.findIndex((migration) => typeof migration === 'function' && migration.name === 'refoldIndex')
    try {
      await migrateTo(client, beforeRefold)
      const rows = [['wide', anEntry({ full_name: 'Ｍａｒｉａ \uFB01sher' })], ['plain', anEntry({ full_name: 'Zed' })]] as const
      for (const [place, [id, entry]] of rows.entries()) {
        // Indexed as before: lower case alone.
        const folded = entry.full_name.toLowerCase()
        await client.query(
          `INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry, sort_name, search_text, created_seq, changed_seq)
           VALUES ($1, 'default', 1, now(), now(), $2, $3, $3, $4, $4)`,
          [id, JSON.stringify(entry), folded, place + 1],
        )
        await client.query("INSERT INTO entry_terms (entry_id, owner, field, value) VALUES ($1, 'default', 'full_name', $2)", [id, folded])
      }
      await client.query("INSERT INTO change_counters (owner, latest) VALUES ('default', 2)")
    } finally {
      client.release()
    }
    const store = new PostgresStore(url)
    t.after(() => store.close())

    const ids = async (filter: FilterRequest, sort: Sort = DEFAULT_SORT) => (await store.list('default', { filter: normalizeFilter(filter), sort, limit: 10 })).map((s) => s.id)
    assert.deepEqual(await ids({ q: 'maria fish' }), ['wide'])
    assert.deepEqual(await ids({ full_name: 'maria fisher' }), ['wide'])
    assert.deepEqual(await ids({ q: 'zed' }), ['plain'])
    assert.deepEqual(await ids({}, { key: 'full_name', descending: false }), ['wide', 'plain'])
    const stale = await query<{ count: string }>(url, "SELECT count(*) FROM entry_terms WHERE value = 'ｍａｒｉａ ﬁsher'")
    assert.equal(stale[0]?.count, '0')
  })

  test('when the planner may not scan, then an entry is found by its card name through the card name index', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'e1', anEntry(), { card: { name: 'a.vcf' } })
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    t.after(() => client.end())
    await client.query('SET enable_seqscan = off')
    await client.query("PREPARE by_name (text, text) AS SELECT * FROM address_entries WHERE owner = $1 AND card_name = $2")
    await client.query('SET plan_cache_mode = force_generic_plan')

    const { rows } = await client.query<{ 'QUERY PLAN': string }>("EXPLAIN EXECUTE by_name ('default', 'a.vcf')")
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n')

    assert.match(plan, /Index Scan using address_entries_by_card_name/, plan)
  })

  test("when the planner may not scan, then stamps are listed by walking the owner's creation index from the position on, with no sort", async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.create('default', 'e1', anEntry(), { card: { name: 'a.vcf' } })
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    t.after(() => client.end())
    await client.query('SET enable_seqscan = off')
    await client.query(`PREPARE stamps (text, timestamptz, text, integer) AS ${LIST_STAMPS.text}`)
    await client.query('SET plan_cache_mode = force_generic_plan')

    const { rows } = await client.query<{ 'QUERY PLAN': string }>("EXPLAIN EXECUTE stamps ('default', '-infinity', '', 100)")
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n')

    assert.match(plan, /Index Scan using address_entries_by_created on address_entries/, plan)
    assert.match(plan, /Index Cond: .*owner = \$1.*ROW\(created_at, .*\) > ROW\(\$2, \$3\)/, plan)
    assert.doesNotMatch(plan, /Sort/, plan)
  })

  test('when two instances give one card name to two entries at once, then one is stored and the other rejects with EntryExistsError', async (t) => {
    const url = await freshUrl(t)
    const first = new PostgresStore(url)
    const second = new PostgresStore(url)
    t.after(() => Promise.all([first.close(), second.close()]))
    await Promise.all([first.ready(), second.ready()])
    await first.create('default', 'holder', anEntry(), { card: { name: 'other.vcf' } })

    const outcomes = await Promise.allSettled([
      first.create('default', 'a', anEntry(), { card: { name: 'same.vcf' } }),
      second.create('default', 'b', anEntry(), { card: { name: 'same.vcf' } }),
      second.update('default', 'holder', anEntry(), undefined, { card: { name: 'same.vcf' } }),
    ])

    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1, JSON.stringify(outcomes))
    for (const outcome of outcomes) if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof EntryExistsError, String(outcome.reason))
    assert.ok(await first.findByName('default', 'same.vcf'))
  })

  test('when a write is rejected by the database for its own reasons, then the error passes unchanged', async (t) => {
    const url = await freshUrl(t)
    const store = new PostgresStore(url)
    t.after(() => store.close())
    await store.ready()
    await query(url, 'ALTER TABLE address_entries ADD CONSTRAINT short_ids CHECK (length(id) < 3)')

    await assert.rejects(store.create('default', 'toolong', anEntry()), (error: unknown) => {
      assert.ok(!(error instanceof StoreUnavailableError))
      assert.equal((error as { code?: string }).code, '23514')
      return true
    })
  })
})
