import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import type { Principal } from '../../src/domain/principal.js'
import type { ProblemBody } from '../../src/http/edge/problems.js'
import { buildTestApp, type TestAppOptions } from '../helpers/app.js'
import { exchange, listenOnLoopback, parseResponses, type ParsedResponse } from '../helpers/raw-socket.js'
import type { ListRequest } from '../../src/service/address-book-service.js'
import { StubAddressBook } from '../helpers/stub-address-book.js'

const PROBLEM_MEMBERS = ['code', 'detail', 'instance', 'message', 'method', 'request_id', 'status', 'title', 'type', 'uri']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** An address book that takes a while to list, so that a response is still in flight when the next bytes arrive. */
class SlowAddressBook extends StubAddressBook {
  override async list(principal: Principal, request: ListRequest) {
    await delay(100)
    return super.list(principal, request)
  }
}

async function serve(t: TestContext, { service = new StubAddressBook(), config }: { service?: StubAddressBook; config?: TestAppOptions['config'] } = {}) {
  const app = buildTestApp(t, { service, ...(config ? { config } : {}) })
  return { port: await listenOnLoopback(app), service }
}

/** The one problem a response carries, checked for the members and headers every error has. */
function problemOf(response: ParsedResponse | undefined): ProblemBody {
  assert.ok(response, 'no response')
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/)
  const problem = JSON.parse(response.body) as ProblemBody
  assert.deepEqual(Object.keys(problem).sort(), PROBLEM_MEMBERS)
  assert.equal(problem.status, response.status)
  assert.equal(response.headers['x-request-id'], problem.request_id)
  assert.match(response.headers.vary ?? '', /accept-encoding/i)
  return problem
}

const GET = 'GET /addresses HTTP/1.1\r\nHost: test\r\n\r\n'

describe('requests Node would answer bare', () => {
  test('when an HTTP/1.1 request has no Host, then 400 in problem form and the connection closes', async (t) => {
    const { port, service } = await serve(t)

    const { text, closed } = await exchange(port, ['GET /addresses HTTP/1.1\r\nX-Request-ID: no-host\r\n\r\n'])

    const [response, ...more] = parseResponses(text)
    const problem = problemOf(response)
    assert.deepEqual(
      { status: problem.status, type: problem.type, method: problem.method, uri: problem.uri, request_id: problem.request_id },
      { status: 400, type: 'urn:addrservice:problem:http-400', method: 'GET', uri: '/addresses', request_id: 'no-host' },
    )
    assert.match(problem.detail, /Host/)
    assert.equal(response?.headers.connection, 'close')
    assert.deepEqual(more, [])
    assert.ok(closed)
    assert.deepEqual(service.calls, [])
  })

  test('when an HTTP/1.0 request has no Host, then it is served (only HTTP/1.1 requires one)', async (t) => {
    const { port } = await serve(t)

    const { text } = await exchange(port, ['GET /addresses HTTP/1.0\r\n\r\n'])

    assert.equal(parseResponses(text)[0]?.status, 200)
  })

  /** Short fields, so that many stay under the 16 KiB header size limit. */
  const fields = (count: number) => Array.from({ length: count }, (_, i) => `f${String(i)}:1\r\n`).join('')

  test('when a request has more header fields than the limit, then 431 in problem form, wherever its Host is', async (t) => {
    const { port, service } = await serve(t)

    for (const request of [
      `GET /addresses HTTP/1.1\r\n${fields(1000)}Host: test\r\n\r\n`,
      `GET /addresses HTTP/1.1\r\nHost: test\r\n${fields(1000)}\r\n`,
    ]) {
      const { text, closed } = await exchange(port, [request])

      const problem = problemOf(parseResponses(text)[0])
      assert.equal(problem.status, 431)
      assert.match(problem.detail, /more than 1000 header fields/)
      assert.ok(closed)
    }
    assert.deepEqual(service.calls, [])
  })

  test('when a request has exactly as many header fields as the limit, then it is served', async (t) => {
    const { port } = await serve(t)

    const { text } = await exchange(port, [`GET /addresses HTTP/1.1\r\n${fields(998)}Host: test\r\nConnection: close\r\n\r\n`])

    assert.equal(parseResponses(text)[0]?.status, 200)
  })

  test('when the header section is larger than Node allows, then 431 naming the request it read', async (t) => {
    const { port } = await serve(t)

    const { text, closed } = await exchange(port, [`GET /addresses?q=1 HTTP/1.1\r\nHost: test\r\nX-Request-ID: big-1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`])

    const [response] = parseResponses(text)
    const problem = problemOf(response)
    assert.deepEqual(
      { status: problem.status, method: problem.method, instance: problem.instance, uri: problem.uri, request_id: problem.request_id },
      { status: 431, method: 'GET', instance: '/addresses', uri: '/addresses', request_id: 'big-1' },
    )
    assert.match(problem.detail, /larger than 16384 bytes/)
    assert.equal(response?.headers.connection, 'close')
    assert.ok(closed)
  })

  test('when a request expects something other than 100-continue, then 417 in problem form and the service is not called', async (t) => {
    const { port, service } = await serve(t)
    const body = '{"full_name":"X"}'

    const { text } = await exchange(
      port,
      [`POST /addresses HTTP/1.1\r\nHost: test\r\nExpect: foo\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n${body}`],
    )

    const problem = problemOf(parseResponses(text)[0])
    assert.deepEqual([problem.status, problem.type, problem.method, problem.uri], [417, 'urn:addrservice:problem:http-417', 'POST', '/addresses'])
    assert.deepEqual(service.calls, [])
  })

  test('when a request expects 100-continue, then it is served as before', async (t) => {
    const { port, service } = await serve(t)
    const body = '{"full_name":"X"}'

    const { text } = await exchange(
      port,
      [`POST /addresses HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n`, body],
      { gapMs: 50 },
    )

    assert.deepEqual(parseResponses(text).map((response) => response.status), [100, 201])
    assert.deepEqual(service.calls.map((call) => call.method), ['create'])
  })

  test('when CONNECT is requested, then 501 in problem form and the connection closes', async (t) => {
    const { port } = await serve(t)

    const { text, closed } = await exchange(port, ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Request-ID: tunnel-1\r\n\r\n'])

    const [response, ...more] = parseResponses(text)
    const problem = problemOf(response)
    assert.deepEqual(
      { status: problem.status, type: problem.type, method: problem.method, uri: problem.uri, request_id: problem.request_id },
      { status: 501, type: 'urn:addrservice:problem:http-501', method: 'CONNECT', uri: 'example.com:443', request_id: 'tunnel-1' },
    )
    assert.equal(response?.headers.connection, 'close')
    assert.match(response.headers.date ?? '', /GMT$/)
    assert.deepEqual(more, [])
    assert.ok(closed)
  })

  test('when CONNECT follows a request still being answered, then that answer comes first', async (t) => {
    const { port } = await serve(t, { service: new SlowAddressBook() })

    const { text, closed } = await exchange(port, [`${GET}CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`])

    const [first, second] = parseResponses(text)
    assert.equal(first?.status, 200)
    assert.equal(first.body, '{}')
    assert.equal(problemOf(second).status, 501)
    assert.ok(closed)
  })

  test('when a CONNECT client never closes its side, then the server closes the connection after the connection timeout', async (t) => {
    const { port } = await serve(t, { config: { server: { requestTimeoutMs: 300, headersTimeoutMs: 300 } } })

    const { closed } = await exchange(port, ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'], { waitMs: 3000 })

    assert.ok(closed)
  })
})

describe('connection-level errors', () => {
  test('when a valid request is pipelined before a malformed one, then its full response comes first, then 400, then the connection closes', async (t) => {
    const { port } = await serve(t, { service: new SlowAddressBook() })

    const { text, closed } = await exchange(port, [`${GET}${GET}GARBAGE / HTTP/9.9\r\nX-Request-ID: bad-3\r\n\r\n`])

    const responses = parseResponses(text)
    assert.deepEqual(responses.map((response) => response.status), [200, 200, 400])
    assert.deepEqual([responses[0]?.body, responses[1]?.body], ['{}', '{}'])
    const problem = problemOf(responses[2])
    assert.deepEqual(
      { type: problem.type, method: problem.method, instance: problem.instance, uri: problem.uri, request_id: problem.request_id },
      { type: 'urn:addrservice:problem:http-400', method: 'GARBAGE', instance: '/', uri: '/', request_id: 'bad-3' },
    )
    assert.equal(responses[2]?.headers.connection, 'close')
    assert.ok(closed)
  })

  test('when the request line cannot be read, then instance, method and uri are null and a fresh request id is given', async (t) => {
    const { port } = await serve(t)

    const { text, closed } = await exchange(port, ['GET /addresses HTTP/1.1\r\nHost: test\r\n', 'X-Request-ID: lost\r\nBad Header\r\n\r\n'], { gapMs: 50 })

    const problem = problemOf(parseResponses(text)[0])
    assert.deepEqual([problem.status, problem.instance, problem.method, problem.uri], [400, null, null, null])
    assert.match(problem.request_id, UUID)
    assert.ok(closed)
  })

  test('when a chunked body is malformed, then 400 at once and the service is not called', async (t) => {
    const { port, service } = await serve(t)

    const { text, closed } = await exchange(port, ['POST /addresses HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'], { waitMs: 2000 })

    const problem = problemOf(parseResponses(text)[0])
    assert.deepEqual([problem.status, problem.method, problem.uri], [400, 'POST', '/addresses'])
    assert.ok(closed)
    assert.deepEqual(service.calls, [])
  })

  test('when a GET is answered before its chunked body turns out malformed, then it keeps its one answer and the connection closes', async (t) => {
    const { port } = await serve(t)

    const { text, closed } = await exchange(
      port,
      ['GET /addresses HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'zz\r\n'],
      { gapMs: 200, waitMs: 2000 },
    )

    assert.deepEqual(parseResponses(text).map((response) => response.status), [200])
    assert.ok(closed)
  })

  test('when chunk extensions are over the limit, then 413 in problem form', async (t) => {
    const { port } = await serve(t)

    const { text } = await exchange(port, [
      `POST /addresses HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n1;${'a'.repeat(20_000)}\r\nx\r\n0\r\n\r\n`,
    ])

    assert.equal(problemOf(parseResponses(text)[0]).status, 413)
  })

  for (const [name, upgrade] of [
    ['Upgrade: h2c with Connection: upgrade', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n'],
    ['a bare Upgrade header', 'Upgrade: websocket\r\n'],
  ] as const) {
    test(`when a request with ${name} is followed by a malformed one, then it is answered with Connection: close and the connection closes at once`, async (t) => {
      const { port } = await serve(t)

      const { text, closed } = await exchange(port, [`GET /addresses HTTP/1.1\r\nHost: test\r\n${upgrade}\r\nGARBAGE / HTTP/9.9\r\n\r\n`], { waitMs: 2000 })

      const [response, ...more] = parseResponses(text)
      assert.equal(response?.status, 200)
      assert.equal(response.headers.connection, 'close')
      assert.deepEqual(more, [])
      assert.ok(closed, 'the connection stayed open')
    })
  }

  test('when a body stalls past the request timeout, then 408 naming the request rather than a silent close', async (t) => {
    const { port, service } = await serve(t, { config: { server: { headersTimeoutMs: 300, requestTimeoutMs: 300 } } })

    const { text, closed } = await exchange(port, ['POST /addresses HTTP/1.1\r\nHost: test\r\nX-Request-ID: stalled\r\nContent-Length: 100\r\n\r\n{"full'], { waitMs: 2000 })

    assert.ok(closed)
    const problem = problemOf(parseResponses(text)[0])
    assert.deepEqual([problem.status, problem.method, problem.uri, problem.request_id], [408, 'POST', '/addresses', 'stalled'])
    assert.deepEqual(service.calls, [])
  })

  test('when headers trickle in past a short headers timeout, then 408 in problem form well before 2 s', async (t) => {
    const { port } = await serve(t, { config: { server: { headersTimeoutMs: 300 } } })
    const trickle = `GET /addresses HTTP/1.1\r\nHost: test\r\nX-Slow: ${'a'.repeat(200)}`.split('')

    const { text, closed } = await exchange(port, trickle, { gapMs: 20, waitMs: 2000 })

    assert.ok(closed, 'the connection stayed open for 2 s')
    const problem = problemOf(parseResponses(text)[0])
    assert.deepEqual([problem.status, problem.instance, problem.method, problem.uri], [408, null, null, null])
  })
})

describe('refusals before routing and at the connection level', () => {
  const fields = (count: number) => Array.from({ length: count }, (_, i) => `f${String(i)}:1\r\n`).join('')
  /** Requests refused before any route runs, by Fastify (before the hooks) or by Node's parser (answered raw), as `method` would send them. */
  const refusals: readonly { name: string; status: number; bytes: (method: string) => Buffer }[] = [
    { name: 'an over-long id', status: 414, bytes: (method) => Buffer.from(`${method} /addresses/${'a'.repeat(101)} HTTP/1.1\r\nHost: test\r\nX-Request-ID: r\r\nConnection: close\r\n\r\n`) },
    { name: 'a path that is not percent-encoding', status: 400, bytes: (method) => Buffer.from(`${method} /addresses/%zz HTTP/1.1\r\nHost: test\r\nX-Request-ID: r\r\nConnection: close\r\n\r\n`) },
    {
      name: 'a raw non-ASCII byte in the target',
      status: 400,
      bytes: (method) => Buffer.concat([Buffer.from(`${method} /addresses/`), Buffer.from('é'), Buffer.from(' HTTP/1.1\r\nHost: test\r\nX-Request-ID: r\r\n\r\n')]),
    },
    { name: 'no Host', status: 400, bytes: (method) => Buffer.from(`${method} /addresses HTTP/1.1\r\nX-Request-ID: r\r\n\r\n`) },
    { name: 'more header fields than the limit', status: 431, bytes: (method) => Buffer.from(`${method} /addresses HTTP/1.1\r\nHost: test\r\nX-Request-ID: r\r\n${fields(1000)}\r\n`) },
    { name: 'headers larger than Node allows', status: 431, bytes: (method) => Buffer.from(`${method} /addresses HTTP/1.1\r\nHost: test\r\nX-Request-ID: r\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`) },
    { name: 'an unmet expectation', status: 417, bytes: (method) => Buffer.from(`${method} /addresses HTTP/1.1\r\nHost: test\r\nX-Request-ID: r\r\nExpect: foo\r\nConnection: close\r\n\r\n`) },
  ]

  /** The security headers of an ordinary answer, which every answer must carry alike. */
  async function securityHeadersOf(port: number): Promise<Record<string, string>> {
    const { text } = await exchange(port, [`GET /addresses HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`])
    const [response] = parseResponses(text)
    assert.equal(response?.status, 200)
    const names = ['content-security-policy', 'cross-origin-resource-policy', 'referrer-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options']
    const headers = Object.fromEntries(names.map((name) => [name, response.headers[name] ?? '']))
    for (const [name, value] of Object.entries(headers)) assert.notEqual(value, '', name)
    return headers
  }

  for (const { name, status, bytes } of refusals) {
    test(`when a request with ${name} is refused, then the ${String(status)} carries the security headers of every answer`, async (t) => {
      const { port } = await serve(t)
      const expected = await securityHeadersOf(port)

      const { text } = await exchange(port, [bytes('GET')])

      const [response] = parseResponses(text)
      assert.equal(response?.status, status)
      assert.deepEqual(Object.fromEntries(Object.keys(expected).map((header) => [header, response.headers[header]])), expected)
      assert.equal(problemOf(response).request_id, 'r')
    })

    test(`when HEAD with ${name} is refused, then the ${String(status)} has no body and the Content-Length of the answer to GET`, async (t) => {
      const { port } = await serve(t)

      const head = await exchange(port, [bytes('HEAD')])
      const get = await exchange(port, [bytes('GET')])

      const headEnd = head.text.indexOf('\r\n\r\n')
      assert.notEqual(headEnd, -1)
      assert.equal(head.text.slice(headEnd + 4), '', 'bytes after the header section')
      assert.ok(head.closed || /\r\nconnection: keep-alive\r\n/i.test(head.text), 'a HEAD answer that does not close must keep the connection usable')
      const [headResponse] = parseResponses(head.text.slice(0, headEnd + 4).replace(/\r\ncontent-length: \d+/i, ''))
      const [getResponse] = parseResponses(get.text)
      assert.equal(headResponse?.status, status)
      assert.equal(headResponse.headers['content-type'], getResponse?.headers['content-type'])
      assert.equal(/\r\ncontent-length: (\d+)/i.exec(head.text)?.[1], String(Buffer.byteLength(getResponse?.body ?? '', 'latin1')))
    })
  }
})
