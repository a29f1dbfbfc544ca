import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const wrk = spawnSync('sh', ['-c', 'command -v wrk']).status === 0

interface Results {
  results: { target: string; scenario: string; requestsPerSecond: number; p99Ms: number; cpuPercent: number; rssMiB: number; errors: number }[]
  startup: Record<string, number>
}

describe('npm run bench', () => {
  test('when the harness runs for a couple of seconds, then it measures the baseline and addrservice and writes the figures', { skip: wrk ? false : 'wrk is not installed (apt-get install wrk; .ci/run installs it)', timeout: 120_000 }, (t) => {
    const out = mkdtempSync(join(tmpdir(), 'addrservice-bench-test-'))
    t.after(() => {
      rmSync(out, { recursive: true, force: true })
    })

    const run = spawnSync(process.execPath, ['--import', 'tsx', '--import', join(ROOT, 'test', 'helpers', 'tsx-in-workers.js'), join(ROOT, 'bench', 'run.ts'), '--smoke', '--no-build', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 })

    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`)
    assert.match(run.stdout, /GET \/addresses\/\{id\}/)
    const files = readdirSync(out)
    assert.equal(files.length, 1)
    const { results, startup } = JSON.parse(readFileSync(join(out, files[0] ?? ''), 'utf8')) as Results
    assert.deepEqual(results.map((row) => row.target), ['raw node:http (baseline)', 'addrservice memory'])
    for (const row of results) {
      assert.ok(row.requestsPerSecond > 0 && row.p99Ms > 0 && row.cpuPercent > 0 && row.rssMiB > 0, JSON.stringify(row))
      assert.equal(row.errors, 0, JSON.stringify(row))
    }
    for (const name of ['coldStartToReadyMs', 'versionMs', 'helpMs']) assert.ok((startup[name] ?? 0) > 0, name)
  })
})
