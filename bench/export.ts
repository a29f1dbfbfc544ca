/**
 * npm run bench:export: how fast a whole book streams out, and what it costs the server in memory.
 *
 * Seeds a 100,000-entry SQLite book in a temporary directory, starts the built server on it
 * (dist/main.js, as `npm start` runs it), then exports the book as NDJSON and as vCard with a
 * reader that takes everything as fast as it comes (the export rate), and once more with a slow
 * reader (64 KiB every 50 ms, about 1.3 MB/s), while sampling the server's resident memory.
 * A server that buffered the book for a slow client would grow by the book's size (about 60 MB
 * of NDJSON); one that streams with backpressure stays flat. Writes the figures to
 * bench/results/export-<time>.json. Not a test: it asserts nothing. Run `npm run build` first.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { newEntryId } from '../src/domain/ids.js'
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js'
import { entryNumber } from './entries.js'

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000)
const PORT = Number(process.env.BENCH_PORT ?? 8097)
const ROOT = new URL('..', import.meta.url).pathname

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

/** Reads the export; with a pause, reads a chunk at a time and waits between them. */
function exportBook(accept: string, pauseMs: number, onChunk: () => void): Promise<{ bytes: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: PORT, path: '/addresses', headers: { accept } }, (response) => {
      let bytes = 0
      let lines = 0
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        for (const byte of chunk) if (byte === 0x0a) lines++
        onChunk()
        if (pauseMs > 0) {
          response.pause()
          setTimeout(() => response.resume(), pauseMs)
        }
      })
      response.on('end', () => {
        resolve({ bytes, lines })
      })
      response.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const dir = mkdtempSync(join(tmpdir(), 'addrservice-bench-export-'))
const path = join(dir, 'book.db')
const store = new SqliteStore(path)
for (let start = 0; start < ENTRIES; start += 10_000) {
  const batch = Array.from({ length: Math.min(10_000, ENTRIES - start) }, (_, offset) => ({ id: newEntryId(), entry: entryNumber(start + offset) }))
  await store.createMany('default', batch)
}
await store.close()

const server = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), '--db', `sqlite:${path}`, '--port', String(PORT), '--auth', 'none'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, ADDRSERVICE_LOG_LEVEL: 'warn' },
})
try {
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`http://127.0.0.1:${String(PORT)}/readyz`).then((response) => response.ok, () => false)
    if (ready) break
    if (attempt > 100) throw new Error('the server did not become ready')
    await sleep(50)
  }
  const pid = server.pid ?? 0
  const idleMiB = rssMiB(pid)
  const results: Record<string, unknown> = { entries: ENTRIES, node: process.version, at: new Date().toISOString(), idleRssMiB: idleMiB }
  const lines = [`addrservice export on SQLite: ${String(ENTRIES)} entries, server idle at ${idleMiB.toFixed(0)} MiB RSS`]
  for (const [name, accept] of [
    ['NDJSON', 'application/x-ndjson'],
    ['vCard 4.0', 'text/vcard'],
  ] as const) {
    const started = performance.now()
    let peak = 0
    const fast = await exportBook(accept, 0, () => (peak = Math.max(peak, rssMiB(pid))))
    const seconds = (performance.now() - started) / 1000
    const rate = ENTRIES / seconds
    results[name] = { bytes: fast.bytes, seconds, entriesPerSecond: rate, peakRssMiB: peak }
    lines.push(`${name.padEnd(10)} fast reader: ${(fast.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s, ${Math.round(rate).toLocaleString('en')} entries/s, server peak RSS ${peak.toFixed(0)} MiB`)
  }
  let slowPeak = 0
  const slowStarted = performance.now()
  const slow = await exportBook('application/x-ndjson', 50, () => (slowPeak = Math.max(slowPeak, rssMiB(pid))))
  const slowSeconds = (performance.now() - slowStarted) / 1000
  results.slowNdjson = { bytes: slow.bytes, lines: slow.lines, seconds: slowSeconds, peakRssMiB: slowPeak }
  lines.push(`NDJSON     slow reader (64 KiB per 50 ms): ${slow.lines.toLocaleString('en')} lines in ${slowSeconds.toFixed(1)} s, server peak RSS ${slowPeak.toFixed(0)} MiB`)
  console.log(lines.join('\n'))
  const out = join(ROOT, 'bench', 'results')
  mkdirSync(out, { recursive: true })
  const file = join(out, `export-${new Date().toISOString().replaceAll(':', '-')}.json`)
  writeFileSync(file, JSON.stringify(results, null, 2))
  console.log(`written to ${file}`)
} finally {
  server.kill('SIGTERM')
  await new Promise((resolve) => server.once('exit', resolve))
  rmSync(dir, { recursive: true, force: true })
}
