import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The newest Debian-style PostgreSQL installation's binaries (ADDRSERVICE_TEST_PG_BIN overrides). */
function findBinaries(): string {
  const override = process.env.ADDRSERVICE_TEST_PG_BIN
  if (override) return override
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)) : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0] ?? '15'
  return join(root, newest, 'bin')
}
const BIN = findBinaries()

/** Why tests that need their own PostgreSQL server are skipped, or false when they can run. */
export const OWN_POSTGRES_SKIP: string | false = existsSync(join(BIN, 'pg_ctl'))
  ? false
  : `outage tests skipped: they start a PostgreSQL server of their own and need ${BIN}/initdb and pg_ctl`

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (typeof address !== 'object' || !address) throw new Error('no port')
  return address.port
}

/** Runs a PostgreSQL tool as the postgres user when we are root (the server refuses root). */
async function asPostgres(tool: string, args: string[]): Promise<void> {
  const command = join(BIN, tool)
  if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', command, ...args])
  else await run(command, args)
}

/**
 * A PostgreSQL server that one test file owns: its own data directory and free port on
 * 127.0.0.1, trust authentication, fsync on. Tests stop and restart it at will; the shared
 * server is never touched.
 */
export class OwnPostgres {
  readonly url: string
  readonly #dir: string
  readonly #port: number

  private constructor(dir: string, port: number) {
    this.#dir = dir
    this.#port = port
    this.url = `postgres://postgres@127.0.0.1:${String(port)}/postgres`
  }

  /** Initializes a data directory; the server is not started. */
  static async create(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-pg-'))
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres'])
      const { stdout: group } = await run('id', ['-g', 'postgres'])
      chownSync(dir, Number(stdout.trim()), Number(group.trim()))
    }
    await asPostgres('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
    return new OwnPostgres(dir, await freePort())
  }

  start(): Promise<void> {
    return this.#ctl(['start', '-l', join(this.#dir, 'server.log'), '-o', this.#options()])
  }

  stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    return this.#ctl(['stop', '-m', mode])
  }

  restart(mode: 'fast' | 'immediate'): Promise<void> {
    return this.#ctl(['restart', '-m', mode, '-l', join(this.#dir, 'server.log'), '-o', this.#options()])
  }

  /** Stops the server if it runs and removes everything it wrote. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined)
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #options(): string {
    return `-p ${String(this.#port)} -k ${this.#dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=50`
  }

  #ctl(args: string[]): Promise<void> {
    return asPostgres('pg_ctl', ['-D', join(this.#dir, 'data'), '-w', '-t', '30', ...args])
  }
}
