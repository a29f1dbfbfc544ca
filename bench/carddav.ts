/**
 * npm run bench:carddav: what the CardDAV routes cost on a big book, as clients use them.
 *
 * Seeds a 50,000-card SQLite book (BENCH_CARDS) in a temporary directory, starts the built server
 * on it (dist/main.js, as `npm start` runs it) and measures, cold (the first run) and warm (the
 * median of the runs after it):
 * - a Depth 1 PROPFIND of getetag and getcontenttype on the book, what every client sends to
 *   see what changed (vdirsyncer on every sync): time to the last byte, size, responses, and the
 *   server's resident memory, sampled every 10 ms, against its idle memory before it;
 * - an addressbook-multiget of 1,000 cards: time and size;
 * - an addressbook-query for one card's name, FN contains, twice: under i;unicode-casemap, which
 *   the store's search index narrows, and under i;octet, which reads every card;
 * - a sync-collection after one card changed (PUT), from the token taken just before the change,
 *   which is what a phone asks every few minutes: median and p95 of 20;
 * - vdirsyncer's first download of a second, 5,000-card book from a second server (with
 *   `--auth none` there is only the default owner), when vdirsyncer is on PATH.
 * Writes the figures to bench/results/carddav-<time>.json. Not a test: it asserts nothing; a
 * count that is not the expected one is printed beside the figure. Run `npm run build` first.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { newEntryId } from '../src/domain/ids.js'
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js'
import { median, rssMiB, running, startBuiltServer, stopServer, type BuiltServer } from './built-server.js'
import { entryNumber } from './entries.js'
import { vdirsyncerPair } from '../test/helpers/vdirsyncer.js'

const CARDS = Number(process.env.BENCH_CARDS ?? 50_000)
const VDIRSYNCER_CARDS = 5_000
const MULTIGET_HREFS = 1_000
const RUNS = 5
const SYNC_RUNS = 20
const ROOT = new URL('..', import.meta.url).pathname
const BOOK = '/dav/addressbooks/default/contacts/'

const TARGETS = {
  propfindSeconds: 1,
  propfindRssGrowthMiB: 50,
  syncMs: 10,
}

const PROPFIND_ETAGS =
  '<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>'
function queryBody(text: string, collation: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n<c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">' +
    `<d:prop><d:getetag/></d:prop><c:filter><c:prop-filter name="FN"><c:text-match collation="${collation}" match-type="contains">${text}</c:text-match></c:prop-filter></c:filter>` +
    '</c:addressbook-query>'
  )
}
const PROPFIND_SYNC_TOKEN = '<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>'

function multigetBody(hrefs: readonly string[]): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">' +
    '<d:prop><d:getetag/><c:address-data/></d:prop>' +
    hrefs.map((href) => `<d:href>${href}</d:href>`).join('') +
    '</c:addressbook-multiget>'
  )
}

function syncCollectionBody(token: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n<d:sync-collection xmlns:d="DAV:">' +
    `<d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`
  )
}

function changedCard(id: string, run: number): string {
  return ['BEGIN:VCARD', 'VERSION:3.0', `UID:${id}`, `FN:Changed Card ${String(run)}`, `N:Card ${String(run)};Changed;;;`, 'END:VCARD', ''].join('\r\n')
}

function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.ceil(sorted.length * 0.95) - 1] ?? Number.NaN
}

function count(text: string, needle: string): number {
  let found = 0
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) found++
  return found
}

/** How many cards of a multistatus have a property that is not 200 (the book itself has no getcontenttype: a 404 row is right there). */
function cardsNotFound(body: string): number {
  return body.split('</d:response>').filter((response) => response.includes('.vcf</d:href>') && /<d:status>HTTP\/1\.1 (?!200)/.test(response)).length
}

async function seedBook(path: string, cards: number): Promise<string[]> {
  const ids: string[] = []
  const store = new SqliteStore(path)
  try {
    for (let start = 0; start < cards; start += 10_000) {
      const batch = Array.from({ length: Math.min(10_000, cards - start) }, (_, offset) => ({ id: newEntryId(), entry: entryNumber(start + offset) }))
      await store.createMany('default', batch)
      ids.push(...batch.map(({ id }) => id))
    }
  } finally {
    await store.close()
  }
  return ids
}



interface Answer {
  status: number
  bytes: number
  ms: number
  body: string
}

/** One request over a kept-alive connection; `onChunk` runs as each piece of the answer arrives. */
function davRequest(port: number, method: string, path: string, headers: Record<string, string>, body = '', onChunk?: () => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      const chunks: Buffer[] = []
      let bytes = 0
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        chunks.push(chunk)
        onChunk?.()
      })
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, bytes, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') })
      })
      response.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Samples the process's resident memory every 10 ms (also between chunks, when this loop is busy) until stopped; resolves the peak. */
function rssSampler(pid: number): { sample: () => void; stop: () => number } {
  let peak = rssMiB(pid)
  let last = performance.now()
  const sample = () => {
    const now = performance.now()
    if (now - last < 10) return
    last = now
    peak = Math.max(peak, rssMiB(pid))
  }
  const timer = setInterval(sample, 10)
  return {
    sample,
    stop: () => {
      clearInterval(timer)
      return Math.max(peak, rssMiB(pid))
    },
  }
}

const XML = { 'content-type': 'application/xml; charset=utf-8' }

async function propfindBook(server: BuiltServer): Promise<Answer & { responses: number; cardsWithout200: number; peakMiB: number; startMiB: number }> {
  const startMiB = rssMiB(server.pid)
  const sampler = rssSampler(server.pid)
  const answer = await davRequest(server.port, 'PROPFIND', BOOK, { ...XML, depth: '1' }, PROPFIND_ETAGS, sampler.sample)
  const peakMiB = sampler.stop()
  return { ...answer, responses: count(answer.body, '<d:response>'), cardsWithout200: cardsNotFound(answer.body), peakMiB, startMiB }
}

async function currentSyncToken(server: BuiltServer): Promise<string> {
  const answer = await davRequest(server.port, 'PROPFIND', BOOK, { ...XML, depth: '0' }, PROPFIND_SYNC_TOKEN)
  const token = /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(answer.body)?.[1]
  if (answer.status !== 207 || token === undefined) throw new Error(`PROPFIND Depth 0 of sync-token: ${String(answer.status)} ${answer.body.slice(0, 500)}`)
  return token
}

function run(command: string, args: string[]): Promise<{ code: number | null; seconds: number; output: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    // stdin is closed: a prompt (vdirsyncer asking to create a collection) fails the run, never hangs it.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, seconds: (performance.now() - started) / 1000, output })
    })
  })
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const dir = mkdtempSync(join(tmpdir(), 'addrservice-bench-carddav-'))

async function cleanUp(): Promise<void> {
  agent.destroy()
  await Promise.all(running.map(stopServer))
  rmSync(dir, { recursive: true, force: true })
}

// Ctrl-C reaches the servers too (same process group), but the temporary directory is ours to remove.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130))
  })
}

try {
  const seeding = performance.now()
  const ids = await seedBook(join(dir, 'book.db'), CARDS)
  const seededSeconds = (performance.now() - seeding) / 1000
  const server = await startBuiltServer(join(dir, 'book.db'))
  const idleMiB = rssMiB(server.pid)
  const results: Record<string, unknown> = { cards: CARDS, node: process.version, at: new Date().toISOString(), seededSeconds, idleRssMiB: idleMiB, targets: TARGETS }
  const table: [string, string, string, string][] = [['', 'cold', 'warm (median)', 'note']]

  // 1. The listing every client asks for.
  const propfinds: Awaited<ReturnType<typeof propfindBook>>[] = []
  for (let runNumber = 0; runNumber <= RUNS; runNumber++) propfinds.push(await propfindBook(server))
  const [coldPropfind, ...warmPropfinds] = propfinds
  if (coldPropfind === undefined) throw new Error('no PROPFIND ran')
  const warmPropfindMs = median(warmPropfinds.map(({ ms }) => ms))
  const peakPropfindMiB = Math.max(...propfinds.map(({ peakMiB }) => peakMiB))
  const expectedResponses = CARDS + 1
  const propfindOdd = propfinds.filter(({ status, responses, cardsWithout200 }) => status !== 207 || responses !== expectedResponses || cardsWithout200 !== 0)
  results.propfind = {
    status: coldPropfind.status,
    bytes: coldPropfind.bytes,
    responses: coldPropfind.responses,
    expectedResponses,
    cardsWithout200: coldPropfind.cardsWithout200,
    coldMs: coldPropfind.ms,
    warmMedianMs: warmPropfindMs,
    warmMs: warmPropfinds.map(({ ms }) => ms),
    idleRssMiB: idleMiB,
    coldPeakRssMiB: coldPropfind.peakMiB,
    peakRssMiB: peakPropfindMiB,
    runs: propfinds.map(({ status, bytes, responses, cardsWithout200, ms, startMiB, peakMiB }) => ({ status, bytes, responses, cardsWithout200, ms, startRssMiB: startMiB, peakRssMiB: peakMiB })),
  }
  table.push([
    `PROPFIND Depth 1, ${CARDS.toLocaleString('en')} cards`,
    `${coldPropfind.ms.toFixed(0)} ms`,
    `${warmPropfindMs.toFixed(0)} ms`,
    `${(coldPropfind.bytes / 1e6).toFixed(1)} MB, ${coldPropfind.responses.toLocaleString('en')} responses` +
      (propfindOdd.length > 0 ? ` (EXPECTED ${expectedResponses.toLocaleString('en')} at 207, every card 200: ${String(propfindOdd.length)} runs differ)` : '') +
      `; target <= ${String(TARGETS.propfindSeconds * 1000)} ms`,
  ])
  table.push([
    '  server RSS (idle -> peak)',
    `${idleMiB.toFixed(0)} -> ${coldPropfind.peakMiB.toFixed(0)} MiB`,
    `peak of all ${peakPropfindMiB.toFixed(0)} MiB`,
    `+${(peakPropfindMiB - idleMiB).toFixed(0)} MiB; target <= +${String(TARGETS.propfindRssGrowthMiB)} MiB`,
  ])

  // 2. A multiget of 1,000 cards spread over the book.
  const step = Math.max(1, Math.floor(ids.length / MULTIGET_HREFS))
  const hrefs = ids.filter((_, index) => index % step === 0).slice(0, MULTIGET_HREFS).map((id) => `${BOOK}${id}.vcf`)
  const multigets: (Answer & { responses: number; cards: number })[] = []
  for (let runNumber = 0; runNumber <= RUNS; runNumber++) {
    const answer = await davRequest(server.port, 'REPORT', BOOK, { ...XML, depth: '1' }, multigetBody(hrefs))
    multigets.push({ ...answer, responses: count(answer.body, '<d:response>'), cards: count(answer.body, 'BEGIN:VCARD') })
  }
  const [coldMultiget, ...warmMultigets] = multigets
  if (coldMultiget === undefined) throw new Error('no multiget ran')
  const warmMultigetMs = median(warmMultigets.map(({ ms }) => ms))
  const multigetOdd = multigets.filter(({ status, responses, cards }) => status !== 207 || responses !== hrefs.length || cards !== hrefs.length)
  results.multiget = {
    hrefs: hrefs.length,
    status: coldMultiget.status,
    bytes: coldMultiget.bytes,
    responses: coldMultiget.responses,
    cards: coldMultiget.cards,
    coldMs: coldMultiget.ms,
    warmMedianMs: warmMultigetMs,
    warmMs: warmMultigets.map(({ ms }) => ms),
  }
  if (multigetOdd.length > 0) console.log(`multiget: first answer that differs:\n${(multigetOdd[0]?.body ?? '').slice(0, 1000)}`)
  table.push([
    `multiget of ${hrefs.length.toLocaleString('en')} cards`,
    `${coldMultiget.ms.toFixed(0)} ms`,
    `${warmMultigetMs.toFixed(0)} ms`,
    `${(coldMultiget.bytes / 1e6).toFixed(2)} MB, ${coldMultiget.cards.toLocaleString('en')} cards` +
      (multigetOdd.length > 0 ? ` (EXPECTED ${String(hrefs.length)} at 207: ${String(multigetOdd.length)} runs differ)` : ''),
  ])

  // 2b. A search, narrowed by the store's index or not.
  const wanted = entryNumber(Math.floor(CARDS / 4)).full_name
  const expectedFound = Array.from({ length: CARDS }, (_, index) => entryNumber(index).full_name).filter((name) => name.includes(wanted)).length
  results.query = { text: wanted, expected: expectedFound }
  for (const [collation, label] of [['i;unicode-casemap', 'narrowed by the search index'], ['i;octet', 'every card read']] as const) {
    const queries: (Answer & { responses: number })[] = []
    for (let runNumber = 0; runNumber <= RUNS; runNumber++) {
      const answer = await davRequest(server.port, 'REPORT', BOOK, { ...XML, depth: '1' }, queryBody(wanted, collation))
      queries.push({ ...answer, responses: count(answer.body, '<d:response>') })
    }
    const [coldQuery, ...warmQueries] = queries
    if (coldQuery === undefined) throw new Error('no addressbook-query ran')
    const odd = queries.filter(({ status, responses }) => status !== 207 || responses !== expectedFound)
    results.query = { ...(results.query as object), [collation]: { coldMs: coldQuery.ms, warmMedianMs: median(warmQueries.map(({ ms }) => ms)), responses: coldQuery.responses } }
    table.push([
      `addressbook-query, ${collation}`,
      `${coldQuery.ms.toFixed(1)} ms`,
      `${median(warmQueries.map(({ ms }) => ms)).toFixed(1)} ms`,
      `${label}; ${String(coldQuery.responses)} found` + (odd.length > 0 ? ` (EXPECTED ${String(expectedFound)} at 207: ${String(odd.length)} runs differ)` : ''),
    ])
  }

  // 3. A phone's periodic sync: one card changed since its last token.
  const syncs: { putStatus: number; putMs: number; status: number; ms: number; bytes: number; responses: number }[] = []
  for (let runNumber = 0; runNumber <= SYNC_RUNS; runNumber++) {
    const token = await currentSyncToken(server)
    const id = ids[(runNumber * 7919) % ids.length] ?? ''
    const put = await davRequest(server.port, 'PUT', `${BOOK}${id}.vcf`, { 'content-type': 'text/vcard; charset=utf-8' }, changedCard(id, runNumber))
    if (put.status >= 300) console.log(`PUT ${BOOK}${id}.vcf: ${String(put.status)} ${put.body.slice(0, 500)}`)
    const answer = await davRequest(server.port, 'REPORT', BOOK, { ...XML, depth: '1' }, syncCollectionBody(token))
    const responses = count(answer.body, '<d:response>')
    if (answer.status !== 207 || responses !== 1) console.log(`sync-collection ${String(runNumber)}: ${String(answer.status)}, ${String(responses)} responses\n${answer.body.slice(0, 1000)}`)
    syncs.push({ putStatus: put.status, putMs: put.ms, status: answer.status, ms: answer.ms, bytes: answer.bytes, responses })
  }
  const [coldSync, ...warmSyncs] = syncs
  if (coldSync === undefined) throw new Error('no sync-collection ran')
  const syncMs = warmSyncs.map(({ ms }) => ms)
  const syncOdd = syncs.filter(({ status, responses, putStatus }) => status !== 207 || responses !== 1 || putStatus >= 300)
  results.syncCollection = {
    runs: warmSyncs.length,
    coldMs: coldSync.ms,
    medianMs: median(syncMs),
    p95Ms: p95(syncMs),
    bytes: coldSync.bytes,
    putMedianMs: median(warmSyncs.map(({ putMs }) => putMs)),
    putStatuses: [...new Set(syncs.map(({ putStatus }) => putStatus))],
    responses: syncs.map(({ responses }) => responses),
    ms: syncMs,
  }
  table.push([
    `sync-collection after 1 change (${String(warmSyncs.length)})`,
    `${coldSync.ms.toFixed(1)} ms`,
    `${median(syncMs).toFixed(1)} ms, p95 ${p95(syncMs).toFixed(1)} ms`,
    `${String(coldSync.bytes)} bytes, 1 response` +
      (syncOdd.length > 0 ? ` (${String(syncOdd.length)} runs DIFFER: see above)` : '') +
      `; target <= ${String(TARGETS.syncMs)} ms`,
  ])
  table.push([`  PUT of the change`, `${coldSync.putMs.toFixed(1)} ms`, `${median(warmSyncs.map(({ putMs }) => putMs)).toFixed(1)} ms`, `status ${[...new Set(syncs.map(({ putStatus }) => putStatus))].join(', ')}`])
  agent.destroy()
  await stopServer(server.child)

  // 4. vdirsyncer's first download, from a book of its own on a second server.
  if (!onPath('vdirsyncer')) {
    const reason = 'vdirsyncer is not on PATH (apt-get install vdirsyncer): its first download is not measured'
    console.log(reason)
    results.vdirsyncer = { skipped: reason }
  } else {
    const vdirsyncerDb = join(dir, 'vdirsyncer-book.db')
    await seedBook(vdirsyncerDb, VDIRSYNCER_CARDS)
    const second = await startBuiltServer(vdirsyncerDb)
    const { config, folder } = vdirsyncerPair(dir, { url: `http://127.0.0.1:${String(second.port)}/.well-known/carddav`, username: 'bench', password: 'bench' })
    const discovered = await run('vdirsyncer', ['-c', config, 'discover'])
    if (discovered.code !== 0) throw new Error(`vdirsyncer discover: exit ${String(discovered.code)}\n${discovered.output}`)
    const synced = await run('vdirsyncer', ['-c', config, 'sync'])
    const files = readdirSync(folder).filter((name) => name.endsWith('.vcf')).length
    if (synced.code !== 0) console.log(`vdirsyncer sync: exit ${String(synced.code)}\n${synced.output.slice(-2000)}`)
    results.vdirsyncer = { cards: VDIRSYNCER_CARDS, exit: synced.code, seconds: synced.seconds, files, discoverSeconds: discovered.seconds }
    table.push([
      `vdirsyncer first sync, ${VDIRSYNCER_CARDS.toLocaleString('en')} cards`,
      `${synced.seconds.toFixed(1)} s`,
      '',
      `${files.toLocaleString('en')} files, exit ${String(synced.code)}` + (files !== VDIRSYNCER_CARDS || synced.code !== 0 ? ` (EXPECTED ${String(VDIRSYNCER_CARDS)}, exit 0)` : '') +
        `; ${Math.round(files / synced.seconds).toLocaleString('en')} cards/s`,
    ])
  }

  const widths = [0, 1, 2].map((column) => Math.max(...table.map((row) => row[column]?.length ?? 0)))
  console.log(`addrservice CardDAV on SQLite: ${CARDS.toLocaleString('en')} cards (seeded in ${seededSeconds.toFixed(1)} s), server idle at ${idleMiB.toFixed(0)} MiB RSS`)
  for (const row of table) console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd())
  const out = join(ROOT, 'bench', 'results')
  mkdirSync(out, { recursive: true })
  const file = join(out, `carddav-${new Date().toISOString().replaceAll(':', '-')}.json`)
  writeFileSync(file, JSON.stringify(results, null, 2))
  console.log(`written to ${file}`)
} finally {
  await cleanUp()
}
