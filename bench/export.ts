/**
 * npm run bench:export: how fast a whole book streams out and a big import goes in, what it costs
 * the server in memory, and how long the server's event loop is held meanwhile: a probe in a
 * thread of its own asks GET /livez every 10 ms throughout, and the slowest answer is reported.
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
import { Worker } from 'node:worker_threads'
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

/**
 * Asks GET /livez every 10 ms from a thread of its own (so that this process's own work does not
 * delay it) until stopped; resolves the slowest answer in milliseconds, and how many were asked.
 */
function livezProbe(): { stop: () => Promise<{ maxMs: number; samples: number }> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const http = require('node:http')
     const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
     let stopped = false, maxMs = 0, samples = 0
     parentPort.on('message', () => { stopped = true })
     const ask = () => {
       if (stopped) { parentPort.postMessage({ maxMs, samples }); agent.destroy(); return }
       const started = performance.now()
       http.get({ host: '127.0.0.1', port: workerData.port, path: '/livez', agent }, (response) => {
         response.resume()
         response.on('end', () => {
           maxMs = Math.max(maxMs, performance.now() - started)
           samples++
           setTimeout(ask, 10)
         })
       }).on('error', () => setTimeout(ask, 10))
     }
     ask()`,
    { eval: true, workerData: { port: PORT } },
  )
  return {
    stop: async () => {
      const result = new Promise<{ maxMs: number; samples: number }>((resolve) => worker.once('message', resolve))
      worker.postMessage('stop')
      const measured = await result
      await worker.terminate()
      return measured
    },
  }
}

/** Posts an import body; resolves the status and how long it took. */
async function importBody(contentType: string, body: string): Promise<{ status: number; seconds: number }> {
  const started = performance.now()
  const response = await fetch(`http://127.0.0.1:${String(PORT)}/addresses`, { method: 'POST', headers: { 'content-type': contentType }, body })
  await response.arrayBuffer()
  return { status: response.status, seconds: (performance.now() - started) / 1000 }
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
    const probe = livezProbe()
    const fast = await exportBook(accept, 0, () => (peak = Math.max(peak, rssMiB(pid))))
    const seconds = (performance.now() - started) / 1000
    const livez = await probe.stop()
    const rate = ENTRIES / seconds
    results[name] = { bytes: fast.bytes, seconds, entriesPerSecond: rate, peakRssMiB: peak, livezMaxMs: livez.maxMs }
    lines.push(
      `${name.padEnd(10)} fast reader: ${(fast.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s, ${Math.round(rate).toLocaleString('en')} entries/s, server peak RSS ${peak.toFixed(0)} MiB, /livez at most ${livez.maxMs.toFixed(0)} ms`,
    )
  }
  // Imports into the same server (another owner would be the same work): the sizes of the defect
  // reports, small entries so that they fit the default import body limit.
  const IMPORTS = [
    ['NDJSON', 'application/x-ndjson', 200_000, (n: number) => `{"full_name":"Imported ${String(n)}"}\n`],
    ['vCard', 'text/vcard', 100_000, (n: number) => `BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Imported ${String(n)}\r\nEND:VCARD\r\n`],
  ] as const
  for (const [name, contentType, count, item] of IMPORTS) {
    const body = Array.from({ length: count }, (_, n) => item(n)).join('')
    const probe = livezProbe()
    const imported = await importBody(contentType, body)
    const livez = await probe.stop()
    results[`import ${name}`] = { items: count, status: imported.status, seconds: imported.seconds, livezMaxMs: livez.maxMs }
    lines.push(
      `${name.padEnd(10)} import of ${count.toLocaleString('en')}: ${String(imported.status)} in ${imported.seconds.toFixed(2)} s, /livez at most ${livez.maxMs.toFixed(0)} ms`,
    )
  }
  // The imports leave the server's heap larger than before them (V8 keeps memory it may reuse);
  // the slow reader's peak is read against the RSS it starts from.
  const slowFrom = rssMiB(pid)
  let slowPeak = 0
  const slowStarted = performance.now()
  const slow = await exportBook('application/x-ndjson', 50, () => (slowPeak = Math.max(slowPeak, rssMiB(pid))))
  const slowSeconds = (performance.now() - slowStarted) / 1000
  results.slowNdjson = { bytes: slow.bytes, lines: slow.lines, seconds: slowSeconds, startRssMiB: slowFrom, peakRssMiB: slowPeak }
  lines.push(
    `NDJSON     slow reader (64 KiB per 50 ms): ${slow.lines.toLocaleString('en')} lines in ${slowSeconds.toFixed(1)} s, server RSS ${slowFrom.toFixed(0)} MiB at its start, peak ${slowPeak.toFixed(0)} MiB`,
  )
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
