import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
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

/** The user the server runs as: as root, the postgres user (the server refuses to run as root). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    return { uid: id('-u'), gid: id('-g') }
  } catch {
    return undefined
  }
}
const AS_USER = serverUser()

/** Why tests that need their own PostgreSQL server are skipped, or false when they can run. */
export const OWN_POSTGRES_SKIP: string | false = !(existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'pg_ctl')))
  ? `outage tests skipped: they start a PostgreSQL server of their own and need ${BIN}/initdb and pg_ctl (or ADDRSERVICE_TEST_PG_BIN)`
  : process.getuid?.() === 0 && !AS_USER
    ? 'outage tests skipped: running as root, they need a postgres user to run their PostgreSQL server as'
    : false

/** Without the caller's PG* variables, so that nothing but our arguments picks the server. */
const TOOL_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PG'))),
  LC_ALL: 'C',
}

/** No tool may take longer than this; pg_ctl's own wait (-t) is shorter. */
const TOOL_TIMEOUT_MS = 60_000

async function tool(name: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(join(BIN, name), args, { cwd, env: TOOL_ENV, timeout: TOOL_TIMEOUT_MS, killSignal: 'SIGKILL', ...AS_USER })
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string }
    const output = [stderr, stdout].map((text) => text?.trim()).find((text) => text !== undefined && text !== '')
    throw new Error(`${name} ${args.join(' ')} failed: ${output ?? String(error)}`, { cause: error })
  }
}

function chownToServerUser(path: string): void {
  if (AS_USER) execFileSync('chown', ['-R', `${String(AS_USER.uid)}:${String(AS_USER.gid)}`, path])
}

/**
 * A port free on 127.0.0.1, below the kernel's ephemeral range when it can: the server gives the
 * port up while it restarts, and an outgoing connection must not take it meanwhile.
 */
async function freePort(): Promise<number> {
  const bind = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer()
      server.once('error', () => {
        resolve(undefined)
      })
      server.listen(port, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => {
          resolve(typeof address === 'object' && address ? address.port : undefined)
        })
      })
    })
  const range = '/proc/sys/net/ipv4/ip_local_port_range'
  const [low] = existsSync(range) ? readFileSync(range, 'utf8').split(/\s+/).map(Number) : []
  const ceiling = Math.min(low ?? 32768, 32768)
  for (let attempt = 0; attempt < 20 && ceiling > 20_000; attempt++) {
    const port = await bind(20_000 + Math.floor(Math.random() * (ceiling - 20_000)))
    if (port !== undefined) return port
  }
  const port = await bind(0)
  if (port === undefined) throw new Error('no free port on 127.0.0.1')
  return port
}

/** The processes whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // The fields after the command name, which is in parentheses and may hold anything: state, ppid, ...
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid
      } catch {
        return false
      }
    })
    .map(Number)
}

/**
 * One data directory made by initdb per process; every server copies it, which is several times
 * faster than initdb each time. Removed when the process exits.
 */
let template: Promise<string> | undefined
function initializedTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-pg-template-'))
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true })
    })
    chownToServerUser(dir)
    // --no-sync only skips initdb's final flush of the template; the servers run with fsync on.
    await tool('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], dir)
    return join(dir, 'data')
  })()
  return template
}

/** Servers still running when the process exits are stopped, so that none outlives the tests. */
const running = new Set<OwnPostgres>()
process.once('exit', () => {
  for (const server of running) server.stopNow()
})

export type StopMode = 'fast' | 'immediate'

/**
 * A PostgreSQL server that one test owns: its own data directory in a temporary directory, a free
 * port on 127.0.0.1 only, its socket in that directory, trust authentication, fsync on. Tests stop
 * and restart it at will; pg_ctl always names this data directory, so no other server (such as the
 * shared one on 5432) is ever touched.
 */
export class OwnPostgres {
  readonly url: string
  readonly port: number
  readonly #dir: string
  #frozen: number[] = []

  private constructor(dir: string, port: number) {
    this.#dir = dir
    this.port = port
    this.url = `postgres://postgres@127.0.0.1:${String(port)}/postgres`
  }

  /** A new server with an initialized data directory, not started yet; `destroy` removes it. */
  static async create(): Promise<OwnPostgres> {
    const data = await initializedTemplate()
    const dir = mkdtempSync(join(tmpdir(), 'addrservice-pg-'))
    try {
      chownToServerUser(dir)
      await run('cp', ['-a', data, join(dir, 'data')], { timeout: TOOL_TIMEOUT_MS })
      return new OwnPostgres(dir, await freePort())
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
  }

  get #data(): string {
    return join(this.#dir, 'data')
  }

  get #log(): string {
    return join(this.#dir, 'server.log')
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    running.add(this)
    await this.#ctl(['start', '-l', this.#log, '-o', this.#options()])
  }

  /** Stops the server: `fast` rolls back open transactions and closes connections, `immediate` is a crash. */
  async stop(mode: StopMode): Promise<void> {
    await this.#ctl(['stop', '-m', mode])
    running.delete(this)
  }

  /** Stops the server as `stop` does and starts it again on the same port. */
  async restart(mode: StopMode): Promise<void> {
    running.add(this)
    await this.#ctl(['restart', '-m', mode, '-l', this.#log, '-o', this.#options()])
  }

  /**
   * Makes the server stop answering without closing anything, as a hung machine or a network
   * partition would: the postmaster and every server process get SIGSTOP until `thaw`.
   */
  freeze(): void {
    const postmaster = Number(readFileSync(join(this.#data, 'postmaster.pid'), 'utf8').split('\n')[0])
    // The postmaster first, so that it forks no process we would miss.
    process.kill(postmaster, 'SIGSTOP')
    this.#frozen.push(postmaster)
    for (const child of childrenOf(postmaster)) {
      process.kill(child, 'SIGSTOP')
      this.#frozen.push(child)
    }
  }

  /** Lets a frozen server run again. */
  thaw(): void {
    for (const pid of this.#frozen.splice(0).reverse()) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // Gone meanwhile: nothing to resume.
      }
    }
  }

  /** What the server has logged so far, for messages when something fails. */
  serverLog(): string {
    return existsSync(this.#log) ? readFileSync(this.#log, 'utf8') : ''
  }

  /** Stops the server if it runs (as a crash: nothing is left to keep) and removes its directory. */
  async destroy(): Promise<void> {
    this.thaw()
    if (running.has(this)) await this.stop('immediate').catch(() => undefined)
    running.delete(this)
    rmSync(this.#dir, { recursive: true, force: true })
  }

  /** Synchronous last resort for the process's exit. */
  stopNow(): void {
    this.thaw()
    spawnSync(join(BIN, 'pg_ctl'), ['-D', this.#data, '-m', 'immediate', '-w', '-t', '10', 'stop'], {
      cwd: this.#dir,
      env: TOOL_ENV,
      stdio: 'ignore',
      timeout: 15_000,
      ...AS_USER,
    })
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #options(): string {
    return [
      `-p ${String(this.port)}`,
      // pg_ctl hands these to a shell.
      `-k '${this.#dir}'`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=on',
      '-c synchronous_commit=on',
      '-c max_connections=50',
    ].join(' ')
  }

  async #ctl(args: string[]): Promise<void> {
    try {
      await tool('pg_ctl', ['-D', this.#data, '-w', '-t', '30', ...args], this.#dir)
    } catch (error) {
      const log = this.serverLog().trimEnd().split('\n').slice(-20).join('\n')
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nserver log:\n${log}`, { cause: error })
    }
  }
}

/**
 * A server of the test's own, removed when the test ends; started unless `started` is false.
 * Call only when OWN_POSTGRES_SKIP is false.
 */
export async function useOwnPostgres(t: TestContext, { started = true }: { started?: boolean } = {}): Promise<OwnPostgres> {
  const server = await OwnPostgres.create()
  t.after(() => server.destroy())
  if (started) await server.start()
  return server
}
