import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import Database from 'better-sqlite3'
import { EntryExistsError, StoreUnavailableError } from '../../src/domain/errors.js'
import { DEFAULT_SORT, indexEntry, matchesFilter, normalizeFilter, type FilterRequest, type Sort } from '../../src/domain/listing.js'
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js'
import { changesSql, countSql, listingSql, SqliteStore, stampsSql, type SqliteStoreOptions } from '../../src/storage/sqlite/sqlite-store.js'
import { trigramQuery, trigramTokens } from '../../src/storage/sqlite/trigrams.js'
import type { Clock, ListQuery } from '../../src/storage/store.js'
import { aSqliteStore, storedEntries } from '../helpers/stores.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'

const OWNER = 'alice'

/**
 * A temporary folder for one test. Stores and connections opened through it are closed after
 * the test, newest first, and then the folder is removed.
 */
/** Applies the first `count` migrations to a new file, as a service of that version left it. */
function migrateTo(db: Database.Database, count: number): void {
  for (const migration of SQLITE_MIGRATIONS.slice(0, count)) {
    if (typeof migration === 'string') db.exec(migration)
    else migration(db)
  }
  db.pragma(`user_version = ${String(count)}`)
}

function aTempFolder(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-sqlite-'))
  const closers: (() => unknown)[] = []
  t.after(async () => {
    for (const close of closers.reverse()) await close()
    rmSync(dir, { recursive: true, force: true })
  })
  const path = join(dir, 'address-book.db')
  return {
    dir,
    path,
    open(options: SqliteStoreOptions = {}, at = path): SqliteStore {
      const store = new SqliteStore(at, options)
      closers.push(() => store.close())
      return store
    },
    /** A second, independent connection to the same file. */
    connect(at = path): Database.Database {
      const db = new Database(at)
      closers.push(() => db.close())
      return db
    },
  }
}

function aFixedClock(iso: string): Clock {
  return () => new Date(iso)
}

describe('SqliteStore', () => {
  describe('opening', () => {
    test('when the file and its parent folders do not exist, then both are created', (t) => {
      const folder = aTempFolder(t)
      const path = join(folder.dir, 'a', 'b', 'c', 'address-book.db')

      folder.open({}, path)

      assert.ok(statSync(join(folder.dir, 'a', 'b', 'c')).isDirectory())
      assert.ok(statSync(path).isFile())
    })

    test('when opened, then the file is in write-ahead-log mode for every connection', async (t) => {
      const folder = aTempFolder(t)
      const store = folder.open()

      assert.equal(folder.connect().pragma('journal_mode', { simple: true }), 'wal')
      await store.close()
      // Bytes 18 and 19 of the header are the read and write format versions: 2 means WAL.
      const header = readFileSync(folder.path).subarray(18, 20)
      assert.deepEqual([...header], [2, 2])
    })

    test('when opened, then its own connection runs with synchronous=FULL', (t) => {
      // synchronous is per connection, and a second connection on a WAL file defaults to
      // NORMAL, so only the store's own connection can show it: catch it through the prototype.
      const pragma = t.mock.method(Database.prototype, 'pragma')
      const folder = aTempFolder(t)

      folder.open()

      const connection = pragma.mock.calls[0]?.this
      assert.ok(connection instanceof Database)
      assert.equal(connection.pragma('synchronous', { simple: true }), 2)
    })

    test('when SQLite does not accept synchronous=FULL, then opening fails with a message that says so', (t) => {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the connection as `this`
      const original = Database.prototype.pragma
      t.mock.method(Database.prototype, 'pragma', function (this: Database.Database, source: string, options?: Database.PragmaOptions) {
        return source === 'synchronous' ? 1 : original.call(this, source, options)
      })
      const folder = aTempFolder(t)

      assert.throws(() => folder.open(), { message: 'SQLite refused synchronous=FULL (synchronous is 1)' })
    })

    test('when the path is :memory:, then opening is refused because it cannot keep a write-ahead log', () => {
      assert.throws(() => new SqliteStore(':memory:'), {
        message: 'SQLite refused write-ahead logging (journal_mode is memory)',
      })
    })

    test('when another connection holds the write lock past busyTimeoutMs, then create rejects as unavailable (to retry) and stores nothing', async (t) => {
      const folder = aTempFolder(t)
      const store = folder.open({ busyTimeoutMs: 50 })
      const other = folder.connect()
      other.exec('BEGIN IMMEDIATE')
      const started = Date.now()

      await assert.rejects(store.create(OWNER, 'entry-1', anEntry()), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError)
        assert.equal((error.cause as { code?: unknown }).code, 'SQLITE_BUSY')
        return true
      })

      assert.ok(Date.now() - started >= 45, 'create gave up before the busy timeout')
      other.exec('ROLLBACK')
      assert.deepEqual(await storedEntries(store, OWNER), [])
    })
  })

  describe('query plans', () => {
    function planOf(folder: ReturnType<typeof aTempFolder>, filter: Parameters<typeof normalizeFilter>[0], sort = DEFAULT_SORT): string {
      folder.open()
      const { sql, values } = listingSql({ owner: OWNER, tag: 1 }, { filter: normalizeFilter(filter), sort, limit: 100, after: { value: '2024-01-01T00:00:00.000Z', id: 'x' } })
      const rows = folder.connect().prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[]
      return rows.map((row) => row.detail).join('\n')
    }

    test('when a page is listed in an order, then the matching index walks it, with no sort of the whole book', (t) => {
      for (const [key, index] of [['created', 'address_entries_by_created'], ['updated', 'address_entries_by_updated'], ['full_name', 'address_entries_by_name']] as const) {
        const plan = planOf(aTempFolder(t), {}, { key, descending: false })
        assert.match(plan, new RegExp(`SEARCH address_entries USING INDEX ${index}`), plan)
        assert.doesNotMatch(plan, /TEMP B-TREE/, plan)
      }
    })

    test('when a search of three characters or more is listed, then the trigram index finds the candidates, each is read by its seq, and the book is not scanned', (t) => {
      const plan = planOf(aTempFolder(t), { q: 'lovelace' })

      assert.match(plan, /SCAN entry_trigrams VIRTUAL TABLE INDEX 0:M/, plan)
      assert.match(plan, /SEARCH address_entries USING INTEGER PRIMARY KEY \(rowid=\?\)/, plan)
      assert.doesNotMatch(plan, /SCAN address_entries/, plan)
    })

    test("when a search shorter than three characters is listed, then the owner's search texts are read through their own index, not the entries", (t) => {
      const plan = planOf(aTempFolder(t), { q: 'ur' })

      assert.match(plan, /SEARCH address_entries USING COVERING INDEX address_entries_by_text \(owner=\?\)/, plan)
      assert.doesNotMatch(plan, /SCAN address_entries/, plan)
    })

    test('when a whole book is counted, then the narrowest index that starts with the owner counts it', (t) => {
      const folder = aTempFolder(t)
      folder.open()
      const { sql, values } = countSql({ owner: OWNER, tag: 1 }, normalizeFilter({}))

      const plan = (folder.connect().prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[]).map((row) => row.detail).join('\n')

      assert.equal(plan, 'SEARCH address_entries USING COVERING INDEX address_entries_by_change (owner=?)')
    })

    test('when an exact filter is listed, then the terms index finds the matches and the book is not scanned', (t) => {
      const plan = planOf(aTempFolder(t), { email: 'ada@example.org', country: 'freedonia' })

      assert.match(plan, /SEARCH entry_terms USING PRIMARY KEY/, plan)
      assert.doesNotMatch(plan, /SCAN address_entries/, plan)
    })

    test("when stamps are listed, then the owner's creation index is searched from the position on, with no sort", (t) => {
      const folder = aTempFolder(t)
      folder.open()

      const rows = folder.connect().prepare(`EXPLAIN QUERY PLAN ${stampsSql}`).all({ owner: OWNER, createdAt: '2024-01-01T00:00:00.000Z', id: 'x', limit: 100 }) as { detail: string }[]
      const plan = rows.map((row) => row.detail).join('\n')

      assert.equal(plan, 'SEARCH address_entries USING INDEX address_entries_by_created (owner=? AND (created_at,id)>(?,?))')
    })

    test('when changes are read, then entries and tombstones are each walked in seq order on an index and merged, with no sort', (t) => {
      const folder = aTempFolder(t)
      folder.open()

      const rows = folder.connect().prepare(`EXPLAIN QUERY PLAN ${changesSql}`).all({ owner: OWNER, since: 10, limit: 100 }) as { detail: string }[]
      const plan = rows.map((row) => row.detail).join('\n')

      assert.match(plan, /MERGE \(UNION ALL\)/, plan)
      assert.match(plan, /SEARCH address_entries USING INDEX address_entries_by_change \(owner=\? AND changed_seq>\?\)/, plan)
      // Not covering since tombstones keep card names: each tombstone found is read by its key.
      assert.match(plan, /SEARCH tombstones USING (COVERING )?INDEX tombstones_by_seq \(owner=\? AND seq>\?\)/, plan)
      assert.doesNotMatch(plan, /TEMP B-TREE/, plan)
    })
  })

  describe("searching one owner's book", () => {
    const ALICE = 'alice'
    const BOB = 'bob'
    const BY_NAME_BACKWARDS: Sort = { key: 'full_name', descending: true }

    /** Bob's searches, in every shape a listing takes: each finds Bob's Quokkacorp friends. */
    const SEARCHES: { name: string; filter: FilterRequest; sort?: Sort; after?: ListQuery['after']; count?: true }[] = [
      { name: 'a search', filter: { q: 'Quokkacorp' } },
      { name: 'a search, counted', filter: { q: 'Quokkacorp' }, count: true },
      { name: 'a search of two characters', filter: { q: 'ok' } },
      { name: 'a search of two characters, counted', filter: { q: 'ok' }, count: true },
      { name: 'a search and an exact filter', filter: { q: 'quokka', country: 'Freedonia' } },
      { name: 'a search and an exact filter, counted', filter: { q: 'quokka', country: 'Freedonia' }, count: true },
      { name: 'a search by name backwards, after a cursor', filter: { q: 'Quokkacorp' }, sort: BY_NAME_BACKWARDS, after: { value: 'friend 36', id: 'b36' } },
      { name: 'a search by last change', filter: { q: 'Quokkacorp' }, sort: { key: 'updated', descending: false } },
    ]

    function aFriend(name: string, organization: string) {
      return anEntry({ full_name: name, organization, addresses: [{ kind: 'home', street_name: 'Main St', pincode: 1, country: 'Freedonia' }] })
    }

    /**
     * A file where Bob has 40 entries (10 of them at Quokkacorp) and Alice 5,000, every one of
     * them at `alicesOrganization`; closed, so that its write-ahead log is folded into it.
     */
    async function aSharedFile(t: TestContext, alicesOrganization: string): Promise<string> {
      const folder = aTempFolder(t)
      const store = folder.open()
      await store.createMany(BOB, Array.from({ length: 40 }, (_, i) => ({ id: `b${String(i)}`, entry: aFriend(`Friend ${String(i)}`, i % 4 === 0 ? 'Quokkacorp' : 'Emu Works') })))
      await store.createMany(ALICE, Array.from({ length: 5000 }, (_, i) => ({ id: `a${String(i)}`, entry: aFriend(`Friend ${String(i)}`, alicesOrganization) })))
      await store.close()
      return folder.path
    }

    /**
     * How many times this thread has read from a file so far (Linux): with memory mapping off,
     * as better-sqlite3 builds SQLite, SQLite reads the database a page per read.
     */
    function readsSoFar(): number {
      return Number(/^syscr: (\d+)$/m.exec(readFileSync('/proc/thread-self/io', 'utf8'))?.[1])
    }

    /** The pages Bob's search reads through a store just opened on the file (so none is cached), and what it finds. */
    async function bobsSearch(t: TestContext, path: string, search: (typeof SEARCHES)[number]): Promise<{ reads: number; found: number }> {
      const store = new SqliteStore(path)
      t.after(() => store.close())
      const filter = normalizeFilter(search.filter)
      const before = readsSoFar()
      // The store reads synchronously when called; the promise only hands the result over.
      const result = search.count ? store.count(BOB, filter) : store.list(BOB, { filter, sort: search.sort ?? DEFAULT_SORT, limit: 100, after: search.after })
      const reads = readsSoFar() - before
      const found = await result
      await store.close()
      return { reads, found: typeof found === 'number' ? found : found.length }
    }

    test(
      "when Alice's book holds 5,000 entries that match Bob's search, then Bob's search reads exactly the pages it reads when hers match nothing",
      { skip: existsSync('/proc/thread-self/io') ? false : 'counting reads needs /proc/thread-self/io (Linux)' },
      async (t) => {
        // Alice's other entries are as long as her matching ones, so that both files have the same size and shape.
        const matching = await aSharedFile(t, 'Quokkacorp')
        const other = await aSharedFile(t, 'Wallabyinc')

        for (const search of SEARCHES) {
          const withMatches = await bobsSearch(t, matching, search)
          const without = await bobsSearch(t, other, search)

          assert.equal(withMatches.reads, without.reads, search.name)
          assert.equal(withMatches.found, without.found, search.name)
          assert.ok(withMatches.found > 0, search.name)
        }
      },
    )

    test('when entries hold x, digits, letters outside ASCII and emoji, then every part of their search texts finds exactly the entries that contain it', async (t) => {
      // The index spells every character outside [0-9a-wyz] as x and four digits, and the search
      // texts confirm its candidates: together they must find what a plain substring test finds.
      const store = aSqliteStore(t)
      const entries = {
        maxx: anEntry({ full_name: 'Maxx Exxon', organization: 'x0078 Xylophones' }),
        zoe: anEntry({ full_name: 'Zoë Ölund', nickname: 'Zoë', emails: [{ kind: 'home', email: 'zoe@xn--lund-nra.example' }] }),
        emile: anEntry({ full_name: 'Émile 😀 Smiley', organization: '😀😀 Inc.' }),
        ivan: anEntry({ full_name: 'ИВАН Иванов', addresses: [{ kind: 'home', street_name: 'Тверская', pincode: '125009', city: 'Москва', country: 'Россия' }] }),
      }
      for (const [id, entry] of Object.entries(entries)) await store.create(BOB, id, entry)
      const searches = new Set(['xx0078', 'x007', 'ëö', '😀😀😀', 'zzz'])
      for (const entry of Object.values(entries)) {
        const characters = Array.from(indexEntry(entry).searchText)
        for (let start = 0; start < characters.length; start++) {
          for (let length = 1; length <= 5 && start + length <= characters.length; length++) searches.add(characters.slice(start, start + length).join(''))
        }
      }

      for (const q of searches) {
        const filter = normalizeFilter({ q })
        const expected = Object.entries(entries).filter(([, entry]) => matchesFilter(indexEntry(entry), filter)).map(([id]) => id).sort()
        const found = (await store.list(BOB, { filter, sort: DEFAULT_SORT, limit: 10 })).map((stored) => stored.id).sort()
        assert.deepEqual(found, expected, JSON.stringify(q))
      }
    })

    test('when Bob searches, then every table and index the search reads is read through his owner key, and none is scanned', (t) => {
      const folder = aTempFolder(t)
      folder.open()
      const db = folder.connect()

      for (const search of SEARCHES) {
        const searcher = { owner: BOB, tag: 1 }
        const filter = normalizeFilter(search.filter)
        const { sql, values } = search.count
          ? countSql(searcher, filter)
          : listingSql(searcher, { filter, sort: search.sort ?? DEFAULT_SORT, limit: 100, after: search.after })
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[]).map((row) => row.detail)

        // The trigram index is read by its tokens, which carry the owner (a plan cannot show that:
        // the test above does); every other read is a search keyed by the owner, or an entry found
        // by the seq of a match, or the matches themselves.
        const reads = plan.filter((line) => /^(SCAN|SEARCH) /.test(line))
        for (const line of reads) {
          assert.match(
            line,
            /^SCAN entry_trigrams VIRTUAL TABLE INDEX \d+:M|^SEARCH \w+ USING .*\(owner=\?|^SEARCH address_entries USING INTEGER PRIMARY KEY \(rowid=\?\)$|^SCAN matches$/,
            `${search.name}:\n${plan.join('\n')}`,
          )
        }
      }
    })
  })

  describe('schema', () => {
    test('when a file from before the listing index is opened, then its entries are indexed: searchable, filterable, sorted by name', async (t) => {
      const folder = aTempFolder(t)
      const old = folder.connect()
      for (const migration of SQLITE_MIGRATIONS.slice(0, 2)) old.exec(String(migration))
      old.pragma('user_version = 2')
      const insert = old.prepare('INSERT INTO address_entries (id, owner, version, created_at, updated_at, entry) VALUES (?, ?, 1, ?, ?, ?)')
      insert.run('e2', OWNER, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', JSON.stringify(anEntry({ full_name: 'Zed', emails: [{ kind: 'home', email: 'zed@example.org' }] })))
      insert.run('e1', OWNER, '2024-01-01T00:00:01.000Z', '2024-01-01T00:00:01.000Z', JSON.stringify(anEntry({ full_name: 'alice' })))

      const store = folder.open()

      const byName = await store.list(OWNER, { filter: { terms: [] }, sort: { key: 'full_name', descending: false }, limit: 10 })
      assert.deepEqual(byName.map((stored) => stored.id), ['e1', 'e2'])
      assert.deepEqual((await store.list(OWNER, { filter: normalizeFilter({ q: 'ZED@' }), sort: DEFAULT_SORT, limit: 10 })).map((s) => s.id), ['e2'])
      assert.equal(await store.count(OWNER, normalizeFilter({ email: 'zed@example.org' })), 1)
      assert.equal(folder.connect().pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
    })

    test('when a file from before the change sequence is opened, then ids are unique per owner, existing entries are numbered in creation order and keep their index', async (t) => {
      const folder = aTempFolder(t)
      const old = folder.connect()
      for (const migration of SQLITE_MIGRATIONS.slice(0, 3)) old.exec(String(migration))
      const insert = old.prepare(`INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, entry) VALUES (?, ?, ?, ?, ?, '', ?)`)
      const rows = [
        ['b-later', OWNER, 3, '2024-01-02T00:00:00.000Z', '2024-01-05T00:00:00.000Z', anEntry({ full_name: 'Zed' })],
        ['a-first', OWNER, 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', anEntry({ full_name: 'Ada', emails: [{ kind: 'home', email: 'ada@example.org' }] })],
        ['c-same-time', OWNER, 1, '2024-01-02T00:00:00.000Z', '2024-01-02T00:00:00.000Z', anEntry({ full_name: 'Cy' })],
        ['bobs', 'bob', 1, '2024-01-03T00:00:00.000Z', '2024-01-03T00:00:00.000Z', anEntry({ full_name: 'Bob' })],
      ] as const
      for (const [id, owner, version, createdAt, updatedAt, entry] of rows) insert.run(id, owner, version, createdAt, updatedAt, JSON.stringify(entry))
      const indexExisting = SQLITE_MIGRATIONS[3]
      assert.ok(typeof indexExisting === 'function')
      indexExisting(old)
      old.pragma('user_version = 4')

      const store = folder.open({ clock: aFixedClock('2024-02-01T00:00:00.000Z') })

      assert.deepEqual(await store.changePosition(OWNER), { latest: 3, forgottenThrough: 0 })
      assert.deepEqual(await store.changePosition('bob'), { latest: 1, forgottenThrough: 0 })
      const page = await store.changesSince(OWNER, 0, 10)
      assert.deepEqual(page.changes.map((change) => [change.seq, change.id, change.kind, change.stored?.version]), [
        [1, 'a-first', 'created', 1],
        [2, 'b-later', 'created', 3],
        [3, 'c-same-time', 'created', 1],
      ])
      assert.equal(page.more, false)
      assert.equal(await store.count(OWNER, normalizeFilter({ email: 'ada@example.org' })), 1)
      assert.deepEqual((await store.list(OWNER, { filter: normalizeFilter({ q: 'zed' }), sort: DEFAULT_SORT, limit: 10 })).map((s) => s.id), ['b-later'])
      await store.create('bob', 'a-first', anEntry({ full_name: 'Bob too' }))
      await store.update(OWNER, 'b-later', anEntry({ full_name: 'Zed again' }))
      assert.equal((await store.get(OWNER, 'a-first'))?.entry.full_name, 'Ada')
      assert.deepEqual((await store.changesSince(OWNER, 3, 10)).changes.map((change) => [change.seq, change.id, change.kind]), [[4, 'b-later', 'updated']])
      assert.deepEqual((await store.changesSince('bob', 1, 10)).changes.map((change) => [change.seq, change.id, change.kind]), [[2, 'a-first', 'created']])
      assert.equal(folder.connect().pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
    })

    test("when a file from before the per-owner search index is opened, then each owner's entries are found by their owner's searches alone, and the shared index is gone", async (t) => {
      const folder = aTempFolder(t)
      const old = folder.connect()
      const beforePerOwnerSearch = 6
      migrateTo(old, beforePerOwnerSearch)
      const insert = old.prepare(
        `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, entry, created_seq, changed_seq)
         VALUES (?, ?, 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', ?, ?, ?, ?) RETURNING seq`,
      )
      const rows = [
        ['a1', OWNER, anEntry({ full_name: 'Ada Lovelace', organization: 'Analytical Engines' })],
        ['b1', 'bob', anEntry({ full_name: 'Bob Lovelace' })],
        ['a2', OWNER, anEntry({ full_name: 'Grace Hopper', emails: [{ kind: 'work', email: 'grace@navy.example' }] })],
      ] as const
      for (const [place, [id, owner, entry]] of rows.entries()) {
        const { seq } = insert.get(id, owner, entry.full_name.toLowerCase(), JSON.stringify(entry), place + 1, place + 1) as { seq: number }
        old.prepare('INSERT INTO entry_search (rowid, search_text) VALUES (?, ?)').run(seq, entry.full_name.toLowerCase())
      }

      const store = folder.open()

      const ids = async (owner: string, q: string) => (await store.list(owner, { filter: normalizeFilter({ q }), sort: DEFAULT_SORT, limit: 10 })).map((s) => s.id)
      assert.deepEqual(await ids(OWNER, 'lovelace'), ['a1'])
      assert.deepEqual(await ids('bob', 'lovelace'), ['b1'])
      assert.deepEqual(await ids(OWNER, 'engines'), ['a1'])
      assert.deepEqual(await ids(OWNER, 'NAVY'), ['a2'])
      assert.deepEqual(await ids(OWNER, 'y'), ['a1', 'a2'])
      assert.equal(await store.count('bob', normalizeFilter({ q: 'ob' })), 1)
      await store.create('bob', 'b2', anEntry({ full_name: 'Bob Engines' }))
      assert.deepEqual(await ids('bob', 'engines'), ['b2'])
      const db = folder.connect()
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'entry_search'").pluck().get(), 0)
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
    })

    test('when a file from before card data is opened, then its entries and tombstones have none, and card names can then be given and found', async (t) => {
      const folder = aTempFolder(t)
      const old = folder.connect()
      const beforeCardData = SQLITE_MIGRATIONS.findIndex((migration) => typeof migration === 'string' && migration.includes('card_name'))
      migrateTo(old, beforeCardData)
      old
        .prepare(
          `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, search_text, entry, created_seq, changed_seq)
           VALUES ('old', ?, 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 'ada lovelace', 'ada lovelace', ?, 1, 1)`,
        )
        .run(OWNER, JSON.stringify(anEntry()))
      old.prepare("INSERT INTO tombstones (owner, id, seq, deleted_at) VALUES (?, 'gone', 2, '2024-01-01T00:00:01.000Z')").run(OWNER)
      old.prepare('INSERT INTO change_counters (owner, latest) VALUES (?, 2)').run(OWNER)

      const store = folder.open()

      const stored = await store.get(OWNER, 'old')
      assert.ok(stored)
      assert.equal('card' in stored, false)
      assert.deepEqual((await store.changesSince(OWNER, 0, 10)).changes.map((change) => [change.id, change.kind, 'card' in (change.stored ?? {}), 'name' in change]), [
        ['old', 'created', false, false],
        ['gone', 'deleted', false, false],
      ])
      await store.update(OWNER, 'old', anEntry(), undefined, { card: { name: 'old.vcf' } })
      assert.equal((await store.findByName(OWNER, 'old.vcf'))?.id, 'old')
      await assert.rejects(store.create(OWNER, 'new', anEntry(), { card: { name: 'old.vcf' } }), EntryExistsError)
      assert.equal(folder.connect().pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
    })

    test('when a file from before compatibility forms were folded is opened, then entries written in them are found and sorted as plain text, and the old index is gone', async (t) => {
      const folder = aTempFolder(t)
      const old = folder.connect()
      const beforeRefold = SQLITE_MIGRATIONS.findIndex((migration) => typeof migration === 'function' && migration.name === 'refoldIndex')
      migrateTo(old, beforeRefold)
      const { tag } = old.prepare('INSERT INTO search_owners (owner) VALUES (?) RETURNING tag').get(OWNER) as { tag: number }
      const insert = old.prepare(
        `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, search_text, entry, created_seq, changed_seq)
         VALUES (?, ?, 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', ?, ?, ?, ?, ?) RETURNING seq`,
      )
      const rows = [['wide', anEntry({ full_name: 'Ｍａｒｉａ \uFB01sher' })], ['plain', anEntry({ full_name: 'Zed' })]] as const
      for (const [place, [id, entry]] of rows.entries()) {
        // Indexed as before: lower case alone.
        const folded = entry.full_name.toLowerCase()
        const { seq } = insert.get(id, OWNER, folded, folded, JSON.stringify(entry), place + 1, place + 1) as { seq: number }
        old.prepare("INSERT INTO entry_terms (seq, owner, field, value) VALUES (?, ?, 'full_name', ?)").run(seq, OWNER, folded)
        old.prepare('INSERT INTO entry_trigrams (rowid, tokens) VALUES (?, ?)').run(seq, trigramTokens(folded, tag))
      }

      const store = folder.open()

      const ids = async (filter: FilterRequest, sort: Sort = DEFAULT_SORT) => (await store.list(OWNER, { filter: normalizeFilter(filter), sort, limit: 10 })).map((s) => s.id)
      assert.deepEqual(await ids({ q: 'maria fish' }), ['wide'])
      assert.deepEqual(await ids({ full_name: 'maria fisher' }), ['wide'])
      assert.deepEqual(await ids({ q: 'zed' }), ['plain'])
      assert.deepEqual(await ids({}, { key: 'full_name', descending: false }), ['wide', 'plain'])
      const db = folder.connect()
      assert.equal(db.prepare('SELECT count(*) FROM entry_trigrams WHERE entry_trigrams MATCH ?').pluck().get(trigramQuery('ｍａｒｉａ', tag)), 0)
      assert.equal(db.prepare("SELECT count(*) FROM entry_terms WHERE value = 'ｍａｒｉａ ﬁsher'").pluck().get(), 0)
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
    })

    test('when a file from before history is opened, then its photos are kept under their entry and tag, and its entries start a history made through the API', async (t) => {
      const folder = aTempFolder(t)
      const old = folder.connect()
      const beforeHistory = SQLITE_MIGRATIONS.findIndex((migration) => typeof migration === 'string' && migration.includes('entry_history'))
      migrateTo(old, beforeHistory)
      const insert = old.prepare(
        `INSERT INTO address_entries (id, owner, version, created_at, updated_at, sort_name, search_text, entry, created_seq, changed_seq, photo_etag)
         VALUES (?, ?, 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 'ada lovelace', 'ada lovelace', ?, ?, ?, ?) RETURNING seq`,
      )
      const { seq } = insert.get('pictured', OWNER, JSON.stringify(anEntry()), 1, 1, 'p1') as { seq: number }
      insert.run('plain', OWNER, JSON.stringify(anEntry()), 2, 2, null)
      old.prepare("INSERT INTO entry_photos (seq, content_type, thumbnail, image) VALUES (?, 'image/jpeg', ?, ?)").run(seq, Buffer.from([1, 2]), Buffer.alloc(3000, 7))
      old.prepare('INSERT INTO change_counters (owner, latest) VALUES (?, 2)').run(OWNER)

      const store = folder.open()

      assert.deepEqual(await store.getPhoto(OWNER, 'pictured', 'thumbnail'), { etag: 'p1', contentType: 'image/jpeg', data: new Uint8Array([1, 2]) })
      assert.deepEqual((await store.getPhoto(OWNER, 'pictured', 'image'))?.data, new Uint8Array(3000).fill(7))
      assert.equal(await store.getPhoto(OWNER, 'plain', 'image'), undefined)
      assert.deepEqual((await store.history(OWNER, 'pictured', 10)).map(({ version, source, deleted }) => [version, source, deleted]), [[1, 'api', false]])
      await store.setPhoto(OWNER, 'pictured', null)
      const [, first] = await store.history(OWNER, 'pictured', 10)
      await store.restoreVersion(OWNER, 'pictured', first?.seq ?? 0)
      assert.deepEqual((await store.getPhoto(OWNER, 'pictured', 'thumbnail'))?.data, new Uint8Array([1, 2]))
      const db = folder.connect()
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'entry_photos'").pluck().get(), 0)
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
    })

    test('when an entry is found by its card name, then the lookup is a search of the card name index', (t) => {
      const folder = aTempFolder(t)
      folder.open()

      const rows = folder.connect().prepare('EXPLAIN QUERY PLAN SELECT id FROM address_entries WHERE owner = ? AND card_name = ?').all(OWNER, 'a.vcf') as { detail: string }[]
      const plan = rows.map((row) => row.detail).join('\n')

      assert.match(plan, /^SEARCH address_entries USING INDEX address_entries_by_card_name \(owner=\? AND card_name=\?\)$/, plan)
    })

    test('when a new file is opened, then every migration is applied and user_version counts them', (t) => {
      const folder = aTempFolder(t)

      folder.open()

      const db = folder.connect()
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
      assert.ok(SQLITE_MIGRATIONS.length > 0)
    })

    test('when the file is opened again, then no migration runs again and the data is kept', async (t) => {
      const folder = aTempFolder(t)
      const first = folder.open()
      const created = await first.create(OWNER, 'entry-1', anEntry())
      await first.close()
      const exec = t.mock.method(Database.prototype, 'exec')

      const second = folder.open()

      assert.equal(exec.mock.callCount(), 0)
      assert.equal(folder.connect().pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length)
      assert.deepEqual(await second.get(OWNER, 'entry-1'), created)
    })

    test('when the file has a newer schema than this code knows, then opening fails clearly and the file is untouched', (t) => {
      const folder = aTempFolder(t)
      const newer = SQLITE_MIGRATIONS.length + 1
      const db = new Database(folder.path)
      db.exec('CREATE TABLE from_the_future (x TEXT)')
      db.pragma(`user_version = ${String(newer)}`)
      db.close()
      const before = readFileSync(folder.path)

      assert.throws(() => folder.open(), {
        message: `database schema version ${String(newer)} is newer than this addrservice knows (${String(SQLITE_MIGRATIONS.length)})`,
      })

      assert.deepEqual(readFileSync(folder.path), before)
      assert.equal(existsSync(`${folder.path}-wal`), false)
    })

    test('when an entry is stored, then its metadata sits in columns and the entry column holds only the entry', async (t) => {
      const folder = aTempFolder(t)
      let now = '2024-01-02T03:04:05.678Z'
      const store = folder.open({ clock: () => new Date(now) })
      await store.create(OWNER, 'entry-1', anEntry())
      now = '2024-01-02T03:04:06.000Z'
      await store.update(OWNER, 'entry-1', aFullEntry())

      const db = folder.connect()
      const columns = db.pragma('table_info(address_entries)') as { name: string }[]
      const row = db.prepare('SELECT * FROM address_entries').get()

      assert.deepEqual(
        columns.map((column) => column.name),
        ['seq', 'id', 'owner', 'version', 'created_at', 'updated_at', 'sort_name', 'entry', 'created_seq', 'changed_seq', 'search_text', 'card_name', 'card_uid', 'card_kept', 'photo_etag', 'source'],
      )
      assert.ok(row !== null && typeof row === 'object' && 'entry' in row && typeof row.entry === 'string')
      assert.deepEqual(
        { ...row, entry: JSON.parse(row.entry) as unknown },
        {
          seq: 1,
          id: 'entry-1',
          owner: OWNER,
          version: 2,
          created_at: '2024-01-02T03:04:05.678Z',
          updated_at: '2024-01-02T03:04:06.000Z',
          sort_name: 'grace hopper',
          entry: aFullEntry(),
          created_seq: 1,
          changed_seq: 2,
          search_text: indexEntry(aFullEntry()).searchText,
          card_name: null,
          card_uid: null,
          card_kept: null,
          photo_etag: null,
          source: 'api',
        },
      )
    })

    test('when an entry is stored with card data, then the card data sits in its own columns, out of the entry column', async (t) => {
      const folder = aTempFolder(t)
      const store = folder.open()

      await store.create(OWNER, 'entry-1', anEntry(), { card: { name: 'a.vcf', uid: 'u-1', kept: 'NOTE:x\r\n' } })

      const row = folder.connect().prepare('SELECT entry, card_name, card_uid, card_kept FROM address_entries').get()
      assert.deepEqual(row, { entry: JSON.stringify(anEntry()), card_name: 'a.vcf', card_uid: 'u-1', card_kept: 'NOTE:x\r\n' })
    })
  })

  describe('durability', () => {
    test('when a write resolves, then another connection already sees it', async (t) => {
      const folder = aTempFolder(t)
      const store = folder.open()

      await store.create(OWNER, 'entry-1', anEntry())

      const row = folder.connect().prepare('SELECT id FROM address_entries').get()
      assert.deepEqual(row, { id: 'entry-1' })
    })

    test('when the store is closed and reopened, then entries, versions and timestamps survive', async (t) => {
      const folder = aTempFolder(t)
      const first = folder.open({ clock: aFixedClock('2024-01-02T03:04:05.678Z') })
      await first.create(OWNER, 'entry-1', aFullEntry())
      await first.create(OWNER, 'entry-2', anEntry())
      await first.create(OWNER, 'entry-3', anEntry({ full_name: 'Deleted' }))
      await first.update(OWNER, 'entry-2', anEntry({ full_name: 'Updated' }))
      await first.delete(OWNER, 'entry-3')
      const before = await storedEntries(first, OWNER)
      await first.close()

      const second = folder.open()

      assert.deepEqual(await storedEntries(second, OWNER), before)
      assert.deepEqual(
        before.map((stored) => [stored.id, stored.version]),
        [
          ['entry-1', 1],
          ['entry-2', 2],
        ],
      )
    })
  })

  describe('close', () => {
    test('when closed twice, then both resolve and the write-ahead log is folded into the file', async (t) => {
      const folder = aTempFolder(t)
      const store = folder.open()
      await store.create(OWNER, 'entry-1', anEntry())

      await store.close()
      await store.close()

      assert.equal(existsSync(`${folder.path}-wal`), false)
      assert.equal(folder.connect().prepare('SELECT count(*) AS n FROM address_entries').pluck().get(), 1)
    })

    test('when a method is called after close, then it rejects instead of throwing', async (t) => {
      const folder = aTempFolder(t)
      const store = folder.open()
      await store.close()

      await assert.rejects(store.get(OWNER, 'entry-1'), /not open/)
    })
  })
})

describe('group commit', () => {
  test('when many writes arrive at once, then they are committed in fewer transactions than writes, and every one is stored', async (t) => {
    const batches: number[] = []
    const store = aSqliteStore(t, { onBatch: (size) => batches.push(size) })

    const created = await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(OWNER, `id-${String(i)}`, anEntry({ full_name: `Entry ${String(i)}` }))))

    assert.equal(created.length, 50)
    assert.equal(batches.reduce((sum, size) => sum + size, 0), 50)
    assert.ok(batches.length < 50, `batches: ${batches.join(', ')}`)
    assert.equal((await storedEntries(store, OWNER)).length, 50)
  })

  test('when one write of a batch fails, then the others of that batch are stored and it alone rejects, taking no seq', async (t) => {
    const store = aSqliteStore(t)
    await store.create(OWNER, 'taken', anEntry({ full_name: 'First' }))

    const outcomes = await Promise.allSettled([
      store.create(OWNER, 'before', anEntry()),
      store.create(OWNER, 'taken', anEntry({ full_name: 'Second' })),
      store.update(OWNER, 'taken', anEntry({ full_name: 'Updated' })),
      store.create(OWNER, 'after', anEntry()),
    ])

    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    )
    assert.equal((outcomes[1] as PromiseRejectedResult).reason instanceof EntryExistsError, true)
    assert.deepEqual((await storedEntries(store, OWNER)).map((stored) => stored.id).sort(), ['after', 'before', 'taken'])
    assert.equal((await store.get(OWNER, 'taken'))?.entry.full_name, 'Updated')
    assert.deepEqual(await store.changePosition(OWNER), { latest: 4, forgottenThrough: 0 })
    assert.deepEqual((await store.changesSince(OWNER, 1, 10)).changes.map((change) => [change.seq, change.id, change.kind]), [
      [2, 'before', 'created'],
      [3, 'taken', 'updated'],
      [4, 'after', 'created'],
    ])
  })

  test('when the store is closed while writes are in flight, then they finish first', async (t) => {
    const store = aSqliteStore(t)

    const writes = Array.from({ length: 20 }, (_, i) => store.create(OWNER, `id-${String(i)}`, anEntry()))
    const closed = store.close()

    assert.equal((await Promise.all(writes)).length, 20)
    await closed
  })
})
