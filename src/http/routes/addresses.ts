import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { AddressEntry } from '../../domain/address-entry.js'
import type { AddressBook } from '../../service/address-book-service.js'
import { principalOf } from '../authentication.js'
import { HttpProblem, Problems } from '../problems.js'

/** The original's id route pattern; anything else is an unknown endpoint, as it was there. */
const ID = ':id([a-zA-Z0-9-]+)'
const COLLECTION = '/addresses'
const ITEM = `/addresses/${ID}`

const IdParams = Type.Object({ id: Type.String() })
const AddressBook = Type.Record(Type.String({ pattern: '^[a-zA-Z0-9-]+$' }), AddressEntry, {
  description: 'Every entry, keyed by id',
})

/** The methods each path answers; every other method gets 405 with this list in Allow. */
const ALLOWED = {
  [COLLECTION]: ['GET', 'HEAD', 'POST', 'OPTIONS'],
  [ITEM]: ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'],
} as const

/** A POST or PUT without a body has no JSON to read: the same answer as unparseable JSON. */
function requireBody(request: { body: unknown }, _reply: unknown, done: (error?: Error) => void): void {
  done(
    request.body === undefined
      ? new HttpProblem(Problems.invalidJsonBody, { detail: 'The request has no body; send an address entry as JSON.' })
      : undefined,
  )
}

/** The address routes; every one acts on the caller's own book, as the authentication hooks of their scope decided. */
export const addressRoutes: FastifyPluginCallbackTypebox<{ service: AddressBook }> = (app, { service }, done) => {
  app.get(COLLECTION, { schema: { response: { 200: AddressBook } } }, async (request) => service.list(principalOf(request)))

  app.get(ITEM, { schema: { params: IdParams, response: { 200: AddressEntry } } }, async (request) =>
    service.get(principalOf(request), request.params.id),
  )

  app.post(COLLECTION, { preValidation: requireBody, schema: { body: AddressEntry } }, async (request, reply) => {
    const id = await service.create(principalOf(request), request.body)
    return reply.code(201).header('location', `${COLLECTION}/${id}`).send()
  })

  app.put(ITEM, { preValidation: requireBody, schema: { params: IdParams, body: AddressEntry } }, async (request, reply) => {
    await service.update(principalOf(request), request.params.id, request.body)
    return reply.code(204).send()
  })

  app.delete(ITEM, { schema: { params: IdParams } }, async (request, reply) => {
    await service.delete(principalOf(request), request.params.id)
    return reply.code(204).send()
  })

  for (const [url, allowed] of Object.entries(ALLOWED)) {
    const allow = allowed.join(', ')
    app.options(url, async (_request, reply) => reply.code(204).header('allow', allow).send())
    const others = app.supportedMethods.filter((method) => !(allowed as readonly string[]).includes(method))
    app.route({
      method: others,
      url,
      handler: () => {
        throw new HttpProblem(Problems.methodNotAllowed, { headers: { allow } })
      },
    })
  }
  done()
}
