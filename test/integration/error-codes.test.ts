import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator, type Authenticator } from '../../src/auth/authenticator.js'
import { IdentityProviderUnavailableError } from '../../src/auth/verdict.js'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import { ErrorCode, StoreUnavailableError } from '../../src/domain/errors.js'
import { Problems, type ProblemBody } from '../../src/http/edge/problems.js'
import { AddressBookService } from '../../src/service/address-book-service.js'
import { DeviceKeyService } from '../../src/service/device-keys.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { StoredEntry, WriteOptions } from '../../src/storage/store.js'
import { buildTestApp, type TestAppOptions } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { aPngBomb } from '../helpers/images.js'
import { exchange, listenOnLoopback, parseResponses } from '../helpers/raw-socket.js'

/** What a producer got back: the status and the problem body. */
interface Answer {
  readonly status: number
  readonly body: ProblemBody
}

function answerOf(response: { statusCode: number; body: string }): Answer {
  return { status: response.statusCode, body: JSON.parse(response.body) as ProblemBody }
}

/** A DAV error body as the members of a problem it carries: its type and title, with the response's status. */
function davAnswerOf(response: { statusCode: number; body: string; headers: Record<string, unknown> }): Answer {
  assert.match(String(response.headers['content-type']), /^application\/xml/)
  const member = (name: string) => new RegExp(`<x:${name} xmlns:x="urn:addrservice:problem">([^<]*)</x:${name}>`).exec(response.body)?.[1] ?? ''
  const body = { type: member('type'), title: member('title'), status: response.statusCode } as ProblemBody
  return { status: response.statusCode, body }
}

const DAV_BOOK = '/dav/addressbooks/default/contacts/'
const vcard = { 'content-type': 'text/vcard' }

/** The last answer of a raw exchange on a listening app. */
async function rawAnswer(t: TestContext, options: TestAppOptions, request: string, waitMs = 5000): Promise<Answer> {
  const app = buildTestApp(t, options)
  const port = await listenOnLoopback(app)
  const { text } = await exchange(port, [request], { waitMs })
  const answers = parseResponses(text)
  const last = answers.at(-1)
  assert.ok(last, 'no answer')
  return { status: last.status, body: JSON.parse(last.body) as ProblemBody }
}

/** A caller with the token `read` may read, one with `write` may write; any other token is refused. */
const TOKENS: Authenticator = {
  mode: 'jwt',
  schemes: ['Bearer'],
  authenticate: ({ scheme, ...credential }) => {
    const token = scheme === 'bearer' && 'token' in credential ? credential.token : ''
    if (token === 'read' || token === 'write') return Promise.resolve({ principal: { owner: 'alice', scopes: [token], method: 'jwt' } })
    if (token === 'idp-down') return Promise.reject(new IdentityProviderUnavailableError())
    return Promise.resolve({ reason: 'unknown token' })
  },
}

/** A memory store whose entry reads fail as the test says, and whose creates wait until released. */
class TroubledStore extends MemoryStore {
  failure: Error | undefined
  notReady = false
  #hold: Promise<void> | undefined
  release: () => void = () => undefined

  holdCreates(): void {
    this.#hold = new Promise((resolve) => {
      this.release = resolve
    })
  }

  override async get(owner: string, id: string): Promise<StoredEntry | undefined> {
    if (this.failure) throw this.failure
    return super.get(owner, id)
  }

  override async create(owner: string, id: string, entry: AddressEntry, options?: WriteOptions): Promise<StoredEntry> {
    await this.#hold
    return super.create(owner, id, entry, options)
  }

  override ready(): Promise<void> {
    return this.notReady ? Promise.reject(new StoreUnavailableError()) : super.ready()
  }
}

const ID = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'
const json = { 'content-type': 'application/json' }

/**
 * One way to be answered with each code of the closed list. The record has a member for every
 * code, so that a code added to the list without a way to produce it does not compile.
 */
const PRODUCERS: { readonly [K in keyof typeof ErrorCode]: (t: TestContext) => Promise<Answer> } = {
  malformedRequest: async (t) => answerOf(await buildTestApp(t).inject({ method: 'GET', url: '/addresses/%zz' })),
  requestTimeout: (t) =>
    rawAnswer(t, { config: { server: { headersTimeoutMs: 200, requestTimeoutMs: 200 } } }, 'GET /addresses HTTP/1.1\r\nHost: x\r\n'),
  idTooLong: async (t) => answerOf(await buildTestApp(t).inject({ method: 'GET', url: `/addresses/${'a'.repeat(101)}` })),
  rangeNotSatisfiable: async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'addrservice-app-'))
    t.after(() => {
      rmSync(root, { recursive: true, force: true })
    })
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>app</title>')
    const app = buildTestApp(t, { webAppRoot: root, conformance: false })
    return answerOf(await app.inject({ method: 'GET', url: '/app/index.html', headers: { range: 'bytes=9999-' } }))
  },
  expectationFailed: (t) => rawAnswer(t, {}, 'GET /addresses HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n'),
  headerFieldsTooLarge: (t) => rawAnswer(t, {}, `GET /addresses HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`),
  methodNotImplemented: (t) => rawAnswer(t, {}, 'CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n'),
  invalidJsonBody: async (t) => answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: json, payload: '{' })),
  invalidCompressedBody: async (t) =>
    answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: { ...json, 'content-encoding': 'gzip' }, payload: 'not gzip' })),
  unsupportedContentEncoding: async (t) =>
    answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: { ...json, 'content-encoding': 'compress' }, payload: '{}' })),
  unsupportedMediaType: async (t) =>
    answerOf(await buildTestApp(t).inject({ method: 'PATCH', url: `/addresses/${ID}`, headers: { 'content-type': 'text/plain' }, payload: '{}' })),
  payloadTooLarge: async (t) =>
    answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: json, payload: JSON.stringify({ full_name: 'x'.repeat(70_000) }) })),
  invalidHeader: async (t) =>
    answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: { ...json, 'idempotency-key': 'has spaces' }, payload: anEntry() })),
  invalidQuery: async (t) => answerOf(await buildTestApp(t).inject({ method: 'GET', url: '/addresses?limit=0' })),
  unknownEndpoint: async (t) => answerOf(await buildTestApp(t).inject({ method: 'GET', url: '/nowhere' })),
  methodNotAllowed: async (t) => answerOf(await buildTestApp(t).inject({ method: 'DELETE', url: '/addresses' })),
  tooManyRequests: async (t) => {
    const app = buildTestApp(t, { config: { rateLimit: { enabled: true, max: 1, windowMs: 60_000, redis: null, redisPrefix: 'error-codes:' } } })
    await app.inject({ method: 'GET', url: '/addresses' })
    return answerOf(await app.inject({ method: 'GET', url: '/addresses' }))
  },
  unauthorized: async (t) => answerOf(await buildTestApp(t, { authenticator: TOKENS }).inject({ method: 'GET', url: '/addresses' })),
  insufficientScope: async (t) =>
    answerOf(
      await buildTestApp(t, { authenticator: TOKENS }).inject({ method: 'POST', url: '/addresses', headers: { ...json, authorization: 'Bearer read' }, payload: anEntry() }),
    ),
  identityProviderUnavailable: async (t) =>
    answerOf(await buildTestApp(t, { authenticator: TOKENS }).inject({ method: 'GET', url: '/addresses', headers: { authorization: 'Bearer idp-down' } })),
  invalidEntry: async (t) => answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: json, payload: '{}' })),
  invalidImport: async (t) =>
    answerOf(await buildTestApp(t).inject({ method: 'POST', url: '/addresses', headers: { 'content-type': 'application/x-ndjson' }, payload: '{}\n' })),
  entryNotFound: async (t) => answerOf(await buildTestApp(t).inject({ method: 'GET', url: `/addresses/${ID}` })),
  entryExists: async (t) => {
    const app = buildTestApp(t, { service: new AddressBookService(new MemoryStore(), { newId: () => ID }) })
    await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    return answerOf(await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() }))
  },
  preconditionFailed: async (t) => {
    const app = buildTestApp(t)
    const created = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    return answerOf(await app.inject({ method: 'PUT', url: String(created.headers.location), headers: { 'if-match': '"99"' }, payload: anEntry() }))
  },
  preconditionRequired: async (t) => {
    const app = buildTestApp(t, { config: { requireIfMatch: true } })
    const created = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    return answerOf(await app.inject({ method: 'DELETE', url: String(created.headers.location) }))
  },
  idempotencyKeyInUse: async (t) => {
    const store = new TroubledStore()
    const app = buildTestApp(t, { store })
    store.holdCreates()
    const request = { method: 'POST', url: '/addresses', headers: { ...json, 'idempotency-key': 'k1' }, payload: anEntry() } as const
    const first = app.inject(request)
    // The first request claims the key, then waits in its write.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const second = await app.inject(request)
    store.release()
    assert.equal((await first).statusCode, 201)
    return answerOf(second)
  },
  idempotencyKeyReused: async (t) => {
    const app = buildTestApp(t)
    const headers = { ...json, 'idempotency-key': 'k1' }
    await app.inject({ method: 'POST', url: '/addresses', headers, payload: anEntry({ full_name: 'One' }) })
    return answerOf(await app.inject({ method: 'POST', url: '/addresses', headers, payload: anEntry({ full_name: 'Two' }) }))
  },
  invalidSyncToken: async (t) => answerOf(await buildTestApp(t).inject({ method: 'GET', url: '/addresses/changes?since=not-a-token' })),
  syncTokenExpired: async (t) => {
    // A token ahead of the book: a store that lost its history (a memory store restarted).
    const before = buildTestApp(t)
    await before.inject({ method: 'POST', url: '/addresses', payload: anEntry() })
    const { next } = (await before.inject({ method: 'GET', url: '/addresses/changes' })).json<{ next: string }>()
    return answerOf(await buildTestApp(t).inject({ method: 'GET', url: `/addresses/changes?since=${next}` }))
  },
  uidConflict: async (t) => {
    const app = buildTestApp(t)
    const card = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-1\r\nFN:Ada\r\nEND:VCARD\r\n'
    await app.inject({ method: 'PUT', url: `${DAV_BOOK}a.vcf`, headers: vcard, payload: card })
    return davAnswerOf(await app.inject({ method: 'PUT', url: `${DAV_BOOK}b.vcf`, headers: vcard, payload: card }))
  },
  unsupportedCard: async (t) => davAnswerOf(await buildTestApp(t).inject({ method: 'PUT', url: `${DAV_BOOK}a.vcf`, headers: json, payload: '{}' })),
  invalidCard: async (t) => davAnswerOf(await buildTestApp(t).inject({ method: 'PUT', url: `${DAV_BOOK}a.vcf`, headers: vcard, payload: 'BEGIN:VCARD\r\nFN:x\r\n' })),
  invalidXml: async (t) => davAnswerOf(await buildTestApp(t).inject({ method: 'PROPFIND', url: DAV_BOOK, headers: { 'content-type': 'application/xml' }, payload: '<a>' })),
  depthInfinityRefused: async (t) => davAnswerOf(await buildTestApp(t).inject({ method: 'PROPFIND', url: DAV_BOOK, headers: { depth: 'infinity' } })),
  collectionNotAllowed: async (t) => davAnswerOf(await buildTestApp(t).inject({ method: 'MKCOL', url: `${DAV_BOOK}new` })),
  invalidKeyRequest: async (t) => {
    const keys = new ApiKeys(new MemoryStore())
    const { key } = await keys.create('alice', 'write', null)
    const app = buildTestApp(t, { authenticator: apiKeyAuthenticator(keys), deviceKeys: new DeviceKeyService(keys) })
    return answerOf(await app.inject({ method: 'POST', url: '/keys', headers: { authorization: `Bearer ${key}` }, payload: { label: '' } }))
  },
  keyNotFound: async (t) => {
    const keys = new ApiKeys(new MemoryStore())
    const { key } = await keys.create('alice', 'write', null)
    const app = buildTestApp(t, { authenticator: apiKeyAuthenticator(keys), deviceKeys: new DeviceKeyService(keys) })
    return answerOf(await app.inject({ method: 'DELETE', url: '/keys/0123456789abcdef', headers: { authorization: `Bearer ${key}` } }))
  },
  labelNotFound: async (t) => answerOf(await buildTestApp(t).inject({ method: 'DELETE', url: '/labels/Nobody%20has%20it' })),
  invalidLabel: async (t) => {
    const app = buildTestApp(t)
    await app.inject({ method: 'POST', url: '/addresses', payload: anEntry({ labels: ['Family'] }) })
    return answerOf(await app.inject({ method: 'PATCH', url: '/labels/Family', headers: json, payload: { name: 'Kin\nfolk' } }))
  },
  labelBusy: async (t) => {
    // Entries that change under every attempt: the store never finds them at the versions read.
    const store = new MemoryStore()
    store.updateMany = () => Promise.resolve(undefined)
    const app = buildTestApp(t, { store })
    await app.inject({ method: 'POST', url: '/addresses', payload: anEntry({ labels: ['Family'] }) })
    return answerOf(await app.inject({ method: 'DELETE', url: '/labels/family' }))
  },
  invalidPhoto: async (t) => {
    const app = buildTestApp(t)
    const id = String((await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })).headers.location).slice('/addresses/'.length)
    return answerOf(await app.inject({ method: 'PUT', url: `/addresses/${id}/photo`, headers: { 'content-type': 'image/jpeg' }, payload: 'not a jpeg' }))
  },
  photoTooLarge: async (t) => {
    const app = buildTestApp(t)
    const id = String((await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })).headers.location).slice('/addresses/'.length)
    return answerOf(await app.inject({ method: 'PUT', url: `/addresses/${id}/photo`, headers: { 'content-type': 'image/png' }, payload: aPngBomb() }))
  },
  photoNotFound: async (t) => {
    const app = buildTestApp(t)
    const id = String((await app.inject({ method: 'POST', url: '/addresses', payload: anEntry() })).headers.location).slice('/addresses/'.length)
    return answerOf(await app.inject({ method: 'GET', url: `/addresses/${id}/photo` }))
  },
  invalidRestoreTime: async (t) => {
    const app = buildTestApp(t)
    return answerOf(await app.inject({ method: 'POST', url: '/addresses/restore', payload: { at: '2001-01-01T00:00:00Z' } }))
  },
  storeUnavailable: async (t) => {
    const store = new TroubledStore()
    store.failure = new StoreUnavailableError()
    return answerOf(await buildTestApp(t, { store }).inject({ method: 'GET', url: `/addresses/${ID}` }))
  },
  notReady: async (t) => {
    const store = new TroubledStore()
    store.notReady = true
    return answerOf(await buildTestApp(t, { store }).inject({ method: 'GET', url: '/readyz' }))
  },
  internalError: async (t) => {
    const store = new TroubledStore()
    store.failure = new Error('a defect')
    return answerOf(await buildTestApp(t, { store }).inject({ method: 'GET', url: `/addresses/${ID}` }))
  },
}

describe('the closed list of error codes', () => {
  for (const name of Object.keys(ErrorCode) as (keyof typeof ErrorCode)[]) {
    const code = ErrorCode[name]
    test(`when a request is refused as ${code}, then the answer is its problem type with the table's status`, async (t) => {
      const { status, body } = await PRODUCERS[name](t)

      assert.equal(body.type, `urn:addrservice:problem:${code}`)
      assert.equal(status, Problems[name].status)
      assert.equal(body.status, Problems[name].status)
      assert.equal(body.title, Problems[name].title)
    })
  }

  test('when the list is read, then each code is a distinct problem type', () => {
    const codes = Object.values(ErrorCode)

    assert.equal(new Set(codes).size, codes.length)
  })
})
