/**
 * The raw baseline of `npm run bench`: node:http and a Map, with the routes the scenarios use and
 * nothing else (no validation, no logging, no durability). What addrservice is measured against.
 * Seeds BENCH_SEED synthetic entries at start; listens on BENCH_PORT and prints "listening".
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { entryNumber, firstMatches } from './entries.js'

const entries = new Map<string, unknown>()
for (let index = 0; index < Number(process.env.BENCH_SEED ?? 0); index++) entries.set(randomUUID().replaceAll('-', ''), entryNumber(index))

function readBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
    request.on('error', reject)
  })
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost')
  const id = url.pathname.startsWith('/addresses/') ? url.pathname.slice('/addresses/'.length) : undefined
  if (url.pathname === '/readyz') {
    json(response, 200, { status: 'ready' })
  } else if (url.pathname === '/addresses' && request.method === 'GET') {
    json(response, 200, firstMatches(entries, Number(url.searchParams.get('limit') ?? 100), url.searchParams.get('q')?.toLowerCase()))
  } else if (url.pathname === '/addresses' && request.method === 'POST') {
    const newId = randomUUID().replaceAll('-', '')
    entries.set(newId, await readBody(request))
    response.writeHead(201, { location: `/addresses/${newId}`, 'content-length': 0 })
    response.end()
  } else if (id !== undefined && request.method === 'GET') {
    const entry = entries.get(id)
    if (entry === undefined) json(response, 404, { message: 'not found' })
    else json(response, 200, entry)
  } else if (id !== undefined && request.method === 'PUT' && entries.has(id)) {
    entries.set(id, await readBody(request))
    response.writeHead(204)
    response.end()
  } else {
    json(response, 404, { message: 'not found' })
  }
}

const server = createServer((request, response) => {
  handle(request, response).catch(() => {
    json(response, 400, { message: 'bad request' })
  })
})
server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write('listening\n')
})
