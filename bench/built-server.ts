import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** What the benchmarks of whole servers share: the built server on a SQLite file, and what they read of it. */

const ROOT = new URL('..', import.meta.url).pathname

export interface BuiltServer {
  readonly port: number
  readonly pid: number
  readonly child: ChildProcess
}

/** Every server started here, so that a benchmark that fails or is stopped can stop them all. */
export const running: ChildProcess[] = []

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** A port nobody listens on now: the OS picks one, and it is given back at once. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => {
        resolve(port)
      })
    })
  })
}

/**
 * Starts dist/main.js (as `npm start` runs it) on a SQLite file, with authentication off, and waits
 * until it is ready. With `pinned`, on core 0 (the load generator then has core 1).
 */
export async function startBuiltServer(dbPath: string, { pinned = false }: { pinned?: boolean } = {}): Promise<BuiltServer> {
  const port = await freePort()
  const argv = [join(ROOT, 'dist', 'main.js'), '--auth', 'none', '--db', `sqlite:${dbPath}`, '--port', String(port)]
  const command = pinned && availableParallelism() >= 2 ? ['taskset', '-c', '0', process.execPath, ...argv] : [process.execPath, ...argv]
  const child = spawn(command[0] ?? process.execPath, command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ADDRSERVICE_LOG_LEVEL: 'warn' } })
  running.push(child)
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`http://127.0.0.1:${String(port)}/readyz`).then((response) => response.ok, () => false)
    if (ready) break
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server on ${dbPath} exited (${String(child.exitCode ?? child.signalCode)})`)
    if (attempt > 200) throw new Error('the server did not become ready')
    await sleep(50)
  }
  return { port, pid: child.pid ?? 0, child }
}

/** Stops a server (SIGTERM, then SIGKILL after 5 s) and waits until it has exited. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}
