import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { compileErrors, validate } from '@readme/openapi-parser'
import type { RouteOptions } from 'fastify'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator, jwtAuthenticator, type Authenticator } from '../../src/auth/authenticator.js'
import { JwtVerifier } from '../../src/auth/jwt.js'
import type { App } from '../../src/http/app.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { DeviceKeyService } from '../../src/service/device-keys.js'
import { buildTestApp, type TestAppOptions } from '../helpers/app.js'
import { aFullEntry } from '../helpers/factories.js'
import { jwtSettings } from '../helpers/jwt.js'
import { OpenApiConformance } from '../helpers/openapi-conformance.js'

interface Operation {
  operationId?: string
  security?: Record<string, string[]>[]
  parameters?: { in: string; name: string }[]
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }>
}
interface Document {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, { type: string; scheme: string; bearerFormat?: string }>; schemas: Record<string, unknown> }
}

const modes: Record<string, () => Authenticator | undefined> = {
  none: () => undefined,
  'api-key': () => apiKeyAuthenticator(new ApiKeys(new MemoryStore())),
  jwt: () => jwtAuthenticator(new JwtVerifier(jwtSettings({ jwksUrl: 'http://127.0.0.1:9/jwks.json' }), {})),
}

async function documentOf(app: App): Promise<Document> {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^application\/json/)
  return JSON.parse(response.body) as Document
}

function appIn(t: TestContext, mode: string, options: TestAppOptions = {}): App {
  const authenticator = modes[mode]?.()
  const deviceKeys = new DeviceKeyService(new ApiKeys(new MemoryStore()))
  return buildTestApp(t, { ...options, ...(authenticator ? { authenticator, deviceKeys } : {}) })
}

function operations(document: Document): [string, string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]): [string, string, Operation] => [path, method, operation]))
}

const headerNames = (response: { headers?: Record<string, unknown> } | undefined) => Object.keys(response?.headers ?? {})

describe('the OpenAPI document', () => {
  for (const mode of Object.keys(modes)) {
    test(`when authentication is ${mode}, then GET /openapi.json is a valid OpenAPI 3.1 document`, async (t) => {
      const document = await documentOf(appIn(t, mode))

      const result = await validate(structuredClone(document) as never)

      assert.equal(document.openapi, '3.1.0')
      assert.ok(result.valid, result.valid ? '' : compileErrors(result))
    })
  }

  test('when authentication is off, then no operation asks for credentials', async (t) => {
    const document = await documentOf(appIn(t, 'none'))

    assert.deepEqual(document.components.securitySchemes, {})
    assert.deepEqual(operations(document).filter(([, , operation]) => operation.security !== undefined), [])
    assert.deepEqual(operations(document).filter(([, , operation]) => operation.responses['401'] !== undefined), [])
  })

  test('when authentication is api-key, then address operations accept a bearer key or Basic, and answer 401, 403 and 429 with their headers', async (t) => {
    const document = await documentOf(appIn(t, 'api-key'))

    assert.deepEqual(Object.keys(document.components.securitySchemes).sort(), ['basic', 'bearer'])
    assert.deepEqual([document.components.securitySchemes.bearer?.scheme, document.components.securitySchemes.basic?.scheme], ['bearer', 'basic'])
    for (const [path, method, operation] of operations(document)) {
      const guarded = /^\/(addresses|keys|labels|trash)\b/.test(path) && method !== 'options'
      assert.deepEqual(operation.security, guarded ? [{ bearer: [] }, { basic: [] }] : undefined, `${method} ${path}`)
      assert.equal(/^\/(addresses|keys|labels|trash)\b/.test(path), operation.responses['429'] !== undefined, `${method} ${path}`)
      if (guarded) {
        assert.ok(headerNames(operation.responses['401']).includes('WWW-Authenticate'), `${method} ${path}`)
        assert.ok(headerNames(operation.responses['403']).includes('WWW-Authenticate'), `${method} ${path}`)
        assert.ok(headerNames(operation.responses['429']).includes('Retry-After'), `${method} ${path}`)
        for (const [status, response] of Object.entries(operation.responses)) {
          assert.ok(headerNames(response).includes('RateLimit-Remaining'), `${method} ${path} ${status}`)
        }
      }
    }
  })

  test('when authentication is jwt, then address operations take a bearer JWT', async (t) => {
    const document = await documentOf(appIn(t, 'jwt'))

    assert.deepEqual(document.components.securitySchemes, {
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a JSON Web Token from the configured issuer' },
    })
    assert.deepEqual(document.paths['/addresses/{id}']?.get?.security, [{ bearer: [] }])
  })

  test('when routes are registered, then every one appears in it, but the 405 answers for other methods and the docs pages', async (t) => {
    const app = appIn(t, 'api-key', { serveMetrics: true, metrics: new (await import('prom-client')).Registry() })
    const routes: RouteOptions[] = []
    app.addHook('onRoute', (route) => {
      routes.push(route)
    })
    const document = await documentOf(app)

    const undocumented: string[] = []
    for (const route of routes) {
      const path = route.url.replace(/:(\w+)\([^)]*\)/g, '{$1}').replace(/:(\w+)/g, '{$1}')
      const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true
      for (const method of [route.method].flat()) {
        const documented = document.paths[path]?.[method.toLowerCase()] !== undefined
        assert.equal(documented, !hidden, `${method} ${path}: documented ${String(documented)}, hidden ${String(hidden)}`)
        if (!documented) undocumented.push(`${method} ${path}`)
      }
    }

    // What is left out: the 405 answers for the methods each address path does not support, the
    // docs UI's own files, and CardDAV, a protocol of its own (docs/carddav.md).
    const dav = undocumented.filter((route) => / (\/dav|\/dav\/\*|\/\.well-known\/carddav)$/.test(route) || route === 'PROPFIND /')
    assert.ok(dav.includes('PROPFIND /dav/*') && dav.includes('REPORT /dav/*') && dav.includes('GET /.well-known/carddav'), dav.join('\n'))
    const otherMethods = undocumented.filter((route) => !/^(GET|HEAD) (\/docs|\/app\/|\/$)/.test(route) && !dav.includes(route))
    assert.ok(otherMethods.includes('TRACE /addresses/{id}') && otherMethods.includes('DELETE /addresses'), otherMethods.join('\n'))
    const addresses = 'addresses(\\/\\{id\\}(\\/photo|\\/history(\\/\\{version\\}\\/restore)?)?|\\/changes|\\/restore)?'
    const others = 'keys(\\/\\{id\\})?|labels(\\/\\{name\\}(\\/entries)?)?|trash(\\/\\{id\\}(\\/restore)?)?'
    assert.ok(otherMethods.every((route) => new RegExp(` \\/(${addresses}|${others})$`).test(route)), otherMethods.join('\n'))
    assert.ok(undocumented.some((route) => route.startsWith('GET /docs')), undocumented.join('\n'))
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/addresses',
      '/addresses/changes',
      '/addresses/restore',
      '/addresses/{id}',
      '/addresses/{id}/history',
      '/addresses/{id}/history/{version}/restore',
      '/addresses/{id}/photo',
      '/keys',
      '/keys/{id}',
      '/labels',
      '/labels/{name}',
      '/labels/{name}/entries',
      '/livez',
      '/metrics',
      '/openapi.json',
      '/readyz',
      '/trash',
      '/trash/{id}',
      '/trash/{id}/restore',
    ])
  })

  test('when an operation changes an entry or reads one, then it documents ETag, If-Match and If-None-Match', async (t) => {
    const document = await documentOf(appIn(t, 'none'))
    const item = document.paths['/addresses/{id}'] ?? {}
    const parameters = (operation: Operation | undefined) => (operation?.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name)

    assert.deepEqual(headerNames(item.get?.responses['200']), ['ETag', 'Vary'])
    assert.deepEqual(parameters(item.get), ['If-None-Match'])
    for (const method of ['put', 'patch', 'delete']) assert.deepEqual(parameters(item[method]), ['If-Match', 'If-None-Match'], method)
    for (const method of ['put', 'patch']) assert.deepEqual(headerNames(item[method]?.responses['204']), ['ETag'], method)
    assert.deepEqual(headerNames(document.paths['/addresses']?.post?.responses['201']), ['Location', 'ETag', 'Idempotent-Replayed'])
    assert.deepEqual(parameters(document.paths['/addresses']?.post), ['idempotency-key'])
    assert.deepEqual(headerNames(document.paths['/addresses']?.get?.responses['200']), ['Link', 'X-Total-Count', 'ETag', 'Vary'])
    assert.deepEqual(headerNames(item.get?.responses['503']), ['Retry-After'])
    assert.deepEqual(Object.keys(item.patch?.responses ?? {}).sort(), ['204', '400', '404', '412', '413', '414', '415', '428', '500', '503'])
  })

  test('when any operation fails, then its documented body is a problem details object', async (t) => {
    const document = await documentOf(appIn(t, 'api-key'))
    const errors = operations(document).flatMap(([path, method, operation]) =>
      Object.entries(operation.responses).filter(([status]) => Number(status) >= 400).map(([status, response]) => [`${method} ${path} ${status}`, response] as const),
    )

    assert.ok(errors.length > 50)
    for (const [where, response] of errors) {
      assert.deepEqual(response.content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetails' } } }, where)
    }
  })

  test('when clients generate code from it, then every operation has its own operationId', async (t) => {
    const document = await documentOf(appIn(t, 'none'))
    const ids = operations(document).map(([, , operation]) => operation.operationId)

    assert.ok(ids.every((id) => typeof id === 'string'))
    assert.equal(new Set(ids).size, ids.length)
  })

  test('when the document was sent once, then If-None-Match with its ETag answers 304', async (t) => {
    const app = appIn(t, 'none')
    const first = await app.inject({ method: 'GET', url: '/openapi.json' })

    const again = await app.inject({ method: 'GET', url: '/openapi.json', headers: { 'if-none-match': String(first.headers.etag) } })

    assert.equal(again.statusCode, 304)
  })
})

describe('checking responses against the document', () => {
  async function aChecker(t: TestContext) {
    return new OpenApiConformance((await documentOf(appIn(t, 'none'))) as unknown as ConstructorParameters<typeof OpenApiConformance>[0])
  }
  const entry = aFullEntry()

  test('when a response conforms, then nothing is reported', async (t) => {
    const checker = await aChecker(t)

    const problems = checker.problems({ method: 'GET', url: '/addresses/abc', statusCode: 200, headers: { etag: '"3"', 'content-type': 'application/json' }, body: JSON.stringify(entry) })

    assert.deepEqual(problems, [])
  })

  test('when a status, a body or a header breaks the document, then each is reported', async (t) => {
    const checker = await aChecker(t)

    const problems = [
      checker.problems({ method: 'GET', url: '/addresses/abc', statusCode: 418, headers: {}, body: '' }),
      checker.problems({ method: 'GET', url: '/addresses/abc', statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' }),
      checker.problems({ method: 'GET', url: '/addresses/abc', statusCode: 200, headers: { etag: 'W/"x"', 'content-type': 'application/json' }, body: JSON.stringify(entry) }),
      checker.problems({ method: 'DELETE', url: '/addresses/abc', statusCode: 204, headers: { location: '/addresses/abc' }, body: '' }),
      checker.problems({ method: 'POST', url: '/addresses', statusCode: 201, headers: {}, body: '{}' }),
    ]

    assert.deepEqual(
      problems.map((list) => list.length),
      [1, 1, 1, 1, 1],
      problems.flat().join('\n'),
    )
    assert.match(problems[0]?.[0] ?? '', /status is not documented/)
    assert.match(problems[1]?.[0] ?? '', /body .*full_name/)
    assert.match(problems[2]?.[0] ?? '', /header etag/)
    assert.match(problems[3]?.[0] ?? '', /header location is not documented/)
    assert.match(problems[4]?.[0] ?? '', /a body where none is documented/)
  })
})

describe('the interactive docs', () => {
  test('when /docs is opened, then it serves the UI with a policy that allows only its own scripts and styles', async (t) => {
    const app = appIn(t, 'api-key')

    const page = await app.inject({ method: 'GET', url: '/docs/' })
    const script = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' })
    const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })

    assert.equal(page.statusCode, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    const policy = String(page.headers['content-security-policy'])
    assert.match(policy, /script-src 'self'(;|$)/)
    assert.match(policy, /style-src 'self'( 'sha256-[A-Za-z0-9+/=]+')?(;|$)/)
    assert.match(policy, /default-src 'none'/)
    assert.doesNotMatch(policy, /unsafe-|https?:|\*/)
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
    assert.doesNotMatch(page.body, /\sstyle=|<style/, 'no inline style')
    assert.equal(script.statusCode, 200)
    assert.match(String(script.headers['content-type']), /javascript/)
    assert.match(initializer.body, /resolveUrl\('\.\/json'\)/)
  })

  test('when docs are off, then /docs is an unknown endpoint and /openapi.json still answers', async (t) => {
    const app = buildTestApp(t, { config: { docs: { enabled: false } } })

    const docs = await app.inject({ method: 'GET', url: '/docs/' })
    const document = await app.inject({ method: 'GET', url: '/openapi.json' })

    assert.equal(docs.statusCode, 404)
    assert.equal((JSON.parse(docs.body) as ProblemBody).type, 'urn:addrservice:problem:unknown-endpoint')
    assert.equal(document.statusCode, 200)
  })
})
