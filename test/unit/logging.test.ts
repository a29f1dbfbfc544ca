import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { createLogger } from '../../src/logging.js'

function logFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'addrservice-logging-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return join(dir, 'deep', 'service.log')
}

/** The file's text once it has `lines` lines: the logger writes asynchronously. */
async function linesOf(file: string, lines: number): Promise<string[]> {
  const deadline = Date.now() + 5000
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
    const found = text.split('\n').filter(Boolean)
    if (found.length >= lines || Date.now() > deadline) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('createLogger', () => {
  test('when the format is json, then each line is JSON with the name, level and ISO time', async (t) => {
    const file = logFile(t)
    const logger = await createLogger({ level: 'info', format: 'json', file }, 'contacts')

    logger.debug('below the level')
    logger.info({ req_id: 'r1' }, 'hello')

    const lines = await linesOf(file, 1)
    assert.equal(lines.length, 1)
    const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>
    assert.deepEqual({ name: line.name, level: line.level, msg: line.msg, req_id: line.req_id }, { name: 'contacts', level: 30, msg: 'hello', req_id: 'r1' })
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  test('when the format is pretty, then lines are for humans, not JSON', async (t) => {
    const file = logFile(t)
    const logger = await createLogger({ level: 'info', format: 'pretty', file }, 'contacts')

    logger.warn({ status: 404 }, 'request rejected')

    const text = (await linesOf(file, 2)).join('\n')
    assert.match(text, /WARN.*\(contacts\/\d+.*\): request rejected/)
    assert.match(text, /status: 404/)
    assert.throws(() => JSON.parse(text.split('\n')[0] ?? ''))
  })
})
