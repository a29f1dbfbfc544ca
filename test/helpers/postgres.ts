import { randomBytes } from 'node:crypto'
import { after, before, type TestContext } from 'node:test'
import pg from 'pg'

const ADMIN_URL = process.env.ADDRSERVICE_TEST_PG_URL

/** Why PostgreSQL tests are skipped, or false when they run. */
export const POSTGRES_SKIP: string | false = ADMIN_URL
  ? false
  : 'PostgreSQL tests skipped: set ADDRSERVICE_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test to run them'

const uniqueName = (prefix: string) => `${prefix}_${String(process.pid)}_${randomBytes(4).toString('hex')}`

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function onAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

export interface TestPostgres {
  /** The URL of this file's throwaway database. */
  readonly url: () => string
  /** A URL whose connections use a fresh, empty schema, dropped when the test ends. */
  readonly freshSchemaUrl: (t: TestContext) => Promise<string>
}

/**
 * Gives a test file its own database on the server ADDRSERVICE_TEST_PG_URL names: created before
 * the file's tests, dropped after them. Call at the top level of the file, and only when
 * POSTGRES_SKIP is false.
 */
export function useTestPostgres(): TestPostgres {
  const adminUrl = ADMIN_URL ?? ''
  const database = uniqueName('addrservice_test')
  let ready = false
  before(async () => {
    await onAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`))
    ready = true
  })
  after(async () => {
    if (ready) await onAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  })
  const url = () => withDatabase(adminUrl, database)
  return {
    url,
    async freshSchemaUrl(t) {
      const schema = uniqueName('s')
      await onAdmin(url(), (client) => client.query(`CREATE SCHEMA ${schema}`))
      t.after(() => onAdmin(url(), (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)))
      const scoped = new URL(url())
      scoped.searchParams.set('options', `-c search_path=${schema}`)
      return scoped.toString()
    },
  }
}
