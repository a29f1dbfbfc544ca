/**
 * npm run bench:paging: how paging and search cost on a 100,000-entry SQLite book.
 *
 * Seeds a fresh book in a temporary directory, walks it page by page (100 per page) through the
 * HTTP layer (app.inject: routing, validation, service, store, serialization; no sockets), then
 * times the first and the 1,000th page and a few searches, each many times, and prints medians.
 * Then times another owner's searches of a small book of his own (through the store), before and
 * after a third owner adds as many entries as the big book holds, every one matching them: the
 * two should cost the same. Writes the figures to bench/results/paging-<time>.json. Not a test:
 * it asserts nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { DEFAULT_CONFIG } from '../src/config/load.js'
import { newEntryId } from '../src/domain/ids.js'
import { DEFAULT_SORT, normalizeFilter } from '../src/domain/listing.js'
import { buildApp } from '../src/http/app.js'
import { AddressBookService } from '../src/service/address-book-service.js'
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js'
import { entryNumber } from './entries.js'

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000)
const PAGE = 100
const REPEAT = 31
const BOBS_BOOK = 1_000

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const dir = mkdtempSync(join(tmpdir(), 'addrservice-bench-'))
const store = new SqliteStore(join(dir, 'book.db'))
try {
  const seeding = performance.now()
  for (let start = 0; start < ENTRIES; start += 10_000) {
    const batch = Array.from({ length: Math.min(10_000, ENTRIES - start) }, (_, offset) => ({ id: newEntryId(), entry: entryNumber(start + offset) }))
    await store.createMany('default', batch)
  }
  const seededMs = performance.now() - seeding
  // Bob's own book: one entry in ten at Quokkacorp.
  await store.createMany(
    'bob',
    Array.from({ length: BOBS_BOOK }, (_, index) => ({ id: newEntryId(), entry: { ...entryNumber(index), organization: index % 10 === 0 ? 'Quokkacorp' : 'Emu Works' } })),
  )
  const app = buildApp(DEFAULT_CONFIG, { addressBook: new AddressBookService(store) })
  await app.ready()

  const get = async (url: string) => {
    const started = performance.now()
    const response = await app.inject({ method: 'GET', url })
    const ms = performance.now() - started
    if (response.statusCode !== 200) throw new Error(`${url}: ${String(response.statusCode)} ${response.body.slice(0, 200)}`)
    const next = /^<([^>]+)>; rel="next"$/.exec(String(response.headers.link ?? ''))?.[1]
    return { ms, next, count: Object.keys(response.json<Record<string, unknown>>()).length }
  }

  // Walk the whole book, keeping each page's URL.
  const urls: string[] = []
  let url: string | undefined = `/addresses?limit=${String(PAGE)}`
  let seen = 0
  const walking = performance.now()
  while (url !== undefined) {
    urls.push(url)
    const page = await get(url)
    seen += page.count
    url = page.next
  }
  const walkMs = performance.now() - walking

  const timeOf = async (target: string) => {
    const times: number[] = []
    for (let round = 0; round < REPEAT; round++) times.push((await get(target)).ms)
    return median(times)
  }
  const firstUrl = urls[0] ?? ''
  const thousandthUrl = urls[Math.min(999, urls.length - 1)] ?? ''
  // Alternate the two so that neither profits from a warmer cache.
  await timeOf(firstUrl)
  await timeOf(thousandthUrl)
  const firstMs = await timeOf(firstUrl)
  const thousandthMs = await timeOf(thousandthUrl)
  const searches = {
    'q=lamarr.4242 (one entry)': '/addresses?q=lamarr.4242',
    'q=hopper (1 in 15, first page)': '/addresses?q=hopper',
    'q=70004242 (a phone number)': '/addresses?q=70004242',
    'q=zu (two letters: no trigram, scans)': '/addresses?q=zu',
    'q=zu&count=true (scans, counts)': '/addresses?q=zu&count=true&limit=1',
    'q=a&sort=full_name (all match, all sorted)': '/addresses?q=a&sort=full_name',
    'email=ada.lovelace.0@example.org (exact)': '/addresses?email=ada.lovelace.0@example.org',
    'sort=full_name, page 1': '/addresses?sort=full_name',
    'count=true (every entry counted)': '/addresses?count=true&limit=1',
  }
  const searchMs: Record<string, number> = {}
  for (const [name, target] of Object.entries(searches)) searchMs[name] = await timeOf(target)

  // Bob's searches, timed at the store, before and after Alice's matching entries exist.
  const bobsSearches = {
    'q=quokkacorp': () => store.list('bob', { filter: normalizeFilter({ q: 'Quokkacorp' }), sort: DEFAULT_SORT, limit: PAGE }),
    'q=quokkacorp, counted': () => store.count('bob', normalizeFilter({ q: 'Quokkacorp' })),
    'q=ok (two letters)': () => store.list('bob', { filter: normalizeFilter({ q: 'ok' }), sort: DEFAULT_SORT, limit: PAGE }),
  }
  const timeBobs = async () => {
    const medians: Record<string, number> = {}
    for (const [name, search] of Object.entries(bobsSearches)) {
      const times: number[] = []
      for (let round = 0; round < REPEAT; round++) {
        const started = performance.now()
        await search()
        times.push(performance.now() - started)
      }
      medians[name] = median(times)
    }
    return medians
  }
  await timeBobs()
  const bobAloneMs = await timeBobs()
  for (let start = 0; start < ENTRIES; start += 10_000) {
    const batch = Array.from({ length: Math.min(10_000, ENTRIES - start) }, (_, offset) => ({
      id: newEntryId(),
      entry: { ...entryNumber(start + offset), organization: 'Quokkacorp' },
    }))
    await store.createMany('alice', batch)
  }
  const bobBesideAliceMs = await timeBobs()

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    entries: ENTRIES,
    pages: urls.length,
    seen,
    seededMs: Math.round(seededMs),
    walkMs: Math.round(walkMs),
    firstPageMs: firstMs,
    thousandthPageMs: thousandthMs,
    ratio: thousandthMs / firstMs,
    searchMs,
    bobsBook: BOBS_BOOK,
    bobAloneMs,
    bobBesideAliceMs,
  }
  const line = (label: string, ms: number) => `${label.padEnd(44)} ${ms.toFixed(2).padStart(8)} ms`
  process.stdout.write(
    [
      `addrservice paging on SQLite: ${String(ENTRIES)} entries (seeded in ${(seededMs / 1000).toFixed(1)} s), ${String(urls.length)} pages of ${String(PAGE)}, ${String(seen)} entries seen once each`,
      `median of ${String(REPEAT)} requests through the HTTP layer (app.inject), ${process.version}`,
      line('page 1', firstMs),
      line(`page ${String(Math.min(1000, urls.length))}`, thousandthMs),
      `${'ratio (page 1000 / page 1)'.padEnd(44)} ${results.ratio.toFixed(2).padStart(8)}`,
      ...Object.entries(searchMs).map(([name, ms]) => line(name, ms)),
      `Bob's ${String(BOBS_BOOK)}-entry book, at the store: before Alice has a book / beside her ${String(ENTRIES)} entries, all matching`,
      ...Object.keys(bobsSearches).map((name) => `${line(`  ${name}`, bobAloneMs[name] ?? Number.NaN)} ${(bobBesideAliceMs[name] ?? Number.NaN).toFixed(2).padStart(8)} ms`),
      `whole walk: ${(walkMs / 1000).toFixed(1)} s`,
      '',
    ].join('\n'),
  )
  const out = join('bench', 'results')
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, `paging-${results.date.replaceAll(':', '-')}.json`), `${JSON.stringify(results, null, 2)}\n`)
  await app.close()
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
