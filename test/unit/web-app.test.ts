import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { buildTestApp } from '../helpers/app.js'

/** A built app in miniature: its page and one hashed script, in a directory removed after the test. */
function aBuiltApp(t: TestContext): string {
  const root = mkdtempSync(join(tmpdir(), 'addrservice-web-'))
  mkdirSync(join(root, 'assets'))
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Contacts</title><script type="module" src="/app/assets/index-Bx3kq9Zp.js"></script>')
  writeFileSync(join(root, 'assets', 'index-Bx3kq9Zp.js'), 'console.log("contacts")\n')
  t.after(() => {
    rmSync(root, { recursive: true, force: true })
  })
  return root
}

describe('the web app', () => {
  test('when / is asked for, then it redirects to /app/', async (t) => {
    const app = buildTestApp(t, { webAppRoot: aBuiltApp(t) })

    const response = await app.inject({ url: '/' })

    assert.equal(response.statusCode, 302)
    assert.equal(response.headers.location, '/app/')
  })

  test('when its page is asked for, then it comes revalidated every time, with a CSP that allows only its own scripts', async (t) => {
    const app = buildTestApp(t, { webAppRoot: aBuiltApp(t) })

    const response = await app.inject({ url: '/app/' })

    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^text\/html/)
    assert.equal(response.headers['cache-control'], 'no-cache')
    const csp = String(response.headers['content-security-policy'])
    assert.match(csp, /script-src 'self'(;|$)/)
    assert.match(csp, /connect-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/)
  })

  test('when a hashed asset is asked for, then it may be cached for a year', async (t) => {
    const app = buildTestApp(t, { webAppRoot: aBuiltApp(t) })

    const response = await app.inject({ url: '/app/assets/index-Bx3kq9Zp.js' })

    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable')
    assert.match(String(response.headers['content-type']), /javascript/)
  })

  test('when a file under /app/ does not exist, then 404', async (t) => {
    const app = buildTestApp(t, { webAppRoot: aBuiltApp(t) })

    const response = await app.inject({ url: '/app/assets/missing.js' })

    assert.equal(response.statusCode, 404)
  })

  test('when ui.enabled is false, then / is an unknown endpoint as before and /app/ is not served', async (t) => {
    const app = buildTestApp(t, { webAppRoot: aBuiltApp(t), config: { ui: { enabled: false } } })

    const root = await app.inject({ url: '/' })
    const page = await app.inject({ url: '/app/' })

    assert.equal(root.statusCode, 404)
    assert.equal((JSON.parse(root.body) as { type: string }).type, 'urn:addrservice:problem:unknown-endpoint')
    assert.equal(page.statusCode, 404)
  })

  test('when the app was not built, then / is an unknown endpoint and the API serves as ever', async (t) => {
    const app = buildTestApp(t, { webAppRoot: join(tmpdir(), 'addrservice-no-such-build') })

    const root = await app.inject({ url: '/' })
    const api = await app.inject({ url: '/addresses' })

    assert.equal(root.statusCode, 404)
    assert.equal(api.statusCode, 200)
  })
})
