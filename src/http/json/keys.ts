import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { SCOPES } from '../../domain/principal.js'
import { MAX_LABEL_LENGTH, type DeviceKey, type DeviceKeys } from '../../service/device-keys.js'
import { principalOf } from '../edge/authentication.js'
import { bodyRequired } from './body-parsers.js'
import { refuseOtherMethods } from './other-methods.js'
import { Problems } from '../edge/problems.js'
import { emptyResponse, Headers, jsonResponse, problemResponses, withGuard, type Guard, type ProblemsByStatus, type Responses } from '../edge/responses.js'

/**
 * The caller's own API keys, one per device (GET, POST /keys; DELETE /keys/{id}): how a phone gets
 * the password its CardDAV account needs, also when the web app signs in with a JWT.
 */

const TAGS = ['keys']
const ID = ':id([0-9a-f]{16})'

const Timestamp = (description: string) => Type.String({ format: 'date-time', description })
const nullable = <T extends Type.TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description })

const DeviceKeySchema = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'the key id, as the key itself embeds it' }),
    label: nullable(Type.String(), 'what the key is for: "Maria\'s iPhone"'),
    scope: Type.Enum([...SCOPES], { description: 'read: look only; write: everything' }),
    created_at: Timestamp('when it was made'),
    last_used_at: nullable(Timestamp('when'), 'when it was last used (recorded at most once a minute), or null'),
    revoked_at: nullable(Timestamp('when'), 'when it was revoked, or null while it works'),
  },
  { additionalProperties: false, title: 'A device key' },
)

const KeyList = Type.Object({ keys: Type.Array(DeviceKeySchema) }, { additionalProperties: false })
const NewKey = Type.Object(
  { key: Type.String({ description: 'the key itself: the password of a CardDAV account, or a Bearer token; shown this once' }), ...DeviceKeySchema.properties },
  { additionalProperties: false, title: 'A new device key' },
)
const NewKeyRequest = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: MAX_LABEL_LENGTH, description: 'what the key is for' }),
    scope: Type.Optional(Type.Enum([...SCOPES], { description: 'write by default; never more than the credential of the request has' })),
  },
  { additionalProperties: false },
)
const KeyParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'the key id' }) })

const ANY_ROUTE: ProblemsByStatus = { 415: [Problems.unsupportedContentEncoding], 500: [Problems.internalError], 503: [Problems.storeUnavailable] }
const BODY: ProblemsByStatus = { 400: [Problems.invalidCompressedBody], 413: [Problems.payloadTooLarge] }

function wireOf({ id, label, scope, createdAt, lastUsedAt, revokedAt }: DeviceKey) {
  return { id, label, scope, created_at: createdAt, last_used_at: lastUsedAt, revoked_at: revokedAt }
}

export const keyRoutes: FastifyPluginCallbackTypebox<{ keys: DeviceKeys; guard: Guard }> = (app, { keys, guard }, done) => {
  const secured = guard.security ? { security: guard.security } : {}
  const responses = (own: Responses, ...problems: ProblemsByStatus[]) => withGuard(guard, { ...own, ...problemResponses(ANY_ROUTE, ...problems) })

  app.get('/keys', {
    schema: {
      operationId: 'listKeys',
      summary: "The caller's own keys",
      description: 'Every key of the owner the request acts for, oldest first, revoked ones included; never a secret.',
      tags: TAGS,
      ...secured,
      response: responses({
        200: jsonResponse("The owner's keys", KeyList, { ETag: Headers.bodyEtag }),
        304: emptyResponse('Unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag }),
      }),
    },
  }, async (request) => ({ keys: (await keys.list(principalOf(request))).map(wireOf) }))

  app.post('/keys', {
    preValidation: bodyRequired('{"label": "…"} as JSON'),
    schema: {
      operationId: 'createKey',
      summary: 'A new key for a device',
      description: 'Makes a key for the owner the request acts for, with a label and a scope no greater than its own credential has. The key is in the answer, and only there.',
      tags: TAGS,
      body: NewKeyRequest,
      ...secured,
      response: responses(
        { 201: jsonResponse('The new key, shown this once', NewKey, { Location: Type.String({ pattern: '^/keys/[0-9a-f]{16}$', description: 'where the key is revoked' }), 'Cache-Control': Type.String({ description: 'no-store: the answer holds a secret' }) }) },
        BODY,
        { 400: [Problems.invalidJsonBody, Problems.invalidKeyRequest] },
      ),
    },
  }, async (request, reply) => {
    const { key, device } = await keys.create(principalOf(request), request.body)
    return reply.code(201).header('location', `/keys/${device.id}`).header('cache-control', 'no-store').send({ key, ...wireOf(device) })
  })

  app.delete(`/keys/${ID}`, {
    schema: {
      operationId: 'revokeKey',
      summary: 'Revokes one of the caller\'s keys',
      description: 'The key stops working on every instance within auth.key-cache-ms. Another owner\'s key is not found, like a missing one.',
      tags: TAGS,
      params: KeyParams,
      ...secured,
      response: responses({ 204: emptyResponse('Revoked (or it was already)') }, BODY, { 404: [Problems.keyNotFound] }),
    },
  }, async (request, reply) => {
    await keys.revoke(principalOf(request), request.params.id)
    return reply.code(204).send()
  })

  for (const [url, allowed] of [['/keys', ['GET', 'HEAD', 'POST', 'OPTIONS']], [`/keys/${ID}`, ['DELETE', 'OPTIONS']]] as const) {
    app.options(url, { schema: { hide: true } }, async (_request, reply) => reply.code(204).header('allow', allowed.join(', ')).send())
    refuseOtherMethods(app, url, allowed)
  }
  done()
}
