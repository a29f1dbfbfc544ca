import assert from 'node:assert/strict'
import { METHODS } from 'node:http'
import { describe, test } from 'node:test'
import { brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator } from '../../src/auth/authenticator.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { buildTestApp } from '../helpers/app.js'
import { aFullEntry } from '../helpers/factories.js'
import { exchange, listenOnLoopback, parseResponses } from '../helpers/raw-socket.js'
import { aSqliteStore, storedEntries } from '../helpers/stores.js'

/**
 * Hostile requests from a seeded generator: every one is refused or harmless, none fails the
 * server, and nothing is stored. Replay a run with ADDRSERVICE_FUZZ_SEED=<seed>.
 */

const SEED = Number(process.env.ADDRSERVICE_FUZZ_SEED ?? 0x5eed_2026)
const INJECTED = 1_700
const RAW = 300
const RAW_AT_ONCE = 60
const BODY_LIMIT = 64 * 1024

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
class Random {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  int(below: number): number {
    return Math.floor(this.next() * below)
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }
  chance(probability: number): boolean {
    return this.next() < probability
  }
}

const ID = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const
const PROTOTYPE_VALUES = ['{"isAdmin":true}', '{"prototype":{"polluted":true}}', 'null', '[]', '"x"', '{"toString":1}']

/** JSON text of a full entry with a prototype key added to one object at a random level: never a valid entry. */
function withPrototypeKey(random: Random): string {
  const entry = aFullEntry() as Record<string, unknown>
  const holders: Record<string, unknown>[] = [entry]
  for (const list of ['addresses', 'phone_numbers', 'fax_numbers', 'emails']) {
    holders.push(...(entry[list] as Record<string, unknown>[]))
  }
  random.pick(holders).__fuzz__ = 0
  return JSON.stringify(entry).replace('"__fuzz__":0', `${JSON.stringify(random.pick(PROTOTYPE_KEYS))}:${random.pick(PROTOTYPE_VALUES)}`)
}

/** Text that is not JSON at all. */
function malformedJson(random: Random): string {
  const valid = JSON.stringify(aFullEntry())
  return random.pick([
    () => valid.slice(0, random.int(valid.length - 1)),
    () => `${valid}${random.pick(['x', ',', '}', ']', '\u0000', '{}'])}`,
    () => valid.replaceAll('"', "'"),
    () => '{"full_name": NaN}',
    () => '{"full_name": undefined}',
    () => '{/* comment */ "full_name": "X"}',
    () => `{"full_name": "a\u0000b"}`,
    () => `{"full_name": "X",}`,
    () => '['.repeat(5_000 + random.int(5_000)),
    () => `{"full_name":"X","addresses":${'['.repeat(3_000)}`,
    () => '',
    () => ' \t\r\n',
    () => String.fromCharCode(...Array.from({ length: 1 + random.int(64) }, () => random.int(256))),
  ])()
}

/** A JSON entry broken in one way the schema always catches. */
function invalidEntry(random: Random): string {
  const entry = aFullEntry() as Record<string, unknown>
  const mutate = random.pick<(entry: Record<string, unknown>) => unknown>([
    (e) => (e.full_name = ''),
    (e) => (e.full_name = ' \t\n'),
    (e) => (e.full_name = 'x'.repeat(201)),
    (e) => (e.full_name = 42),
    (e) => (e.full_name = 'Ada\u0000'),
    (e) => (e.full_name = 'Ada \uD83D'),
    (e) => delete e.full_name,
    (e) => (e.emails = [{ kind: 'home', email: '"\u0000"@example.com' }]),
    (e) => (e.emails = [{ kind: 'home', email: '"\uDC00"@example.com' }]),
    (e) => (e.emails = [{ kind: 'cell', email: 'a@example.com' }]),
    (e) => (e.phone_numbers = [{ kind: 'home', country_code: 0, local_number: 1 }]),
    (e) => (e.phone_numbers = [{ kind: 'home', country_code: 1, local_number: 'x' }]),
    (e) => (e.fax_numbers = Array.from({ length: 21 }, () => ({ kind: 'work', country_code: 1, local_number: 1 }))),
    (e) => (e.addresses = [[]]),
    (e) => (e.addresses = [{ kind: 'home' }]),
    (e) => (e.middle_name = 'x'),
  ])
  mutate(entry)
  return random.chance(0.1) ? JSON.stringify(random.pick([[entry], 'text', null, 42, true])) : JSON.stringify(entry)
}

const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]]

interface Body {
  payload: Buffer
  headers: Record<string, string>
  what: string
}

/**
 * A body that is never a valid entry, in an odd encoding. Invalid UTF-8 and BOMs only go into text
 * whose fault survives them (not JSON, or a key the schema refuses): bytes decoded to U+FFFD inside
 * a blank name could otherwise make it valid.
 */
function hostileBody(random: Random): Body {
  const robust = random.chance(0.5) ? withPrototypeKey(random) : malformedJson(random)
  const kind = random.int(8)
  if (kind === 0) {
    const bytes = Buffer.from(robust)
    const at = random.int(bytes.length + 1)
    return { payload: Buffer.concat([bytes.subarray(0, at), Buffer.from(random.pick(INVALID_UTF8)), bytes.subarray(at)]), headers: {}, what: 'invalid UTF-8' }
  }
  if (kind === 1) {
    const [bom, encoding] = random.pick([
      [[0xef, 0xbb, 0xbf], 'utf8'],
      [[0xff, 0xfe], 'utf16le'],
      [[0xfe, 0xff], 'utf16le'],
    ] as const)
    return { payload: Buffer.concat([Buffer.from(bom), Buffer.from(robust, encoding)]), headers: {}, what: `BOM + ${encoding}` }
  }
  if (kind === 2) {
    const inflated = `{"full_name":"${'x'.repeat(BODY_LIMIT * (1 + random.int(8)))}"}`
    return { payload: gzipSync(inflated), headers: { 'content-encoding': 'gzip' }, what: 'gzip bomb' }
  }
  const text = random.chance(0.5) ? invalidEntry(random) : robust
  if (kind === 3) return { payload: gzipSync(text), headers: { 'content-encoding': random.pick(['gzip', 'x-gzip', 'deflate', 'GZIP']) }, what: 'gzip' }
  if (kind === 4) return { payload: deflateSync(text), headers: { 'content-encoding': random.pick(['deflate', 'gzip']) }, what: 'deflate' }
  if (kind === 5) {
    const encoding = random.pick(['gzip', 'deflate', 'br', 'zstd', 'compress', 'identity', 'gzip, deflate', 'chunked', ''])
    return { payload: Buffer.from(text), headers: { 'content-encoding': encoding }, what: `plain as ${encoding}` }
  }
  return { payload: Buffer.from(text), headers: {}, what: 'plain' }
}

const ODD_IDS = [
  ID,
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '%00',
  '%zz',
  '%ff%fe',
  'a'.repeat(101),
  'a'.repeat(5_000),
  '名前',
  '%E5%90%8D',
  "1'%20OR%20'1'='1",
  '__proto__',
  'constructor',
  'a%2Fb',
  'a;b',
  '-',
]

function hostilePath(random: Random): string {
  const path = random.pick([
    () => '/addresses',
    () => '/addresses/',
    () => `/addresses/${random.pick(ODD_IDS)}`,
    () => `/addresses/${random.pick(ODD_IDS)}/`,
    () => `/addresses/${ID}/${random.pick(ODD_IDS)}`,
    () => '//addresses',
    () => '/addresses/../addresses',
    () => '/addresses/%2e%2e/addresses',
    () => '/ADDRESSES',
    () => '/addresses%2F',
    () => `/${'x/'.repeat(2_000)}`,
    () => '/%00',
    () => '/livez/..',
    () => '/readyz%00',
    () => '/metrics',
  ])()
  return random.chance(0.15) ? `${path}?${random.pick(['__proto__[isAdmin]=1', 'constructor.prototype.x=1', 'a=%zz', 'q=' + 'x'.repeat(3_000)])}` : path
}

const INJECTABLE_METHODS = METHODS.filter((method) => method !== 'CONNECT')

function hostileHeaders(random: Random): Record<string, string> {
  const headers: Record<string, string> = {}
  const choices: [string, readonly string[]][] = [
    ['content-type', ['application/json; charset=utf-16', 'text/plain', 'multipart/form-data; boundary=x', 'application/json, text/html', 'a'.repeat(2_000), '']],
    ['accept-encoding', ['gzip;q=x', '*;q=0', 'br, br, br', 'identity;q=0', 'zstd']],
    ['x-request-id', ['', 'a'.repeat(500), '../../etc/passwd', '"x"', 'ünïcode', '<script>']],
    ['if-none-match', ['garbage', '*', 'W/', '"a", "b", W/"c"']],
    ['origin', ['null', 'http://evil.example', 'x'.repeat(300)]],
    ['authorization', ['Bearer x', 'Basic %%%', 'Bearer ' + 'a'.repeat(4_000)]],
    ['x-forwarded-for', ['1.2.3.4, ::1', 'not-an-ip', '']],
    ['range', ['bytes=0-0', 'bytes=-1']],
  ]
  for (const [name, values] of choices) if (random.chance(0.25)) headers[name] = random.pick(values)
  return headers
}

const DAV_BOOKS = ['/dav/addressbooks/default/contacts/', '/dav/addressbooks/alice/contacts/']

function davPath(random: Random): string {
  return random.pick([
    () => '/dav/',
    () => '/dav',
    () => '/.well-known/carddav',
    () => random.pick(DAV_BOOKS),
    () => `${random.pick(DAV_BOOKS)}${random.pick(ODD_IDS)}`,
    () => `${random.pick(DAV_BOOKS)}${random.pick(ODD_IDS)}.vcf`,
    () => `${random.pick(DAV_BOOKS)}x.vcf/more`,
    () => '/dav/principals/%zz/',
    () => `/dav/principals/${'a'.repeat(3_000)}/`,
    () => '/dav/addressbooks/bob/contacts/',
    () => '/dav/addressbooks/default/other/',
    () => '/dav/../addresses',
    () => '/dav/%2e%2e/%2e%2e/',
  ])()
}

/** What DAV clients send, each of it wrong: XML that is malformed, hostile or the wrong request, cards that cannot be stored. */
function hostileDavBody(random: Random): { payload: Buffer; headers: Record<string, string>; what: string } {
  const xml = { 'content-type': random.pick(['application/xml', 'text/xml; charset=utf-8', 'application/json', '']) }
  const vcard = { 'content-type': random.pick(['text/vcard', 'text/x-vcard', 'text/vcard; charset=utf-16', 'application/xml']) }
  const lol = '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
  return random.pick([
    () => ({ payload: Buffer.from(`<?xml version="1.0"?><!DOCTYPE d [${lol}]><d:propfind xmlns:d="DAV:"><d:prop><d:x>&c;</d:x></d:prop></d:propfind>`), headers: xml, what: 'entity bomb' }),
    () => ({ payload: Buffer.from('<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>'), headers: xml, what: 'external entity' }),
    () => ({ payload: Buffer.from('<d:propfind xmlns:d="DAV:"><d:prop>'), headers: xml, what: 'unclosed' }),
    () => ({ payload: Buffer.from(`${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}`), headers: xml, what: 'deep' }),
    () => ({ payload: Buffer.from('<x:propfind xmlns:y="DAV:"/>'), headers: xml, what: 'unbound prefix' }),
    () => ({ payload: Buffer.from('<d:sync-collection xmlns:d="DAV:"><d:sync-token>urn:x-addrservice:sync:%%%</d:sync-token><d:prop><d:getetag/></d:prop></d:sync-collection>'), headers: xml, what: 'bad token' }),
    () => ({ payload: Buffer.from('<c:addressbook-query xmlns:c="urn:ietf:params:xml:ns:carddav"><c:filter><c:prop-filter><c:text-match collation="i;klingon">x</c:text-match></c:prop-filter></c:filter><c:limit><c:nresults>-1</c:nresults></c:limit></c:addressbook-query>'), headers: xml, what: 'bad query' }),
    () => ({ payload: Buffer.from('<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>x</d:displayname></d:prop></d:set></d:propertyupdate>'), headers: xml, what: 'proppatch' }),
    () => ({ payload: Buffer.from([0xff, 0xfe, 0x3c, 0x00]), headers: xml, what: 'utf-16' }),
    () => ({ payload: Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n'), headers: vcard, what: 'card without END' }),
    () => ({ payload: Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:a@b.c\r\nEND:VCARD\r\n'), headers: vcard, what: 'card without a name' }),
    () => ({ payload: Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a\u0000\r\nEND:VCARD\r\n'), headers: vcard, what: 'card with NUL' }),
    () => ({ payload: Buffer.from('BEGIN:VCARD\r\nVERSION:9.9\r\nFN:a\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:b\r\nEND:VCARD\r\n'), headers: vcard, what: 'two cards' }),
    () => ({ payload: Buffer.from(`BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a\r\nNOTE:${'x'.repeat(1_100_000)}\r\nEND:VCARD\r\n`), headers: vcard, what: 'big card' }),
    () => ({ payload: Buffer.from('{"full_name":"x"}'), headers: vcard, what: 'JSON as a card' }),
  ])()
}

const DAV_METHODS = ['PROPFIND', 'REPORT', 'PROPPATCH', 'MKCOL', 'PUT', 'DELETE', 'GET', 'COPY', 'MOVE', 'LOCK']

/** Whether a request is on the DAV surface, where refusals are DAV error bodies. */
function onDavSurface(method: string, url: string): boolean {
  return url.startsWith('/dav') || url.startsWith('/.well-known/carddav') || method === 'PROPFIND'
}

interface InjectedRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload?: Buffer
  what: string
}

function injectedRequest(random: Random): InjectedRequest {
  if (random.chance(0.25)) {
    const method = random.pick(DAV_METHODS)
    const body = hostileDavBody(random)
    return { method, url: davPath(random), headers: { ...hostileHeaders(random), depth: random.pick(['0', '1', 'infinity', '2', '']), ...body.headers }, payload: body.payload, what: `DAV ${body.what}` }
  }
  const method = random.chance(0.7) ? random.pick(['POST', 'PUT']) : random.pick(INJECTABLE_METHODS)
  const url = random.chance(0.7) ? random.pick(['/addresses', `/addresses/${ID}`, '/addresses/']) : hostilePath(random)
  const headers = hostileHeaders(random)
  if ((method === 'POST' || method === 'PUT') && random.chance(0.05)) return { method, url, headers, what: 'no body' }
  const body = hostileBody(random)
  return { method, url, headers: { ...headers, ...body.headers }, payload: body.payload, what: body.what }
}

/** A raw HTTP/1.1 exchange: bytes no well-behaved client would send, or a hostile body framed by hand. */
function rawRequest(random: Random): { bytes: Buffer; method: string; what: string } {
  const method = random.pick(['POST', 'PUT', 'GET', 'DELETE', 'PATCH', 'get', 'FOO', 'M-SEARCH', 'CONNECT', 'G(T', 'PRI'])
  const target = method === 'CONNECT' ? random.pick(['example.com:443', '127.0.0.1:22', '/addresses']) : random.pick([
    hostilePath(random),
    '*',
    'http://evil.example/addresses',
    '/addresses with spaces',
    '/addresses/\u0000',
    '/addresses/\u00ff\u00fe',
    `/${'a'.repeat(10_000)}`,
  ])
  const version = random.chance(0.9) ? 'HTTP/1.1' : random.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1', ''])
  const body = hostileBody(random)
  const lines: string[] = []
  if (random.chance(0.9)) lines.push('Host: fuzz')
  if (random.chance(0.1)) lines.push('Host: another')
  for (const [name, value] of Object.entries(body.headers)) lines.push(`${name}: ${value}`)
  const framing = random.int(10)
  let payload = body.payload
  if (framing <= 4) lines.push(`Content-Length: ${String(payload.length)}`)
  else if (framing === 5) lines.push(`Content-Length: ${random.pick(['-1', 'abc', '1e3', '99999999999999999999', `${String(payload.length)}, ${String(payload.length + 1)}`])}`)
  else if (framing === 6) lines.push(`Content-Length: ${String(payload.length + 1 + random.int(100))}`)
  else if (framing === 7) {
    lines.push('Transfer-Encoding: chunked')
    payload = Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from(random.pick(['\r\n0\r\n\r\n', '\r\nzz\r\n', '\r\n0\r\nX-Trailer: 1\r\n\r\n']))])
  } else if (framing === 8) lines.push('Transfer-Encoding: chunked', `Content-Length: ${String(payload.length)}`)
  else lines.push(`Transfer-Encoding: ${random.pick(['gzip', 'chunked, identity', 'x'])}`)
  const oddities = [
    'X-Request-ID: fuzz-raw',
    'Expect: foo',
    'Expect: 100-continue',
    'Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    'Upgrade: websocket',
    'Bad Header',
    'Space : before-colon',
    'X-Folded: a\r\n b',
    'X-Nul: a\u0000b',
    'X-Cr: a\rb',
    `X-Big: ${'a'.repeat(20_000)}`,
    Array.from({ length: 1_001 }, (_, i) => `f${String(i)}:1`).join('\r\n'),
  ]
  for (const oddity of oddities) if (random.chance(0.08)) lines.push(oddity)
  if (random.chance(0.8)) lines.push('Connection: close')
  const head = `${method} ${target} ${version}`.trimEnd()
  const pipelinedBefore = random.chance(0.15) ? 'GET /addresses HTTP/1.1\r\nHost: fuzz\r\n\r\n' : ''
  const bytes = Buffer.concat([Buffer.from(`${pipelinedBefore}${head}\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload])
  return { bytes, method: method.toUpperCase(), what: `${head.slice(0, 60)} (${body.what})` }
}


function assertDavError(body: string, requestId: string, context: string): void {
  assert.match(body, /^<\?xml version="1.0" encoding="utf-8"\?>\n<d:error xmlns:d="DAV:"/, context)
  assert.match(body, /<x:type xmlns:x="urn:addrservice:problem">urn:addrservice:problem:[a-z0-9-]+<\/x:type>/, context)
  assert.ok(body.includes(`>${requestId}</x:request-id>`), `${context}: the request id is not in the body`)
}

function assertProblem(body: string, status: number, requestId: string | undefined, context: string): void {
  let problem: ProblemBody
  try {
    problem = JSON.parse(body) as ProblemBody
  } catch {
    assert.fail(`${context}: a ${String(status)} whose body is not JSON: ${body.slice(0, 200)}`)
  }
  assert.equal(problem.status, status, context)
  assert.equal(problem.request_id, requestId, context)
  assert.match(problem.type, /^urn:addrservice:problem:/, context)
}

describe('fuzzing the HTTP edge', () => {
  for (const mode of ['none', 'api-key'] as const) {
    test(`when ${String(INJECTED + RAW)} hostile requests arrive with authentication ${mode}, then none fails the server, every 4xx is a problem, and nothing is stored`, async (t) => {
      t.diagnostic(`seed ${String(SEED)} (replay with ADDRSERVICE_FUZZ_SEED=${String(SEED)})`)
      const random = new Random(SEED)
      const store = aSqliteStore(t)
      // With keys, half the requests carry a valid one, so that the hostile part reaches past authentication.
      const keys = new ApiKeys(store)
      const key = mode === 'api-key' ? (await keys.create('alice', 'write', null)).key : undefined
      const app = buildTestApp(t, {
        store,
        ...(mode === 'api-key' ? { authenticator: apiKeyAuthenticator(keys) } : {}),
        config: { server: { headersTimeoutMs: 500, requestTimeoutMs: 1_000, keepAliveTimeoutMs: 200 } },
      })
      const port = await listenOnLoopback(app)
      const statuses = new Map<number, number>()
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)

      for (let index = 0; index < INJECTED; index += 1) {
        const request = injectedRequest(random)
        if (key !== undefined && random.chance(0.5)) request.headers.authorization = `Bearer ${key}`
        const context = `seed ${String(SEED)}, injected #${String(index)}: ${request.method} ${request.url.slice(0, 80)} (${request.what})`

        const response = await app.inject({ method: request.method as 'GET', url: request.url, headers: request.headers, ...(request.payload ? { payload: request.payload } : {}) })

        count(response.statusCode)
        assert.ok(response.statusCode < 500, `${context}: ${String(response.statusCode)} ${response.body.slice(0, 300)}`)
        if (request.method === 'POST' || request.method === 'PUT' || request.method === 'DELETE') assert.ok(response.statusCode >= 400, `${context}: ${String(response.statusCode)}`)
        if (response.statusCode >= 400 && String(response.headers['content-type']).startsWith('application/xml')) {
          assert.ok(onDavSurface(request.method, request.url), `${context}: a DAV error body off the DAV paths`)
          if (request.method !== 'HEAD') assertDavError(decoded(response.rawPayload, response.headers['content-encoding']), String(response.headers['x-request-id']), context)
        } else if (response.statusCode >= 400) {
          assert.match(String(response.headers['content-type']), /^application\/problem\+json/, context)
          if (request.method !== 'HEAD') {
            const body = decoded(response.rawPayload, response.headers['content-encoding'])
            assertProblem(body, response.statusCode, String(response.headers['x-request-id']), context)
          }
        }
      }

      const raw = Array.from({ length: RAW }, () => rawRequest(random))
      // Some exchanges end only at a timeout (a stalled body, a keep-alive connection): many at once keep the run short.
      const exchanges = await inPool(raw, RAW_AT_ONCE, (request) => exchange(port, [request.bytes], { waitMs: 4_000 }))
      exchanges.forEach(({ text, closed }, index) => {
        const request = raw[index]
        assert.ok(request)
        const context = `seed ${String(SEED)}, raw #${String(index)}: ${JSON.stringify(request.what)}`
        assert.ok(closed, `${context}: the connection was left open`)
        const responses = parseResponses(text)
        assert.ok(responses.length > 0, `${context}: closed without an answer`)
        for (const response of responses) {
          count(response.status)
          const notImplementedConnect = request.method === 'CONNECT' && response.status === 501
          assert.ok(response.status < 500 || notImplementedConnect, `${context}: ${String(response.status)} ${response.body.slice(0, 300)}`)
          if (response.status >= 400) {
            assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/, context)
            assertProblem(response.body, response.status, response.headers['x-request-id'], context)
          }
        }
      })

      t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`)
      assert.deepEqual(await storedEntries(store, 'default'), [])
      assert.deepEqual(await storedEntries(store, 'alice'), [])
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })
  }
})

/** Runs `work` on every item, at most `size` at a time, and returns the results in order. */
async function inPool<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next
      next += 1
      results[index] = await work(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: size }, worker))
  return results
}

/** A response body as sent, decompressed when the response says it is. */
function decoded(payload: Buffer, encoding: unknown): string {
  if (encoding === 'gzip') return gunzipSync(payload).toString()
  if (encoding === 'deflate') return inflateSync(payload).toString()
  if (encoding === 'br') return brotliDecompressSync(payload).toString()
  assert.equal(encoding, undefined)
  return payload.toString()
}
