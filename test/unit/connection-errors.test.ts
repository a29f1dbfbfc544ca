import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { answerClientError, connectionsCheckingInterval, idleConnectionTimeout, readRequestHead } from '../../src/http/edge/connection-errors.js'

describe('connectionsCheckingInterval', () => {
  for (const [headersTimeoutMs, requestTimeoutMs, expected] of [
    [10_000, 30_000, 1000],
    [300, 30_000, 75],
    [30_000, 2_000, 500],
    [40, 40, 25],
  ] as const) {
    test(`when the timeouts are ${String(headersTimeoutMs)} and ${String(requestTimeoutMs)} ms, then Node checks every ${String(expected)} ms`, () => {
      assert.equal(connectionsCheckingInterval({ headersTimeoutMs, requestTimeoutMs }), expected)
    })
  }
})

describe('idleConnectionTimeout', () => {
  test('when the request timeout is 30 s, then a silent connection lasts two checks longer, so that the 408 comes first', () => {
    assert.equal(idleConnectionTimeout({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 }), 32_000)
  })
})

describe('readRequestHead', () => {
  const head = (text: string, failedAt = text.length) => readRequestHead(Buffer.from(text, 'latin1'), failedAt)

  test('when the packet starts with the failing request, then its method, target and X-Request-ID are read', () => {
    assert.deepEqual(head('GET /addresses?q=1 HTTP/9.9\r\nHost: x\r\nX-Request-ID:  abc-1 \r\n\r\n', 19), {
      method: 'GET',
      target: '/addresses?q=1',
      requestIdHeader: 'abc-1',
    })
  })

  test('when a complete request comes before the failing one, then the failing one is read, not its X-Request-ID', () => {
    const text = 'GET /a HTTP/1.1\r\nHost: x\r\nX-Request-ID: first\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'

    assert.deepEqual(head(text, text.indexOf('Bad Header') + 3), { method: 'POST', target: '/b', requestIdHeader: undefined })
  })

  test('when the failure is at the first byte after a complete request, then that next request is read', () => {
    const text = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nget /b HTTP/1.1\r\n\r\n'

    assert.deepEqual(head(text, text.indexOf('get')), { method: 'get', target: '/b', requestIdHeader: undefined })
  })

  test("when the X-Request-ID comes after the failing request's headers, then it is not taken", () => {
    assert.equal(head('GARBAGE / HTTP/9.9\r\n\r\nX-Request-ID: later\r\n\r\n', 1).requestIdHeader, undefined)
  })

  test('when the packet ends before the end of the headers, then the X-Request-ID among them is still read', () => {
    assert.deepEqual(head('GET / HTTP/1.1\r\nX-Request-ID: cut-1\r\nBad Header', 45), { method: 'GET', target: '/', requestIdHeader: 'cut-1' })
  })

  test('when lines end in a bare LF, then the request line is still read', () => {
    assert.deepEqual(head('GET / HTTP/1.1\nHost: x\n\n', 15), { method: 'GET', target: '/', requestIdHeader: undefined })
  })

  test('when the target holds a space or control characters, then the method is read and the target is not', () => {
    assert.deepEqual(head('GET /a b HTTP/1.1\r\n\r\n', 7), { method: 'GET', target: null, requestIdHeader: undefined })
    assert.deepEqual(head('GET /a\u0000b HTTP/1.1\r\n\r\n', 6), { method: 'GET', target: null, requestIdHeader: undefined })
  })

  for (const [name, text] of [
    ['the middle of a header section', 'X-Request-ID: abc\r\nBad Header\r\n\r\n'],
    ['a header that looks like a request line', 'Bad Header HTTP/1.1 x\r\n\r\n'],
    ['binary', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003'],
    ['nothing', ''],
  ] as const) {
    test(`when the packet starts with ${name}, then nothing is claimed`, () => {
      assert.deepEqual(head(text, 1), { method: null, target: null, requestIdHeader: undefined })
    })
  }

  test('when the failure offset is unknown, then nothing is claimed', () => {
    assert.equal(readRequestHead(Buffer.from('GET /a HTTP/1.1\r\n\r\nGARBAGE /b HTTP/9.9\r\n\r\n'), Number.NaN).method, null)
  })
})

describe('answerClientError', () => {
  const silent = pino({ level: 'silent' })

  test('when the client reset the connection, then nothing is written', () => {
    const socket = new PassThrough()

    answerClientError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket, silent)

    assert.equal(socket.read(), null)
    assert.ok(!socket.writableEnded)
  })

  test('when the connection can no longer be written, then nothing is attempted', () => {
    const socket = new PassThrough()
    socket.end()

    assert.doesNotThrow(() => {
      answerClientError(Object.assign(new Error('parse'), { code: 'HPE_INVALID_METHOD' }), socket, silent)
    })
  })

  test('when an error carries no code, then it is answered as a plain 400 without a request line', () => {
    const socket = new PassThrough({ allowHalfOpen: true })

    answerClientError(new Error('odd'), socket, silent)

    const written = String(socket.read())
    assert.match(written, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.match(written, /"instance":null,"method":null,"uri":null/)
  })

  test('when a connection fails to parse twice, then it is answered once', () => {
    const socket = new PassThrough({ allowHalfOpen: true })
    const error = Object.assign(new Error('parse'), { code: 'HPE_INVALID_METHOD', rawPacket: Buffer.from('GARBAGE / HTTP/1.1\r\n\r\n'), bytesParsed: 1 })

    answerClientError(error, socket, silent)
    answerClientError(error, socket, silent)

    const written = String(socket.read())
    assert.equal(written.match(/^HTTP\/1\.1 /gm)?.length, 1)
    assert.match(written, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.match(written, /"method":"GARBAGE"/)
  })
})
