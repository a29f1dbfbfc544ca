import { request } from 'node:http'
import type { SimpleResponse } from './original-sequence.js'

export interface RawRequest {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Fails the request when no full response arrives within this many milliseconds. */
  timeoutMs?: number
}

export interface RawResponse extends Omit<SimpleResponse, 'body'> {
  raw: Buffer
  body: string
}

/** One request over a real socket; the body comes back exactly as sent (not decompressed). */
export function httpRequest(baseUrl: string, { method, path, headers = {}, body, timeoutMs }: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const raw = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: res.headers, raw, body: raw.toString() })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (timeoutMs !== undefined) {
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${String(timeoutMs)} ms`)))
    }
    req.end(body)
  })
}
