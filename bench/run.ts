/**
 * npm run bench: addrservice against a raw node:http baseline, one server after another on
 * loopback, each pinned to one core and the load generator (wrk) to another when taskset exists.
 *
 *   npm run bench                  every scenario, 10 s each after a 3 s warm-up (about 8 minutes)
 *   npm run bench -- --quick       GET by id and POST on the baseline and SQLite, and start-up (about 1 minute)
 *   npm run bench -- --smoke       the harness itself, for a couple of seconds (the test runs this)
 *   npm run bench -- --seconds 20  longer runs
 *   --no-build (use dist/ as it is), --out DIR (write the JSON there)
 *
 * Prints a table per scenario (req/s, p50/p99 latency, ratio to the baseline, server CPU, RSS)
 * and writes the figures to bench/results/bench-<time>.json. Not a test: it asserts nothing.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { ApiKeys } from '../src/auth/api-keys.js'
import { ANONYMOUS_PRINCIPAL } from '../src/domain/principal.js'
import { newEntryId } from '../src/domain/ids.js'
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js'
import type { Store } from '../src/storage/store.js'
import { BENCH_ENTRY, entryNumber } from './entries.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MAIN = join(ROOT, 'dist', 'main.js')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const smoke = args.includes('--smoke')
const secondsArg = args.indexOf('--seconds')
const SECONDS = secondsArg >= 0 ? Number(args[secondsArg + 1]) : smoke ? 1 : quick ? 4 : 10
const WARMUP = smoke ? 0 : quick ? 2 : 3
const outArg = args.indexOf('--out')
const CONNECTIONS = 32
const BOOK = 1_000
const BIG_BOOK = smoke ? 2_000 : 100_000
const PG_URL = process.env.ADDRSERVICE_BENCH_PG_URL ?? process.env.ADDRSERVICE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

type Auth = 'none' | 'api-key'
interface Target {
  readonly name: string
  readonly store: 'baseline' | 'memory' | 'sqlite' | 'postgres'
  readonly auth: Auth
}
interface Scenario {
  readonly name: string
  /** The body of wrk's request() for this scenario, in Lua. */
  readonly lua: string
  /** Needs the 100,000-entry book. */
  readonly big?: boolean
}
interface Measurement {
  target: string
  scenario: string
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  cpuPercent: number
  rssMiB: number
  ratio?: number
}

// ---------------------------------------------------------------- the machine

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}

function ensureWrk(): void {
  if (has('wrk')) return
  if (has('apt-get') && process.getuid?.() === 0) {
    console.log('wrk is missing: installing it from Debian packages (apt-get install wrk)')
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'], { stdio: 'inherit' })
  }
  if (!has('wrk')) {
    console.error('bench: wrk is not installed and could not be installed here; install it (apt-get install wrk) and run again')
    process.exit(2)
  }
}

const pinning = has('taskset') && availableParallelism() >= 2
/** The command that runs `argv` on one core: the server on core 0, the load generator on core 1. */
function pinned(core: 0 | 1, argv: string[]): string[] {
  return pinning ? ['taskset', '-c', String(core), ...argv] : argv
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** CPU seconds a process has used so far (user + system). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kib / 1024
}

// ---------------------------------------------------------------- servers

interface Server {
  readonly child: ChildProcess
  readonly url: string
  readonly authorization?: string
  ids: string[]
  stop(): Promise<void>
}

let nextPort = 18_000 + Math.floor(Math.random() * 2000)

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${String(child.exitCode)}`)
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return
    } catch {
      // not listening yet
    }
    await delay(10)
  }
  throw new Error(`${url} did not become ready`)
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, delay(10_000).then(() => child.kill('SIGKILL'))])
  }
}

/** A fresh store for a target: a SQLite file, or a PostgreSQL database of its own. */
async function freshStore(target: Target, dir: string): Promise<{ url: string; open: () => Promise<Store>; drop: () => Promise<void> }> {
  if (target.store === 'sqlite') {
    const file = join(dir, `${target.name.replace(/\W+/g, '-')}-${String(nextPort)}.db`)
    const drop = () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true })
      return Promise.resolve()
    }
    return { url: `sqlite:${file}`, open: () => Promise.resolve(new SqliteStore(file)), drop }
  }
  if (target.store === 'postgres') {
    const { default: pg } = await import('pg')
    const { PostgresStore } = await import('../src/storage/postgres/postgres-store.js')
    const name = `addrservice_bench_${String(process.pid)}_${String(nextPort)}`
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    const url = new URL(PG_URL)
    url.pathname = `/${name}`
    return {
      url: url.toString(),
      open: async () => {
        const store = new PostgresStore(url.toString(), { statementTimeoutMs: 60_000 })
        await store.ready()
        return store
      },
      drop: async () => {
        const client = new pg.Client({ connectionString: PG_URL })
        await client.connect()
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await client.end()
      },
    }
  }
  return { url: 'memory:', open: () => Promise.reject(new Error('a memory store lives in its server')), drop: () => Promise.resolve() }
}

async function startTarget(target: Target, dir: string, { seed = 0 }: { seed?: number } = {}): Promise<Server> {
  const port = nextPort++
  const url = `http://127.0.0.1:${String(port)}`
  if (target.store === 'baseline') {
    const argv = pinned(0, [process.execPath, '--import', 'tsx', join(ROOT, 'bench', 'baseline.ts')])
    const child = spawn(argv[0] ?? '', argv.slice(1), {
      env: { ...process.env, BENCH_PORT: String(port), BENCH_SEED: String(seed) },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    await waitReady(url, child)
    return { child, url, ids: [], stop: stopper(child) }
  }
  const store = await freshStore(target, dir)
  let authorization: string | undefined
  if (seed > 0 || target.auth === 'api-key') {
    const opened = await store.open()
    if (target.auth === 'api-key') authorization = `Bearer ${(await new ApiKeys(opened).create('bench', 'write', 'bench')).key}`
    const owner = target.auth === 'api-key' ? 'bench' : ANONYMOUS_PRINCIPAL.owner
    for (let start = 0; start < seed; start += 10_000) {
      const batch = Array.from({ length: Math.min(10_000, seed - start) }, (_, offset) => ({ id: newEntryId(), entry: entryNumber(start + offset) }))
      await opened.createMany(owner, batch)
    }
    await opened.close()
  }
  const config = join(dir, `config-${String(port)}.yaml`)
  writeFileSync(
    config,
    stringify({
      server: { host: '127.0.0.1', port },
      auth: { mode: target.auth },
      // The limit stays on with authentication, as it is by default, but high enough not to refuse the benchmark.
      'rate-limit': { max: 1_000_000 },
      logging: { level: 'info' },
    }),
  )
  const argv = pinned(0, [process.execPath, MAIN, '--config', config, '--db', store.url])
  const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: cleanEnv() })
  await waitReady(url, child)
  const stop = stopper(child)
  return {
    child,
    url,
    ...(authorization ? { authorization } : {}),
    ids: [],
    stop: async () => {
      await stop()
      await store.drop()
    },
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ADDRSERVICE_') && key !== 'DATABASE_URL'))
}

/** Creates the 1,000 entries the scenarios read and replace, through the API, and keeps their ids. */
async function seedBook(server: Server): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(server.authorization ? { authorization: server.authorization } : {}) }
  const body = JSON.stringify(BENCH_ENTRY)
  for (let created = 0; created < BOOK; created += 8) {
    const responses = await Promise.all(Array.from({ length: 8 }, () => fetch(`${server.url}/addresses`, { method: 'POST', headers, body })))
    for (const response of responses) {
      if (response.status !== 201) throw new Error(`seeding: POST answered ${String(response.status)}`)
      server.ids.push(String(response.headers.get('location')).slice('/addresses/'.length))
    }
  }
}

// ---------------------------------------------------------------- load

// In this order: the page of 100 runs before POST grows the book, on the same 1,000 entries everywhere.
const SCENARIOS: readonly Scenario[] = [
  { name: 'GET /addresses/{id}', lua: 'return wrk.format("GET", "/addresses/" .. ids[math.random(#ids)])' },
  { name: 'GET /addresses (a page of 100)', lua: 'return wrk.format("GET", "/addresses?limit=100")' },
  {
    name: '90% GET / 10% PUT',
    lua: `local id = ids[math.random(#ids)]
  if math.random(10) == 1 then return wrk.format("PUT", "/addresses/" .. id, nil, body) end
  return wrk.format("GET", "/addresses/" .. id)`,
  },
  { name: 'POST /addresses', lua: 'return wrk.format("POST", "/addresses", nil, body)' },
  { name: 'GET /addresses?q=hopper (100,000 entries)', lua: 'return wrk.format("GET", "/addresses?q=hopper")', big: true },
]

function wrkScript(server: Server, scenario: Scenario, dir: string): string {
  const file = join(dir, 'scenario.lua')
  const ids = server.ids.length > 0 ? server.ids : ['none']
  writeFileSync(
    file,
    `local ids = {${ids.map((id) => `"${id}"`).join(',')}}
local body = ${JSON.stringify(JSON.stringify(BENCH_ENTRY))}
wrk.headers["Content-Type"] = "application/json"
${server.authorization ? `wrk.headers["Authorization"] = "${server.authorization}"` : ''}
request = function()
  ${scenario.lua}
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`,
  )
  return file
}

function runWrk(script: string, url: string, seconds: number): { requests: number; durationUs: number; p50Us: number; p99Us: number; errors: number } {
  const argv = pinned(1, ['wrk', '-t1', `-c${String(CONNECTIONS)}`, `-d${String(seconds)}s`, '--timeout', '10s', '-s', script, url])
  const output = execFileSync(argv[0] ?? 'wrk', argv.slice(1), { encoding: 'utf8' })
  const line = output.split('\n').find((text) => text.startsWith('BENCH '))
  if (!line) throw new Error(`wrk printed no summary:\n${output}`)
  const [requests = 0, durationUs = 1, p50Us = 0, p99Us = 0, errors = 0] = line.slice(6).split(' ').map(Number)
  return { requests, durationUs, p50Us, p99Us, errors }
}

async function measure(target: Target, server: Server, scenario: Scenario, dir: string): Promise<Measurement> {
  const script = wrkScript(server, scenario, dir)
  if (WARMUP > 0) runWrk(script, server.url, WARMUP)
  const pid = server.child.pid ?? 0
  const cpuBefore = cpuSeconds(pid)
  const result = runWrk(script, server.url, SECONDS)
  const cpu = cpuSeconds(pid) - cpuBefore
  const seconds = result.durationUs / 1e6
  console.log(`  ${target.name}, ${scenario.name}: ${num(result.requests / seconds)} req/s`)
  await delay(0)
  return {
    target: target.name,
    scenario: scenario.name,
    requestsPerSecond: result.requests / seconds,
    p50Ms: result.p50Us / 1000,
    p99Ms: result.p99Us / 1000,
    errors: result.errors,
    cpuPercent: (100 * cpu) / seconds,
    rssMiB: rssMiB(pid),
  }
}

// ---------------------------------------------------------------- start-up

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

function wallMs(argv: string[], times: number): number {
  return median(
    Array.from({ length: times }, () => {
      const started = performance.now()
      const result = spawnSync(argv[0] ?? '', argv.slice(1), { stdio: 'ignore' })
      if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${String(result.status)}`)
      return performance.now() - started
    }),
  )
}

async function coldStartMs(dir: string, times: number): Promise<number> {
  const samples: number[] = []
  for (let run = 0; run < times; run++) {
    const port = nextPort++
    const started = performance.now()
    const child = spawn(process.execPath, [MAIN, '--db', `sqlite:${join(dir, `cold-${String(run)}.db`)}`, '--port', String(port), '--auth', 'none'], {
      stdio: 'ignore',
      env: cleanEnv(),
    })
    await waitReady(`http://127.0.0.1:${String(port)}`, child)
    samples.push(performance.now() - started)
    await stopper(child)()
  }
  return median(samples)
}

// ---------------------------------------------------------------- report

const pad = (text: string, width: number) => text.padEnd(width)
const num = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a')

function table(scenario: string, rows: Measurement[]): string {
  const lines = [
    scenario,
    `  ${pad('server', 26)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'ratio'.padStart(7)}${'CPU %'.padStart(7)}${'RSS MiB'.padStart(9)}${'errors'.padStart(8)}`,
  ]
  for (const row of rows) {
    lines.push(
      `  ${pad(row.target, 26)}${num(row.requestsPerSecond).padStart(9)}${num(row.p50Ms, 2).padStart(9)}${num(row.p99Ms, 2).padStart(9)}${(row.ratio === undefined ? '' : num(row.ratio, 2)).padStart(7)}${num(row.cpuPercent).padStart(7)}${num(row.rssMiB).padStart(9)}${num(row.errors).padStart(8)}`,
    )
  }
  return lines.join('\n')
}

async function postgresReachable(): Promise<boolean> {
  try {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1000 })
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  ensureWrk()
  if (!args.includes('--no-build')) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-bench-'))
  const node = process.version
  console.log(
    `addrservice benchmark, ${new Date().toISOString()}, Node ${node}, ${String(availableParallelism())} cores; wrk, ${String(CONNECTIONS)} connections, ${String(WARMUP)} s warm-up + ${String(SECONDS)} s per run`,
  )
  console.log(pinning ? 'servers pinned to core 0, wrk to core 1 (taskset)' : 'taskset is missing (or one core only): servers and wrk are not pinned, so they share the cores')

  const targets: Target[] = [
    { name: 'raw node:http (baseline)', store: 'baseline', auth: 'none' },
    { name: 'addrservice memory', store: 'memory', auth: 'none' },
    { name: 'addrservice SQLite', store: 'sqlite', auth: 'none' },
    { name: 'addrservice SQLite api-key', store: 'sqlite', auth: 'api-key' },
  ]
  if (!smoke && !quick && (await postgresReachable())) targets.push({ name: 'addrservice PostgreSQL', store: 'postgres', auth: 'none' })
  else if (!smoke && !quick) console.log(`PostgreSQL at ${PG_URL} does not answer: its rows are left out`)
  const chosenTargets = smoke ? targets.slice(0, 2) : quick ? targets.filter((target) => target.store === 'baseline' || target.name === 'addrservice SQLite') : targets
  const chosenScenarios = smoke ? SCENARIOS.slice(0, 1) : quick ? SCENARIOS.filter((scenario) => scenario.name.startsWith('GET /addresses/') || scenario.name.startsWith('POST')) : SCENARIOS

  const results: Measurement[] = []
  try {
    for (const target of chosenTargets) {
      const small = chosenScenarios.filter((scenario) => !scenario.big)
      if (small.length > 0) {
        const server = await startTarget(target, dir)
        try {
          await seedBook(server)
          for (const scenario of small) results.push(await measure(target, server, scenario, dir))
        } finally {
          await server.stop()
        }
      }
      const big = chosenScenarios.filter((scenario) => scenario.big)
      if (big.length > 0 && target.store !== 'memory') {
        const server = await startTarget(target, dir, { seed: BIG_BOOK })
        try {
          for (const scenario of big) results.push(await measure(target, server, scenario, dir))
        } finally {
          await server.stop()
        }
      }
    }

    for (const scenario of chosenScenarios) {
      const rows = results.filter((row) => row.scenario === scenario.name)
      const baseline = rows.find((row) => row.target === chosenTargets[0]?.name)
      if (baseline) for (const row of rows) row.ratio = row.requestsPerSecond / baseline.requestsPerSecond
      console.log(`\n${table(scenario.name, rows)}`)
      if (baseline && scenario === chosenScenarios[0]) {
        console.log(
          baseline.cpuPercent >= 90
            ? `  the baseline server used ${num(baseline.cpuPercent)}% of its core: the load generator keeps up`
            : `  WARNING: the baseline server used only ${num(baseline.cpuPercent)}% of its core: the load generator may be the bottleneck`,
        )
      }
    }

    const startup = {
      coldStartToReadyMs: await coldStartMs(dir, smoke ? 1 : 5),
      versionMs: wallMs([process.execPath, MAIN, '--version'], smoke ? 1 : 5),
      helpMs: wallMs([process.execPath, MAIN, '--help'], smoke ? 1 : 5),
      nodeAloneMs: wallMs([process.execPath, '-e', '0'], smoke ? 1 : 5),
    }
    console.log(
      `\nstart-up (median of ${smoke ? '1' : '5'}): cold start to /readyz 200 ${num(startup.coldStartToReadyMs)} ms; --version ${num(startup.versionMs)} ms; --help ${num(startup.helpMs)} ms; node -e 0 alone ${num(startup.nodeAloneMs)} ms`,
    )

    const out = outArg >= 0 ? (args[outArg + 1] ?? '.') : join(ROOT, 'bench', 'results')
    mkdirSync(out, { recursive: true })
    const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    writeFileSync(
      file,
      `${JSON.stringify({ date: new Date().toISOString(), node, cores: availableParallelism(), pinned: pinning, connections: CONNECTIONS, seconds: SECONDS, results, startup }, null, 2)}\n`,
    )
    console.log(`\nwritten to ${file}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (!existsSync(join(ROOT, 'package.json'))) throw new Error('run from the repository')
await main()
