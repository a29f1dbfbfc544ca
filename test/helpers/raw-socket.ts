import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import type { App } from '../../src/http/app.js'

/** Listens on a free loopback port and returns it; the app's close (from buildTestApp) stops it. */
export async function listenOnLoopback(app: App): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  return address.port
}

export interface Exchange {
  /** Everything the server sent, byte for byte (latin1). */
  text: string
  /** Whether the server closed the connection before `waitMs` ran out. */
  closed: boolean
}

/**
 * Writes raw bytes to the server (each chunk `gapMs` after the previous one, until the server
 * closes) and reads until the server closes the connection or `waitMs` passes.
 */
export function exchange(port: number, chunks: readonly (string | Buffer)[], { gapMs = 0, waitMs = 5000 } = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let text = ''
    let closed = false
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
      void (async () => {
        for (const chunk of chunks) {
          if (closed || socket.destroyed) return
          socket.write(chunk)
          if (gapMs > 0) await delay(gapMs)
        }
      })()
    })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ text, closed: false })
    }, waitMs)
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
    socket.on('end', () => {
      closed = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ text, closed: true })
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

export interface ParsedResponse {
  status: number
  reason: string
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
}

/** Splits what a server sent into HTTP/1.1 responses, each framed by its Content-Length. */
export function parseResponses(text: string): ParsedResponse[] {
  const responses: ParsedResponse[] = []
  let rest = text
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n')
    assert.notEqual(headEnd, -1, `no end of headers in ${JSON.stringify(rest.slice(0, 200))}`)
    const [statusLine = '', ...fields] = rest.slice(0, headEnd).split('\r\n')
    const status = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(statusLine)
    assert.ok(status, `not a status line: ${JSON.stringify(statusLine)}`)
    const headers: Record<string, string> = {}
    for (const field of fields) {
      const colon = field.indexOf(':')
      headers[field.slice(0, colon).toLowerCase()] = field.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    const bodyStart = headEnd + 4
    responses.push({ status: Number(status[1]), reason: status[2] ?? '', headers, body: rest.slice(bodyStart, bodyStart + length) })
    rest = rest.slice(bodyStart + length)
  }
  return responses
}
