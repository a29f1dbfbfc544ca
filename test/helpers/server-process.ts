import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url))

/** The environment without any ADDRSERVICE_* variables, plus the given ones. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ADDRSERVICE_')))
  return { ...env, ...extra }
}

export interface ServerProcess {
  child: ChildProcess
  baseUrl: string
  /** Every line the process has written to stdout so far, parsed as JSON where it is JSON. */
  logLines: () => Record<string, unknown>[]
  stderr: () => string
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>
}

/**
 * Starts the built CLI and waits until it listens; the caller stops it. Log lines are read from
 * stdout, or from `logFile` when the configuration sends them there. `detached` gives it a
 * process group of its own, as a shell does, so that `process.kill(-pid, signal)` reaches it and
 * every worker it forks, like Ctrl-C in a terminal.
 */
export async function startServer(
  args: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
  logFile?: string,
  { detached = false }: { detached?: boolean } = {},
): Promise<ServerProcess> {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build (npm test does it first)`)
  const child = spawn(process.execPath, [MAIN, '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1)
    })
  })
  const logLines = () =>
    (logFile === undefined ? stdout : existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)

  const deadline = Date.now() + 15_000
  for (;;) {
    const listening = logLines().find((line) => typeof line.msg === 'string' && line.msg.startsWith('Server listening at '))
    if (listening) {
      const baseUrl = String(listening.msg).slice('Server listening at '.length)
      return { child, baseUrl, logLines, stderr: () => stderr, exited }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      assert.fail(`server did not start: exit ${String(child.exitCode)}\n${stdout}\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Runs the built CLI to completion (for commands that exit by themselves). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Polls `probe` until it returns a value (not undefined), failing after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
