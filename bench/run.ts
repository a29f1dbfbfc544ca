/**
 * npm run bench: addrservice against a raw node:http baseline and a bare Fastify route, on
 * loopback, each server pinned to one core and the load generator (wrk) to another when taskset
 * exists.
 *
 *   npm run bench                  every scenario, 10 s each after a 3 s warm-up, then the photos
 *                                  and labels scenarios of bench/photos.ts (about 13 minutes)
 *   npm run bench -- --quick       GET by id, 90/10 and POST on the references and SQLite, the
 *                                  features' costs, and start-up (about 3 minutes)
 *   npm run bench -- --smoke       the harness itself, for a couple of seconds (the test runs this)
 *   npm run bench -- --seconds 20  longer runs
 *   --no-build (use dist/ as it is), --out DIR (write the JSON there), --no-photos (leave out
 *   the photos and labels scenarios)
 *
 * Prints a table per scenario (req/s, p50/p99 latency, ratio to the baseline, server CPU, the
 * server's CPU time per request, RSS), what each feature costs a GET, start-up, and how the
 * figures stand against the targets; writes them to bench/results/bench-<time>.json.
 * Not a test: it asserts nothing.
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
/** Rounds of the features' runs: each round runs every variant once, so that a drift of the machine touches them all alike. */
const FEATURE_ROUNDS = quick ? 2 : 3
/** Rounds of each scenario on the 1,000-entry book (the search on the big book runs once). */
const ROUNDS = smoke || quick ? 1 : 2
const FEATURE_SECONDS = secondsArg >= 0 ? SECONDS : quick ? 3 : 5
const outArg = args.indexOf('--out')
const CONNECTIONS = 32
const BOOK = 1_000
const BIG_BOOK = smoke ? 2_000 : 100_000
const PG_URL = process.env.ADDRSERVICE_BENCH_PG_URL ?? process.env.ADDRSERVICE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

type Auth = 'none' | 'api-key'
interface Target {
  readonly name: string
  readonly store: 'baseline' | 'fastify' | 'memory' | 'sqlite' | 'postgres'
  readonly auth: Auth
  /** Settings over the benchmark's own (logging.level warn, no authentication, a rate limit it does not reach). */
  readonly settings?: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  /** Only these scenarios, by name prefix; all when absent. */
  readonly only?: readonly string[]
}
interface Scenario {
  readonly name: string
  /** The body of wrk's request() for this scenario, in Lua, over the requests the script prepares (see wrkScript). */
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
  /** The server's CPU time (user + system) per request: what a request costs, whether or not the server was saturated. */
  cpuUsPerRequest: number
  rssMiB: number
  ratio?: number
  /** To the bare Fastify route's figure, when it ran. */
  fastifyRatio?: number
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
  if (target.store === 'baseline' || target.store === 'fastify') {
    const script = target.store === 'baseline' ? 'baseline.ts' : 'bare-fastify.ts'
    const argv = pinned(0, [process.execPath, '--import', 'tsx', join(ROOT, 'bench', script)])
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
  const settings: Record<string, Record<string, unknown>> = {
    server: { host: '127.0.0.1', port },
    auth: { mode: target.auth },
    // The limit stays on with authentication, as it is by default, but high enough not to refuse the benchmark.
    'rate-limit': { max: 1_000_000 },
    logging: { level: 'warn' },
  }
  for (const [section, values] of Object.entries(target.settings ?? {})) settings[section] = { ...settings[section], ...values }
  writeFileSync(config, stringify(settings))
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

/**
 * Starts a server for each target on the 1,000-entry book, all at once (idle ones cost nothing),
 * hands them to `use`, and stops them all after, whatever happened.
 */
async function withSeededServers<T>(targets: readonly Target[], dir: string, use: (servers: ReadonlyMap<Target, Server>) => Promise<T>): Promise<T> {
  const servers = new Map<Target, Server>()
  try {
    for (const target of targets) {
      const server = await startTarget(target, dir)
      servers.set(target, server)
      await seedBook(server)
    }
    return await use(servers)
  } finally {
    for (const server of servers.values()) await server.stop()
  }
}

// ---------------------------------------------------------------- load

// In this order: the page of 100 runs before POST grows the book, on the same 1,000 entries everywhere.
// Each request is formatted once, in the script's init(), so that wrk spends its core sending them.
const GET_BY_ID: Scenario = { name: 'GET /addresses/{id}', lua: 'return gets[math.random(#gets)]' }
const SCENARIOS: readonly Scenario[] = [
  GET_BY_ID,
  { name: 'GET /addresses (a page of 100)', lua: 'return page' },
  {
    name: '90% GET / 10% PUT',
    lua: `local i = math.random(#gets)
  if math.random(10) == 1 then return puts[i] end
  return gets[i]`,
  },
  { name: 'POST /addresses', lua: 'return post' },
  { name: 'GET /addresses?q=hopper (100,000 entries)', lua: 'return search', big: true },
]

function wrkScript(server: Server, scenario: Scenario, dir: string, headers: Readonly<Record<string, string>> = {}): string {
  const file = join(dir, 'scenario.lua')
  const ids = server.ids.length > 0 ? server.ids : ['none']
  const allHeaders = { 'Content-Type': 'application/json', ...(server.authorization ? { Authorization: server.authorization } : {}), ...headers }
  writeFileSync(
    file,
    `local ids = {${ids.map((id) => `"${id}"`).join(',')}}
local body = ${JSON.stringify(JSON.stringify(BENCH_ENTRY))}
${Object.entries(allHeaders).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`).join('\n')}
local gets, puts = {}, {}
local page, post, search
init = function()
  for i, id in ipairs(ids) do
    gets[i] = wrk.format("GET", "/addresses/" .. id)
    puts[i] = wrk.format("PUT", "/addresses/" .. id, nil, body)
  end
  page = wrk.format("GET", "/addresses?limit=100")
  post = wrk.format("POST", "/addresses", nil, body)
  search = wrk.format("GET", "/addresses?q=hopper")
end
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

interface MeasureOptions {
  readonly seconds?: number
  readonly warmup?: number
  /** Request headers on top of the scenario's. */
  readonly headers?: Readonly<Record<string, string>>
  /** Print the line as it goes. */
  readonly quiet?: boolean
}

async function measure(target: Target, server: Server, scenario: Scenario, dir: string, options: MeasureOptions = {}): Promise<Measurement> {
  const { seconds = SECONDS, warmup = WARMUP, headers = {}, quiet = false } = options
  const script = wrkScript(server, scenario, dir, headers)
  if (warmup > 0) runWrk(script, server.url, warmup)
  const pid = server.child.pid ?? 0
  const cpuBefore = cpuSeconds(pid)
  const result = runWrk(script, server.url, seconds)
  const cpu = cpuSeconds(pid) - cpuBefore
  const elapsed = result.durationUs / 1e6
  if (!quiet) console.log(`  ${target.name}, ${scenario.name}: ${num(result.requests / elapsed)} req/s`)
  await delay(0)
  return {
    target: target.name,
    scenario: scenario.name,
    requestsPerSecond: result.requests / elapsed,
    p50Ms: result.p50Us / 1000,
    p99Ms: result.p99Us / 1000,
    errors: result.errors,
    cpuPercent: (100 * cpu) / elapsed,
    cpuUsPerRequest: (1e6 * cpu) / Math.max(1, result.requests),
    rssMiB: rssMiB(pid),
  }
}

/** Whether a target takes part in a scenario. */
function runs(target: Target, scenario: Scenario): boolean {
  return !target.only || target.only.some((name) => scenario.name.startsWith(name))
}

/** One row for a target's rounds of a scenario: the median of each figure. */
function medianOf(rows: readonly Measurement[]): Measurement {
  const [first] = rows
  if (!first) throw new Error('no rounds measured')
  const of = (figure: (row: Measurement) => number) => median(rows.map(figure))
  return {
    target: first.target,
    scenario: first.scenario,
    requestsPerSecond: of((row) => row.requestsPerSecond),
    p50Ms: of((row) => row.p50Ms),
    p99Ms: of((row) => row.p99Ms),
    errors: rows.reduce((sum, row) => sum + row.errors, 0),
    cpuPercent: of((row) => row.cpuPercent),
    cpuUsPerRequest: of((row) => row.cpuUsPerRequest),
    rssMiB: Math.max(...rows.map((row) => row.rssMiB)),
  }
}

// ---------------------------------------------------------------- what each feature costs a GET

/**
 * A feature and how the benchmark turns it on and off. Every variant is addrservice on SQLite at
 * logging.level warn without authentication (so without the rate limit) and with metrics, as the
 * reference is, but for the one setting named; compression cannot be turned off, so its line is
 * what a GET costs when the client asks for it, as browsers and most HTTP clients do (the entry,
 * under the 1 KiB threshold, still goes out plain).
 */
interface Feature {
  readonly name: string
  readonly how: string
  /** The variant's settings, or the request headers that engage the feature on the reference. */
  readonly settings?: Target['settings']
  readonly auth?: Auth
  readonly headers?: Readonly<Record<string, string>>
  /** Whether the variant has the feature and the reference not (or the other way round). */
  readonly variantHasIt: boolean
}

const FEATURES: readonly Feature[] = [
  { name: 'access log', how: 'logging.level info vs warn', settings: { logging: { level: 'info' } }, variantHasIt: true },
  { name: 'metrics', how: 'metrics.enabled true vs false', settings: { metrics: { enabled: false } }, variantHasIt: false },
  { name: 'authentication', how: 'API key vs auth.mode none (rate limit off)', auth: 'api-key', settings: { 'rate-limit': { enabled: false } }, variantHasIt: true },
  { name: 'rate limit', how: 'rate-limit.enabled true vs false (by client address)', settings: { 'rate-limit': { enabled: true } }, variantHasIt: true },
  { name: 'compression', how: 'Accept-Encoding: gzip, deflate, br vs none', headers: { 'Accept-Encoding': 'gzip, deflate, br' }, variantHasIt: true },
]

interface FeatureCost {
  feature: string
  how: string
  /** CPU time per GET with and without the feature (medians of the rounds). */
  withUs: number
  withoutUs: number
  costUs: number
  /** Of the reference GET's CPU time. */
  percent: number
  requestsPerSecondWith: number
  requestsPerSecondWithout: number
}

/**
 * Runs GET /addresses/{id} on the reference and on a variant per feature, all started at once and
 * measured in turn, round after round; a feature costs the difference of the CPU time per request
 * (medians of the rounds), which holds whether or not the server saturated its core.
 */
async function featureCosts(dir: string): Promise<{ referenceUs: number; costs: FeatureCost[] }> {
  const reference: Target = { name: 'reference', store: 'sqlite', auth: 'none' }
  const variants = FEATURES.map((feature) => ({
    feature,
    target: feature.settings || feature.auth ? { name: feature.name, store: 'sqlite' as const, auth: feature.auth ?? 'none', ...(feature.settings ? { settings: feature.settings } : {}) } : reference,
  }))
  const targets = [reference, ...new Set(variants.map((variant) => variant.target).filter((target) => target !== reference))]
  return withSeededServers(targets, dir, async (servers) => {
    const runs = [{ target: reference, headers: {} }, ...variants.map(({ feature, target }) => ({ target, headers: feature.headers ?? {} }))]
    const samples = runs.map(() => [] as Measurement[])
    for (let round = 0; round < FEATURE_ROUNDS; round++) {
      for (const [index, run] of runs.entries()) {
        const server = servers.get(run.target)
        if (!server) throw new Error(`no server for ${run.target.name}`)
        samples[index]?.push(await measure(run.target, server, GET_BY_ID, dir, { seconds: FEATURE_SECONDS, warmup: round === 0 ? WARMUP : 0, headers: run.headers, quiet: true }))
      }
      process.stdout.write(`  features: round ${String(round + 1)} of ${String(FEATURE_ROUNDS)} done\n`)
    }
    const rows = samples.map(medianOf)
    const cpuOf = (index: number) => rows[index]?.cpuUsPerRequest ?? Number.NaN
    const rateOf = (index: number) => rows[index]?.requestsPerSecond ?? Number.NaN
    const costs = variants.map(({ feature }, offset) => {
      const [withIndex, withoutIndex] = feature.variantHasIt ? [offset + 1, 0] : [0, offset + 1]
      const costUs = cpuOf(withIndex) - cpuOf(withoutIndex)
      return {
        feature: feature.name,
        how: feature.how,
        withUs: cpuOf(withIndex),
        withoutUs: cpuOf(withoutIndex),
        costUs,
        percent: (100 * costUs) / cpuOf(0),
        requestsPerSecondWith: rateOf(withIndex),
        requestsPerSecondWithout: rateOf(withoutIndex),
      }
    })
    return { referenceUs: cpuOf(0), costs }
  })
}

// ---------------------------------------------------------------- start-up

/** The middle value, or the mean of the two middle values of an even count (two rounds give their mean). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length % 2 === 1) return sorted[middle] ?? Number.NaN
  return ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2
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

/** Cold start to /readyz 200 with the default settings but for a SQLite file, a port and no authentication, and the server's RSS then. */
async function coldStart(dir: string, times: number): Promise<{ ms: number; rssMiB: number }> {
  const samples: number[] = []
  const rss: number[] = []
  for (let run = 0; run < times; run++) {
    const port = nextPort++
    const started = performance.now()
    const child = spawn(process.execPath, [MAIN, '--db', `sqlite:${join(dir, `cold-${String(run)}.db`)}`, '--port', String(port), '--auth', 'none'], {
      stdio: 'ignore',
      env: cleanEnv(),
    })
    await waitReady(`http://127.0.0.1:${String(port)}`, child)
    samples.push(performance.now() - started)
    rss.push(rssMiB(child.pid ?? 0))
    await stopper(child)()
  }
  return { ms: median(samples), rssMiB: median(rss) }
}

// ---------------------------------------------------------------- report

const pad = (text: string, width: number) => text.padEnd(width)
const num = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a')

function table(scenario: string, rows: Measurement[]): string {
  const lines = [
    scenario,
    `  ${pad('server', 30)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'ratio'.padStart(7)}${'/bare'.padStart(7)}${'CPU %'.padStart(7)}${'µs/req'.padStart(8)}${'RSS MiB'.padStart(9)}${'errors'.padStart(8)}`,
  ]
  for (const row of rows) {
    const ratio = (value: number | undefined) => (value === undefined ? '' : num(value, 2)).padStart(7)
    lines.push(
      `  ${pad(row.target, 30)}${num(row.requestsPerSecond).padStart(9)}${num(row.p50Ms, 2).padStart(9)}${num(row.p99Ms, 2).padStart(9)}${ratio(row.ratio)}${ratio(row.fastifyRatio)}${num(row.cpuPercent).padStart(7)}${num(row.cpuUsPerRequest, 1).padStart(8)}${num(row.rssMiB).padStart(9)}${num(row.errors).padStart(8)}`,
    )
  }
  return lines.join('\n')
}

function featureLines({ referenceUs, costs }: { referenceUs: number; costs: readonly FeatureCost[] }): string {
  const lines = [
    `what each feature costs a GET /addresses/{id}, in the server's CPU time per request (the reference: SQLite, warn, no authentication, metrics on, ${num(referenceUs, 1)} µs; medians of ${String(FEATURE_ROUNDS)} rounds)`,
  ]
  for (const cost of costs) {
    const sign = cost.costUs >= 0 ? '+' : '−'
    lines.push(
      `  ${pad(cost.feature, 16)}${`${sign}${num(Math.abs(cost.costUs), 1)} µs`.padStart(11)}${`${sign}${num(Math.abs(cost.percent), 0)}%`.padStart(7)}   ${num(cost.requestsPerSecondWithout)} → ${num(cost.requestsPerSecondWith)} req/s   (${cost.how})`,
    )
  }
  return lines.join('\n')
}

interface Goal {
  readonly what: string
  readonly value: number | undefined
  readonly unit: '' | ' ms' | ' MiB'
  readonly atLeast?: number
  readonly atMost?: number
}

/** The targets of the performance work, against this run's figures. */
function goalLines(results: readonly Measurement[], startup: { coldStartToReadyMs: number; rssAfterStartMiB: number }): string {
  const row = (target: string, scenario: string) => results.find((result) => result.target === target && result.scenario === scenario)
  const get = GET_BY_ID.name
  const goals: Goal[] = [
    { what: 'GET by id, SQLite, warn: ratio', value: row('addrservice SQLite', get)?.ratio, unit: '', atLeast: 0.5 },
    { what: 'GET by id, SQLite, info: ratio', value: row('addrservice SQLite info', get)?.ratio, unit: '', atLeast: 0.4 },
    { what: '90/10 GET/PUT, SQLite: ratio', value: row('addrservice SQLite', '90% GET / 10% PUT')?.ratio, unit: '', atLeast: 0.4 },
    { what: 'POST, SQLite: ratio', value: row('addrservice SQLite', 'POST /addresses')?.ratio, unit: '', atLeast: 0.3 },
    { what: 'POST, PostgreSQL (one owner): ratio', value: row('addrservice PostgreSQL', 'POST /addresses')?.ratio, unit: '', atLeast: 0.15 },
    { what: 'GET by id, PostgreSQL: ratio', value: row('addrservice PostgreSQL', get)?.ratio, unit: '', atLeast: 0.35 },
    { what: 'GET by id, SQLite: p99', value: row('addrservice SQLite', get)?.p99Ms, unit: ' ms', atMost: 3 },
    { what: 'cold start to /readyz', value: startup.coldStartToReadyMs, unit: ' ms', atMost: 300 },
    { what: 'RSS after start', value: startup.rssAfterStartMiB, unit: ' MiB', atMost: 100 },
  ]
  const lines = ['against the targets (ratios to the raw server in this run)']
  for (const goal of goals) {
    if (goal.value === undefined) continue
    const digits = goal.unit === '' || goal.unit === ' ms' && goal.value < 10 ? 2 : 0
    const met = goal.atLeast !== undefined ? goal.value >= goal.atLeast : goal.value <= (goal.atMost ?? Number.POSITIVE_INFINITY)
    const target = goal.atLeast !== undefined ? `≥ ${String(goal.atLeast)}` : `≤ ${String(goal.atMost)}`
    lines.push(`  ${pad(goal.what, 34)}${`${num(goal.value, digits)}${goal.unit}`.padStart(10)}   target ${target}${goal.unit}   ${met ? 'met' : 'not met'}`)
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
    `addrservice benchmark, ${new Date().toISOString()}, Node ${node}, ${String(availableParallelism())} cores; wrk, ${String(CONNECTIONS)} connections, ${String(WARMUP)} s warm-up + ${String(SECONDS)} s per run, median of ${String(ROUNDS)} round${ROUNDS === 1 ? '' : 's'} (interleaved across the servers)`,
  )
  console.log(pinning ? 'servers pinned to core 0, wrk to core 1 (taskset)' : 'taskset is missing (or one core only): servers and wrk are not pinned, so they share the cores')

  const baseline: Target = { name: 'raw node:http (baseline)', store: 'baseline', auth: 'none' }
  const bare: Target = { name: 'bare Fastify', store: 'fastify', auth: 'none' }
  const targets: Target[] = [
    baseline,
    bare,
    { name: 'addrservice memory', store: 'memory', auth: 'none' },
    { name: 'addrservice SQLite', store: 'sqlite', auth: 'none' },
    { name: 'addrservice SQLite info', store: 'sqlite', auth: 'none', settings: { logging: { level: 'info' } }, only: ['GET /addresses/{id}'] },
    { name: 'addrservice SQLite api-key', store: 'sqlite', auth: 'api-key' },
  ]
  if (!smoke && !quick && (await postgresReachable())) targets.push({ name: 'addrservice PostgreSQL', store: 'postgres', auth: 'none' })
  else if (!smoke && !quick) console.log(`PostgreSQL at ${PG_URL} does not answer: its rows are left out`)
  const chosenTargets = smoke
    ? targets.filter((target) => target === baseline || target.store === 'memory')
    : quick
      ? targets.filter((target) => target === baseline || target === bare || target.name === 'addrservice SQLite' || target.name === 'addrservice SQLite info')
      : targets
  const chosenScenarios = smoke
    ? SCENARIOS.slice(0, 1)
    : quick
      ? SCENARIOS.filter((scenario) => scenario.name.startsWith('GET /addresses/') || scenario.name.startsWith('90%') || scenario.name.startsWith('POST'))
      : SCENARIOS

  const results: Measurement[] = []
  try {
    // Every server of the 1,000-entry book runs at once (idle ones cost nothing), and each
    // scenario is measured round after round across them, so that a drift of the machine during
    // the run touches every server alike; a server's figure is the median of its rounds.
    const small = chosenTargets.filter((target) => chosenScenarios.some((scenario) => !scenario.big && runs(target, scenario)))
    await withSeededServers(small, dir, async (servers) => {
      for (const scenario of chosenScenarios.filter((each) => !each.big)) {
        const samples = new Map<Target, Measurement[]>()
        for (let round = 0; round < ROUNDS; round++) {
          for (const [target, server] of servers) {
            if (!runs(target, scenario)) continue
            const sample = await measure(target, server, scenario, dir, { warmup: round === 0 ? WARMUP : 0 })
            samples.set(target, [...(samples.get(target) ?? []), sample])
          }
        }
        for (const rows of samples.values()) results.push(medianOf(rows))
      }
    })
    for (const target of chosenTargets) {
      const big = chosenScenarios.filter((scenario) => scenario.big && runs(target, scenario))
      if (big.length > 0 && target.store !== 'memory') {
        const server = await startTarget(target, dir, { seed: BIG_BOOK })
        try {
          for (const scenario of big) results.push(await measure(target, server, scenario, dir))
        } finally {
          await server.stop()
        }
      }
    }
    const features = smoke ? undefined : await featureCosts(dir)

    for (const scenario of chosenScenarios) {
      const rows = results.filter((row) => row.scenario === scenario.name)
      const raw = rows.find((row) => row.target === baseline.name)
      const fastify = rows.find((row) => row.target === bare.name)
      for (const row of rows) {
        if (raw) row.ratio = row.requestsPerSecond / raw.requestsPerSecond
        if (fastify) row.fastifyRatio = row.requestsPerSecond / fastify.requestsPerSecond
      }
      console.log(`\n${table(scenario.name, rows)}`)
      if (raw && scenario === chosenScenarios[0]) {
        console.log(
          raw.cpuPercent >= 90
            ? `  the baseline server used ${num(raw.cpuPercent)}% of its core: the load generator keeps up`
            : `  WARNING: the baseline server used only ${num(raw.cpuPercent)}% of its core: the load generator may be the bottleneck`,
        )
      }
    }
    if (features) console.log(`\n${featureLines(features)}`)

    const times = smoke ? 1 : 5
    const cold = await coldStart(dir, times)
    const startup = {
      coldStartToReadyMs: cold.ms,
      rssAfterStartMiB: cold.rssMiB,
      versionMs: wallMs([process.execPath, MAIN, '--version'], times),
      helpMs: wallMs([process.execPath, MAIN, '--help'], times),
      nodeAloneMs: wallMs([process.execPath, '-e', '0'], times),
    }
    console.log(
      `\nstart-up (median of ${String(times)}): cold start to /readyz 200 ${num(startup.coldStartToReadyMs)} ms, RSS then ${num(startup.rssAfterStartMiB)} MiB; --version ${num(startup.versionMs)} ms; --help ${num(startup.helpMs)} ms; node -e 0 alone ${num(startup.nodeAloneMs)} ms`,
    )
    if (!smoke) console.log(`\n${goalLines(results, startup)}`)

    const out = outArg >= 0 ? (args[outArg + 1] ?? '.') : join(ROOT, 'bench', 'results')
    mkdirSync(out, { recursive: true })
    const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    writeFileSync(
      file,
      `${JSON.stringify({ date: new Date().toISOString(), node, cores: availableParallelism(), pinned: pinning, connections: CONNECTIONS, seconds: SECONDS, results, features, startup }, null, 2)}\n`,
    )
    console.log(`\nwritten to ${file}`)
    if (!smoke && !quick && !args.includes('--no-photos')) {
      // Its own process: it seeds its own books and runs its own servers, and writes its own file.
      console.log('\nphotos and labels (bench/photos.ts, also `npm run bench:photos`):')
      spawnSync(process.execPath, [...process.execArgv, join(ROOT, 'bench', 'photos.ts')], { cwd: ROOT, stdio: 'inherit' })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (!existsSync(join(ROOT, 'package.json'))) throw new Error('run from the repository')
await main()
