/**
 * npm run bench:photos: what photos and labels cost, on SQLite, against the built server
 * (dist/main.js, as `npm start` runs it; run `npm run build` first):
 * - a page of 100 entries (GET /addresses?limit=100) of a 1,000-entry book whose entries have no
 *   labels, of the same book with three labels each, and of that book with a photo on every entry
 *   (each entry then links its photo): requests per second and latency, with wrk, the servers
 *   measured turn and turn about;
 * - GET of an entry and GET of its 96×96 thumbnail, in the book where every entry has a photo;
 * - an NDJSON export of a 10,000-entry book where every entry has a photo (about 45 KB each),
 *   read as fast as it comes, with the server's resident memory sampled every 10 ms against its
 *   idle memory before it.
 * Targets (issue 18): the labelled page within 10% of the plain one; the thumbnail at least as
 * fast as the entry; the export's RSS within +50 MiB of idle. Writes the figures to
 * bench/results/photos-<time>.json. Not a test: it asserts nothing.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import sharp from 'sharp'
import { newEntryId } from '../src/domain/ids.js'
import { normalizePhoto } from '../src/formats/photo.js'
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js'
import type { PhotoData } from '../src/storage/store.js'
import { median, rssMiB, running, startBuiltServer, stopServer, type BuiltServer } from './built-server.js'
import { entryNumber } from './entries.js'

const BOOK = 1_000
const EXPORT_BOOK = Number(process.env.BENCH_PHOTOS ?? 10_000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = 2
const LABELS = ['Family', 'Work', 'Football']
const ROOT = new URL('..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'addrservice-bench-photos-'))

/** A photo as a phone might give it: noise, so that it does not compress to nothing. */
async function aPhoto(seed: number): Promise<PhotoData> {
  const image = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: { r: seed % 255, g: 90, b: 40 }, noise: { type: 'gaussian', mean: 120, sigma: 25 } } })
    .jpeg()
    .toBuffer()
  return normalizePhoto(image)
}

/** Seeds a book: `count` entries, with labels or not, with a photo each or not, written a batch at a time. */
async function seed(path: string, count: number, { labels, photos }: { labels: boolean; photos: readonly PhotoData[] }): Promise<string[]> {
  const store = new SqliteStore(path)
  const ids: string[] = []
  try {
    for (let start = 0; start < count; start += 500) {
      const batch = Array.from({ length: Math.min(500, count - start) }, (_, offset) => {
        const index = start + offset
        const photo = photos[index % Math.max(1, photos.length)]
        return { id: newEntryId(), entry: { ...entryNumber(index), ...(labels ? { labels: LABELS } : {}) }, ...(photo ? { photo } : {}) }
      })
      await store.createMany('default', batch)
      ids.push(...batch.map(({ id }) => id))
    }
  } finally {
    await store.close()
  }
  return ids
}

interface Load {
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
}

/** wrk on core 1 for SECONDS, 32 connections, each request one of `paths` at random. */
function wrk(port: number, paths: readonly string[]): Load {
  const script = join(dir, 'paths.lua')
  writeFileSync(
    script,
    `local paths = {${paths.map((path) => JSON.stringify(path)).join(',')}}
local requests = {}
init = function() for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end end
request = function() return requests[math.random(#requests)] end
done = function(summary, latency)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
`,
  )
  const argv = [...(availableParallelism() >= 2 ? ['taskset', '-c', '1'] : []), 'wrk', '-t1', '-c32', `-d${String(SECONDS)}s`, '-s', script, `http://127.0.0.1:${String(port)}`]
  const output = execFileSync(argv[0] ?? 'wrk', argv.slice(1), { encoding: 'utf8' })
  const line = output.split('\n').find((text) => text.startsWith('BENCH ')) ?? ''
  const [requests = 0, durationUs = 1, p50Us = 0, p99Us = 0, errors = 0] = line.slice(6).split(' ').map(Number)
  return { requestsPerSecond: requests / (durationUs / 1e6), p50Ms: p50Us / 1000, p99Ms: p99Us / 1000, errors }
}

/** Runs each load ROUNDS times, turn and turn about, and keeps the median of each figure. */
function alternate(loads: Record<string, () => Load>): Record<string, Load> {
  const samples: Record<string, Load[]> = Object.fromEntries(Object.keys(loads).map((name) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) for (const [name, load] of Object.entries(loads)) samples[name]?.push(load())
  return Object.fromEntries(
    Object.entries(samples).map(([name, runs]) => [
      name,
      { requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)), p50Ms: median(runs.map((run) => run.p50Ms)), p99Ms: median(runs.map((run) => run.p99Ms)), errors: runs.reduce((sum, run) => sum + run.errors, 0) },
    ]),
  )
}

/** Reads an export as fast as it comes, sampling the server's RSS every 10 ms; resolves its size, time and peak. */
function exportBook(server: BuiltServer): Promise<{ bytes: number; lines: number; seconds: number; peakMiB: number }> {
  return new Promise((resolve, reject) => {
    let peak = rssMiB(server.pid)
    const timer = setInterval(() => {
      peak = Math.max(peak, rssMiB(server.pid))
    }, 10)
    const started = performance.now()
    const req = request({ host: '127.0.0.1', port: server.port, path: '/addresses', headers: { accept: 'application/x-ndjson' } }, (response) => {
      let bytes = 0
      let lines = 0
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        for (const byte of chunk) if (byte === 10) lines++
      })
      response.on('end', () => {
        clearInterval(timer)
        resolve({ bytes, lines, seconds: (performance.now() - started) / 1000, peakMiB: Math.max(peak, rssMiB(server.pid)) })
      })
      response.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const fmt = (value: number, digits = 0) => value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })

try {
  const photos = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => aPhoto(seed)))
  const averageKb = photos.reduce((sum, photo) => sum + photo.image.byteLength, 0) / photos.length / 1024
  const plainDb = join(dir, 'plain.db')
  const labelledDb = join(dir, 'labelled.db')
  const photosDb = join(dir, 'photos.db')
  const exportDb = join(dir, 'export.db')
  await seed(plainDb, BOOK, { labels: false, photos: [] })
  await seed(labelledDb, BOOK, { labels: true, photos: [] })
  const photoIds = await seed(photosDb, BOOK, { labels: true, photos })
  const seeding = performance.now()
  await seed(exportDb, EXPORT_BOOK, { labels: true, photos })
  const seededSeconds = (performance.now() - seeding) / 1000

  const plain = await startBuiltServer(plainDb, { pinned: true })
  const labelled = await startBuiltServer(labelledDb, { pinned: true })
  const withPhotos = await startBuiltServer(photosDb, { pinned: true })
  const page = '/addresses?limit=100'
  const pages = alternate({ plain: () => wrk(plain.port, [page]), labelled: () => wrk(labelled.port, [page]), photos: () => wrk(withPhotos.port, [page]) })
  await stopServer(plain.child)
  await stopServer(labelled.child)
  const reads = alternate({
    entry: () => wrk(withPhotos.port, photoIds.map((id) => `/addresses/${id}`)),
    thumbnail: () => wrk(withPhotos.port, photoIds.map((id) => `/addresses/${id}/photo?size=96`)),
  })
  await stopServer(withPhotos.child)

  const exporting = await startBuiltServer(exportDb, { pinned: true })
  await sleep(500)
  const idleMiB = rssMiB(exporting.pid)
  const exported = await exportBook(exporting)
  await stopServer(exporting.child)

  const rows: [string, string, string, string][] = [
    ['GET /addresses?limit=100, no labels', `${fmt(pages.plain?.requestsPerSecond ?? 0)} req/s`, `p50 ${fmt(pages.plain?.p50Ms ?? 0, 2)} ms, p99 ${fmt(pages.plain?.p99Ms ?? 0, 2)} ms`, ''],
    [
      'GET /addresses?limit=100, 3 labels each',
      `${fmt(pages.labelled?.requestsPerSecond ?? 0)} req/s`,
      `p50 ${fmt(pages.labelled?.p50Ms ?? 0, 2)} ms, p99 ${fmt(pages.labelled?.p99Ms ?? 0, 2)} ms`,
      `${fmt(((pages.labelled?.requestsPerSecond ?? 0) / (pages.plain?.requestsPerSecond ?? 1) - 1) * 100, 1)}% req/s; target within 10%`,
    ],
    [
      'GET /addresses?limit=100, labels and photos',
      `${fmt(pages.photos?.requestsPerSecond ?? 0)} req/s`,
      `p50 ${fmt(pages.photos?.p50Ms ?? 0, 2)} ms, p99 ${fmt(pages.photos?.p99Ms ?? 0, 2)} ms`,
      `${fmt(((pages.photos?.requestsPerSecond ?? 0) / (pages.plain?.requestsPerSecond ?? 1) - 1) * 100, 1)}% req/s (each entry links its photo)`,
    ],
    ['GET /addresses/{id}', `${fmt(reads.entry?.requestsPerSecond ?? 0)} req/s`, `p50 ${fmt(reads.entry?.p50Ms ?? 0, 2)} ms, p99 ${fmt(reads.entry?.p99Ms ?? 0, 2)} ms`, ''],
    [
      'GET /addresses/{id}/photo?size=96',
      `${fmt(reads.thumbnail?.requestsPerSecond ?? 0)} req/s`,
      `p50 ${fmt(reads.thumbnail?.p50Ms ?? 0, 2)} ms, p99 ${fmt(reads.thumbnail?.p99Ms ?? 0, 2)} ms`,
      `${fmt((reads.thumbnail?.requestsPerSecond ?? 0) / (reads.entry?.requestsPerSecond ?? 1), 2)}× the entry's req/s; target >= 1`,
    ],
    [
      `NDJSON export, ${fmt(EXPORT_BOOK)} entries with photos`,
      `${fmt(exported.seconds, 1)} s, ${fmt(exported.bytes / 1e6)} MB`,
      `RSS ${fmt(idleMiB)} -> ${fmt(exported.peakMiB)} MiB`,
      `+${fmt(exported.peakMiB - idleMiB)} MiB; ${fmt(exported.lines)} lines; target <= +50 MiB`,
    ],
  ]
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)))
  console.log(`addrservice photos and labels on SQLite (photos about ${fmt(averageKb)} KB; ${fmt(EXPORT_BOOK)}-entry book seeded in ${fmt(seededSeconds, 1)} s; ${String(SECONDS)} s x ${String(ROUNDS)} rounds each)`)
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd())
  const errors = [pages.plain, pages.labelled, pages.photos, reads.entry, reads.thumbnail].reduce((sum, load) => sum + (load?.errors ?? 0), 0)
  if (errors > 0) console.log(`wrk counted ${String(errors)} errors (non-2xx or socket errors): the figures above include them`)
  const out = join(ROOT, 'bench', 'results')
  mkdirSync(out, { recursive: true })
  const file = join(out, `photos-${new Date().toISOString().replaceAll(':', '-')}.json`)
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, averagePhotoKb: averageKb, pages, reads, export: { entries: EXPORT_BOOK, idleMiB, ...exported } }, null, 2))
  console.log(`written to ${file}`)
} finally {
  for (const child of running) await stopServer(child)
  rmSync(dir, { recursive: true, force: true })
}
