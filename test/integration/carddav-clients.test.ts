import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { httpRequest } from '../helpers/http-client.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'
import { cleanEnv, runCli, startServer } from '../helpers/server-process.js'
import { vdirsyncerPair } from '../helpers/vdirsyncer.js'

/*
 * Real CardDAV clients against the built server: vdirsyncer syncs a folder of .vcf files with the
 * owner's one address book, and khard reads that folder. vdirsyncer 0.19 discovers from
 * /.well-known/carddav (with a slash appended), lists the book with a PROPFIND Depth 1 of getetag
 * on every sync (no sync-collection), fetches what changed with addressbook-multiget, and writes
 * with PUT (If-None-Match: * to create, If-Match to replace) and DELETE (If-Match).
 */

const CLIENTS = ['vdirsyncer', 'khard']
const missing = CLIENTS.filter((command) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0)
const CLIENTS_MISSING: string | false =
  missing.length > 0 ? `${missing.join(' and ')} not on PATH: the CardDAV client tests are skipped (apt-get install vdirsyncer khard to run them)` : false

const OWNER = 'maria'
/** The one book's collection name: the last segment of /dav/addressbooks/<owner>/contacts/. */
const BOOK = 'contacts'

/** What each exported file of test/fixtures/vcard holds, card by card: the names the API must show. */
const EXPORTS: Record<string, readonly string[]> = {
  'apple-ios': ['Grace Hopper', 'Harbor Robotics', 'Sam Okafor'],
  'apple-macos': ['Lin Chen'],
  google: ['Jonas Becker', 'Maria Santos'],
  outlook: ['Dr. Jürgen Müller', 'François Dupont'],
  thunderbird: ['Ada Lovelace', 'Charles Babbage'],
}

const sorted = (names: Iterable<string>) => [...names].sort()

/**
 * The cards of one exported file, each byte for byte as the app wrote it. Read as latin1 so that
 * every byte maps to one character and back, whatever charset a card declares.
 */
function cardsOf(fixture: string): string[] {
  const text = readFileSync(new URL(`../fixtures/vcard/${fixture}.vcf`, import.meta.url), 'latin1')
  return text.match(/BEGIN:VCARD\r?\n[\s\S]*?END:VCARD(?:\r?\n)?/g) ?? []
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    // stdin is closed: a prompt (vdirsyncer asking to create a collection) fails the run, never hangs it.
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The owner's book as the JSON API shows it. */
interface JsonApi {
  /** Every entry, id to entry. */
  entries(): Promise<Record<string, { full_name: string }>>
  /** Every entry with its version, as an NDJSON export: what a sync must leave alone. */
  exported(): Promise<string>
  rename(id: string, fullName: string): Promise<void>
  remove(id: string): Promise<void>
}

function jsonApi(baseUrl: string, key: string): JsonApi {
  const authorization = `Bearer ${key}`
  return {
    async entries() {
      const response = await httpRequest(baseUrl, { method: 'GET', path: '/addresses?limit=1000', headers: { authorization } })
      assert.equal(response.status, 200, response.body)
      return JSON.parse(response.body) as Record<string, { full_name: string }>
    },
    async exported() {
      const response = await httpRequest(baseUrl, { method: 'GET', path: '/addresses', headers: { authorization, accept: 'application/x-ndjson' } })
      assert.equal(response.status, 200, response.body)
      return response.body
    },
    async rename(id, fullName) {
      const response = await httpRequest(baseUrl, {
        method: 'PATCH',
        path: `/addresses/${id}`,
        headers: { authorization, 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({ full_name: fullName }),
      })
      assert.equal(response.status, 204, response.body)
    },
    async remove(id) {
      const response = await httpRequest(baseUrl, { method: 'DELETE', path: `/addresses/${id}`, headers: { authorization } })
      assert.equal(response.status, 204, response.body)
    },
  }
}

async function namesIn(api: JsonApi): Promise<string[]> {
  return sorted(Object.values(await api.entries()).map((entry) => entry.full_name))
}

async function idOf(api: JsonApi, fullName: string): Promise<string> {
  const ids = Object.entries(await api.entries())
    .filter(([, entry]) => entry.full_name === fullName)
    .map(([id]) => id)
  assert.equal(ids.length, 1, `entries named ${JSON.stringify(fullName)}: ${String(ids.length)}`)
  return String(ids[0])
}

/** The value of a card's FN, for the cards this file writes (FN on one line). */
function fullNameOf(card: string): string | undefined {
  return /^FN(?:;[^:\r\n]*)?:(.*?)\r?$/m.exec(card)?.[1]
}

/** A vdirsyncer pair (a folder of .vcf files and the owner's book on the server) and khard over the folder. */
interface Client {
  /** The folder vdirsyncer keeps the book's cards in, one .vcf file each. */
  readonly folder: string
  /** vdirsyncer's status directory: what discovery paired, what each sync saw. */
  readonly status: string
  readonly discover: () => Promise<Run>
  /** Runs `vdirsyncer sync` and asserts that it succeeded. */
  readonly sync: () => Promise<Run>
  readonly khardList: () => Promise<Run>
  /** File name to content, of every card in the folder. */
  readonly files: () => Map<string, string>
  /** The name of the one file whose FN is `fullName`. */
  readonly fileNamed: (fullName: string) => string
}

/** How vdirsyncer's sync reports what it wrote to either side. */
const CHANGES = /^(Copying|Deleting) /m

function aClient(t: TestContext, wellKnownUrl: string, password: string): Client {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-carddav-client-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const { config, folder, status } = vdirsyncerPair(dir, { url: wellKnownUrl, username: OWNER, password })
  const khardConfig = join(dir, 'khard.conf')
  writeFileSync(
    khardConfig,
    [
      '[addressbooks]',
      `[[${BOOK}]]`,
      `path = ${folder}`,
      '',
      '[general]',
      'default_action = list',
      'editor = /bin/true',
      'merge_editor = /bin/true',
      '',
      // FN, not N: the names this test changes are full names.
      '[contact table]',
      'display = formatted_name',
      '',
    ].join('\n'),
  )
  const env = cleanEnv({ HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), XDG_DATA_HOME: join(dir, '.local', 'share'), LC_ALL: 'C.UTF-8' })
  const files = () => new Map(readdirSync(folder).filter((name) => name.endsWith('.vcf')).map((name) => [name, readFileSync(join(folder, name), 'utf8')]))
  return {
    folder,
    status,
    discover: () => run('vdirsyncer', ['-c', config, 'discover'], env),
    async sync() {
      const synced = await run('vdirsyncer', ['-c', config, 'sync'], env)
      assert.equal(synced.code, 0, `vdirsyncer sync failed:\n${synced.stderr}${synced.stdout}`)
      return synced
    },
    khardList: () => run('khard', ['-c', khardConfig, 'list', '--parsable'], env),
    files,
    fileNamed(fullName) {
      const names = [...files()].filter(([, card]) => fullNameOf(card) === fullName).map(([name]) => name)
      assert.equal(names.length, 1, `local files with FN ${JSON.stringify(fullName)}: ${names.join(', ') || 'none'}`)
      return String(names[0])
    },
  }
}

/** Writes each card of the exported files into the client's folder, one file per card. */
function putExports(client: Client, fixtures: readonly string[]): string[] {
  const names: string[] = []
  for (const fixture of fixtures) {
    const cards = cardsOf(fixture)
    const expected = EXPORTS[fixture] ?? []
    assert.equal(cards.length, expected.length, `cards in ${fixture}.vcf`)
    cards.forEach((card, index) => {
      writeFileSync(join(client.folder, `${fixture}-${String(index + 1)}.vcf`), card, 'latin1')
    })
    names.push(...expected)
  }
  return names
}

function stores(): { name: string; skip: string | false; db: (t: TestContext) => Promise<string> }[] {
  const postgres = CLIENTS_MISSING || POSTGRES_SKIP ? undefined : useTestPostgres()
  return [
    {
      name: 'SQLite',
      skip: false,
      db(t) {
        const dir = mkdtempSync(join(tmpdir(), 'addrservice-carddav-'))
        t.after(() => {
          rmSync(dir, { recursive: true, force: true })
        })
        return Promise.resolve(`sqlite:${join(dir, 'addressbook.db')}`)
      },
    },
    {
      name: 'PostgreSQL',
      skip: POSTGRES_SKIP,
      db(t) {
        assert.ok(postgres)
        return postgres.freshSchemaUrl(t)
      },
    },
  ]
}

for (const store of stores()) {
  describe(`vdirsyncer and khard against the CardDAV server, on ${store.name}`, { skip: CLIENTS_MISSING || store.skip, timeout: 120_000 }, () => {
    /** A server in api-key mode on a fresh store, the owner's key, and a client that has discovered the book. */
    async function aSession(t: TestContext) {
      const db = await store.db(t)
      const server = await startServer(['--db', db, '--auth', 'api-key'])
      t.after(() => server.child.kill('SIGKILL'))
      const created = await runCli(['keys', 'create', '--db', db, '--owner', OWNER, '--label', 'vdirsyncer'])
      assert.equal(created.code, 0, created.stderr)
      const key = created.stdout.trim()
      const client = aClient(t, `${server.baseUrl}/.well-known/carddav`, key)
      const discovered = await client.discover()
      assert.equal(discovered.code, 0, `vdirsyncer discover failed:\n${discovered.stderr}${discovered.stdout}\n${server.stderr()}`)
      return { baseUrl: server.baseUrl, api: jsonApi(server.baseUrl, key), client }
    }

    /** A session whose book already holds the cards of these exports, uploaded by a sync. */
    async function aSyncedSession(t: TestContext, fixtures: readonly string[]) {
      const session = await aSession(t)
      const names = putExports(session.client, fixtures)
      await session.client.sync()
      assert.deepEqual(await namesIn(session.api), sorted(names))
      return { ...session, names }
    }

    test('when vdirsyncer discovers from /.well-known/carddav, then it pairs the local folder with the owner\'s one book', async (t) => {
      const { baseUrl, client } = await aSession(t)

      const status = JSON.parse(readFileSync(join(client.status, 'contacts.collections'), 'utf8')) as { collections: [string, { url?: string }[]][] }

      assert.deepEqual(
        status.collections.map(([name, sides]) => [name, sides[1]?.url]),
        [[BOOK, `${baseUrl}/dav/addressbooks/${OWNER}/${BOOK}/`]],
      )
    })

    test('when a folder of cards exported by Apple, Google, Outlook and Thunderbird is synced, then every card is an entry with its full name', async (t) => {
      const { api, client } = await aSession(t)
      const names = putExports(client, Object.keys(EXPORTS))

      const synced = await client.sync()

      assert.equal(synced.stderr.match(/^Copying \(uploading\) /gm)?.length, names.length, synced.stderr)
      assert.deepEqual(await namesIn(api), sorted(names))
    })

    test('when a card is renamed in the folder and synced, then the API shows the new name instead of the old', async (t) => {
      const { api, client, names } = await aSyncedSession(t, ['google', 'thunderbird'])
      const file = join(client.folder, client.fileNamed('Maria Santos'))
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^FN(;[^:\r\n]*)?:Maria Santos/m, 'FN$1:Maria Santos Ortega'))

      await client.sync()

      assert.deepEqual(await namesIn(api), sorted(names.map((name) => (name === 'Maria Santos' ? 'Maria Santos Ortega' : name))))
    })

    test('when an entry is renamed through the API and synced, then its file has the new FN, no file is added, and khard lists it', async (t) => {
      const { api, client } = await aSyncedSession(t, ['google', 'thunderbird'])
      const before = client.files().size
      await api.rename(await idOf(api, 'Ada Lovelace'), 'Augusta Ada King')

      await client.sync()

      const cards = [...client.files().values()]
      assert.equal(cards.length, before)
      assert.ok(cards.some((card) => fullNameOf(card) === 'Augusta Ada King'), cards.join('\n'))
      assert.ok(!cards.some((card) => fullNameOf(card) === 'Ada Lovelace'))
      const listed = await client.khardList()
      assert.equal(listed.code, 0, listed.stderr)
      const listedNames = listed.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split('\t')[1])
      // khard shows only cards with a UID ("has no UID and will not be available"): Google's
      // export has none, and the server serves each card back as it was sent, without one.
      const withUid = cards.filter((card) => /^UID[;:]/m.test(card)).map((card) => String(fullNameOf(card)))
      assert.deepEqual(sorted(listedNames.map(String)), sorted(withUid))
      assert.ok(withUid.includes('Augusta Ada King'))
    })

    test('when a card\'s file is deleted and synced, then its entry is gone from the API', async (t) => {
      const { api, client, names } = await aSyncedSession(t, ['google', 'thunderbird'])
      const id = await idOf(api, 'Jonas Becker')
      rmSync(join(client.folder, client.fileNamed('Jonas Becker')))

      await client.sync()

      assert.deepEqual(await namesIn(api), sorted(names.filter((name) => name !== 'Jonas Becker')))
      assert.ok(!(id in (await api.entries())))
    })

    test('when an entry is deleted through the API and synced, then its file is gone from the folder', async (t) => {
      const { api, client } = await aSyncedSession(t, ['google', 'thunderbird'])
      const before = client.files().size
      await api.remove(await idOf(api, 'Charles Babbage'))

      await client.sync()

      const cards = [...client.files().values()]
      assert.equal(cards.length, before - 1)
      assert.ok(!cards.some((card) => fullNameOf(card) === 'Charles Babbage'))
    })

    test('when nothing changed since the last sync, then a second sync copies and deletes nothing on either side', async (t) => {
      const { api, client } = await aSyncedSession(t, Object.keys(EXPORTS))
      const files = client.files()
      const exported = await api.exported()

      const synced = await client.sync()

      assert.doesNotMatch(synced.stderr, CHANGES)
      assert.deepEqual(client.files(), files)
      assert.equal(await api.exported(), exported)
    })
  })
}
