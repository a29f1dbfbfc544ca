/**
 * The second reference of `npm run bench`: Fastify 5 with the routes the scenarios use over a Map,
 * and nothing else (no plugins, hooks, schemas or logging). Between it and the raw node:http
 * baseline lies what the framework costs; between it and addrservice, what addrservice adds.
 * Seeds BENCH_SEED synthetic entries at start; listens on BENCH_PORT and prints "listening".
 */
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { entryNumber, firstMatches } from './entries.js'

const entries = new Map<string, unknown>()
for (let index = 0; index < Number(process.env.BENCH_SEED ?? 0); index++) entries.set(randomUUID().replaceAll('-', ''), entryNumber(index))

const app = Fastify({ logger: false })
app.get('/readyz', () => ({ status: 'ready' }))
app.get<{ Querystring: { limit?: string; q?: string } }>('/addresses', (request) => firstMatches(entries, Number(request.query.limit ?? 100), request.query.q?.toLowerCase()))
app.post('/addresses', (request, reply) => {
  const id = randomUUID().replaceAll('-', '')
  entries.set(id, request.body)
  return reply.code(201).header('location', `/addresses/${id}`).send()
})
app.get<{ Params: { id: string } }>('/addresses/:id', (request, reply) => {
  const entry = entries.get(request.params.id)
  return entry === undefined ? reply.code(404).send({ message: 'not found' }) : entry
})
app.put<{ Params: { id: string } }>('/addresses/:id', (request, reply) => {
  if (!entries.has(request.params.id)) return reply.code(404).send({ message: 'not found' })
  entries.set(request.params.id, request.body)
  return reply.code(204).send()
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT ?? 0) })
process.stdout.write('listening\n')
