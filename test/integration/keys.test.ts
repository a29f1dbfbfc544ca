import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { aFullEntry } from '../helpers/factories.js'
import { httpRequest } from '../helpers/http-client.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'
import { runCli, startServer } from '../helpers/server-process.js'

const KEY = /^addr_[0-9a-f]{16}_[0-9A-Za-z]{43}$/

function aDatabase(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-keys-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return `sqlite:${join(dir, 'addressbook.db')}`
}

async function createKey(db: string, ...args: string[]): Promise<string> {
  const created = await runCli(['keys', 'create', '--db', db, ...args])
  assert.equal(created.code, 0, created.stderr)
  return created.stdout.trim()
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** Asks every `intervalMs` until `check` holds; resolves with how long that took. */
async function timeUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await check()) return Date.now() - started
    assert.ok(Date.now() - started < timeoutMs, `not within ${String(timeoutMs)} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

describe('addrservice keys', () => {
  test('when a key is created, then stdout has the key alone, stderr says for whom, and list shows it without the secret', async (t) => {
    const db = aDatabase(t)

    const created = await runCli(['keys', 'create', '--db', db, '--owner', 'alice', '--scope', 'read', '--label', 'phone sync'])
    const listed = await runCli(['keys', 'list', '--db', db])

    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^addr_[0-9a-f]{16}_[0-9A-Za-z]{43}\n$/)
    const key = created.stdout.trim()
    const id = key.slice(5, 21)
    assert.match(created.stderr, new RegExp(`created key ${id} for owner alice \\(scope read\\)`))
    assert.equal(listed.code, 0)
    const [header, row, ...rest] = listed.stdout.trimEnd().split('\n')
    assert.equal(header, 'ID\tOWNER\tSCOPE\tLABEL\tCREATED\tLAST USED\tREVOKED')
    const columns = String(row).split('\t')
    assert.deepEqual([columns[0], columns[1], columns[2], columns[3], columns[5], columns[6]], [id, 'alice', 'read', 'phone sync', '-', '-'])
    assert.match(String(columns[4]), /^\d{4}-\d{2}-\d{2}T/)
    assert.deepEqual(rest, [])
    assert.ok(!listed.stdout.includes(key.slice(22)), 'list shows the secret')
  })

  test('when keys of several owners exist, then --owner lists one owner only, and the scope defaults to write', async (t) => {
    const db = aDatabase(t)
    await createKey(db, '--owner', 'alice')
    await createKey(db, '--owner', 'bob')

    const listed = await runCli(['keys', 'list', '--db', db, '--owner', 'bob'])

    const rows = listed.stdout.trimEnd().split('\n').slice(1).map((line) => line.split('\t'))
    assert.deepEqual(rows.map((row) => [row[1], row[2]]), [['bob', 'write']])
  })

  test('when a server in api-key mode runs on the same store, then a key created meanwhile works at once, as Bearer and as Basic, and its use is recorded', async (t) => {
    const db = aDatabase(t)
    const server = await startServer(['--db', db, '--auth', 'api-key'])
    t.after(() => server.child.kill('SIGKILL'))
    const key = await createKey(db, '--owner', 'alice')

    const created = await httpRequest(server.baseUrl, { method: 'POST', path: '/addresses', headers: bearer(key), body: JSON.stringify(aFullEntry()) })
    const basic = `Basic ${Buffer.from(`alice:${key}`).toString('base64')}`
    const read = await httpRequest(server.baseUrl, { method: 'GET', path: String(created.headers.location), headers: { authorization: basic } })
    const listed = await runCli(['keys', 'list', '--db', db])

    assert.equal(created.status, 201)
    assert.equal(read.status, 200)
    assert.deepEqual(JSON.parse(read.body), aFullEntry())
    assert.match(String(listed.stdout.split('\n')[1]?.split('\t')[5]), /^\d{4}-\d{2}-\d{2}T/, 'last used is recorded')
    const logged = server.logLines().filter((line) => line.uri === '/addresses' || String(line.uri).startsWith('/addresses/'))
    assert.deepEqual(logged.map((line) => line.owner), ['alice', 'alice'])
    assert.ok(!JSON.stringify(server.logLines()).includes(key.slice(22)), 'the secret reached the log')
  })

  test('when a key is revoked, then the running server refuses it within 5 seconds, and list shows when', async (t) => {
    const db = aDatabase(t)
    const server = await startServer(['--db', db, '--auth', 'api-key'])
    t.after(() => server.child.kill('SIGKILL'))
    const key = await createKey(db, '--owner', 'alice')
    assert.equal((await httpRequest(server.baseUrl, { method: 'GET', path: '/addresses', headers: bearer(key) })).status, 200)

    const revoked = await runCli(['keys', 'revoke', '--db', db, key.slice(5, 21)])
    const took = await timeUntil(async () => (await httpRequest(server.baseUrl, { method: 'GET', path: '/addresses', headers: bearer(key) })).status === 401, 5000)

    assert.equal(revoked.code, 0, revoked.stderr)
    assert.match(revoked.stdout, /^revoked [0-9a-f]{16} \(owner alice\) at \d{4}-/)
    assert.ok(took < 5000)
    const listed = await runCli(['keys', 'list', '--db', db])
    assert.match(String(listed.stdout.split('\n')[1]?.split('\t')[6]), /^\d{4}-\d{2}-\d{2}T/)
  })

  for (const [name, args, code, message] of [
    ['a key id that does not exist', ['revoke', '0000000000000000'], 1, /no key has the id "0000000000000000"/],
    ['no owner', ['create'], 2, /needs --owner NAME/],
    ['an owner with a colon', ['create', '--owner', 'a:b'], 2, /without a colon/],
    ['an unknown scope', ['create', '--owner', 'a', '--scope', 'admin'], 2, /--scope must be read or write/],
    ['no command', [], 2, /keys needs a command/],
    ['an unknown command', ['rotate'], 2, /unknown keys command "rotate"/],
    ['an option of another command', ['list', '--scope', 'read'], 2, /does not take --scope/],
    ['a stray argument', ['list', 'extra'], 2, /takes no arguments/],
  ] as const) {
    test(`when keys is given ${name}, then it exits ${String(code)} with one line`, async (t) => {
      const result = await runCli(['keys', ...args, '--db', aDatabase(t)])

      assert.equal(result.code, code)
      assert.match(result.stderr, message)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      assert.equal(result.stdout, '')
    })
  }

  test('when the store is memory, then keys refuses with one line: it cannot keep them', async () => {
    const result = await runCli(['keys', 'list', '--db', 'memory:'])

    assert.equal(result.code, 2)
    assert.match(result.stderr, /keeps them/)
  })

  test('when the server is asked for api-key mode on the memory store, then it refuses to start with one line', async () => {
    const result = await runCli(['--db', 'memory:', '--auth', 'api-key', '--port', '0'])

    assert.equal(result.code, 2)
    assert.match(result.stderr, /^addrservice: invalid configuration: auth\.mode: api-key needs a store that keeps keys/)
  })

  test('when keys --help is asked for, then its usage goes to stdout', async () => {
    const result = await runCli(['keys', '--help'])

    assert.equal(result.code, 0)
    assert.match(result.stdout, /addrservice keys create --owner NAME/)
  })

  describe('on PostgreSQL, across instances', { skip: POSTGRES_SKIP }, () => {
    const postgres = POSTGRES_SKIP ? undefined : useTestPostgres()

    test('when a key is created, then two instances accept it at once; when it is revoked, both refuse it within 5 seconds', async (t) => {
      assert.ok(postgres)
      const db = await postgres.freshSchemaUrl(t)
      const instances = await Promise.all([startServer(['--db', db, '--auth', 'api-key']), startServer(['--db', db, '--auth', 'api-key'])])
      for (const instance of instances) t.after(() => instance.child.kill('SIGKILL'))
      const key = await createKey(db, '--owner', 'alice')

      const statuses = await Promise.all(instances.map(async (instance) => (await httpRequest(instance.baseUrl, { method: 'GET', path: '/addresses', headers: bearer(key) })).status))
      await runCli(['keys', 'revoke', '--db', db, key.slice(5, 21)])
      const took = await timeUntil(async () => {
        const answers = await Promise.all(instances.map((instance) => httpRequest(instance.baseUrl, { method: 'GET', path: '/addresses', headers: bearer(key) })))
        return answers.every((answer) => answer.status === 401)
      }, 5000)

      assert.deepEqual(statuses, [200, 200])
      assert.ok(took < 5000)
    })
  })
})

// KEY is the shape every created key must have; checked here once against a fresh key.
test('when a key is printed, then it has the addr_<id>_<secret> shape that secret scanners can match', async (t) => {
  assert.match(await createKey(aDatabase(t), '--owner', 'carol'), KEY)
})
