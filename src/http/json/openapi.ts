import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import type { Authenticator } from '../../auth/authenticator.js'
import { AddressEntry, AddressEntryPatch, EmailAddress, PhoneNumber, PostalAddress } from '../../domain/address-entry.js'
import { securitySchemes } from '../edge/authentication.js'
import { ProblemDetails } from '../edge/problems.js'
import { emptyResponse, Headers, jsonResponse } from '../edge/responses.js'

export interface ApiDocsOptions {
  /** Also serve the interactive docs at /docs. */
  readonly ui: boolean
  /** The service's version, the document's info.version. */
  readonly version: string
  /** How callers authenticate; none when authentication is off. */
  readonly authenticator?: Authenticator | undefined
}

export const OPENAPI_PATH = '/openapi.json'
export const DOCS_PREFIX = '/docs'

/**
 * The docs pages load the UI's own scripts, styles and images from this server and nothing
 * else: no inline script, no other origin, no frames, no forms. The one style element the UI's
 * bundle inserts is allowed by its hash, not by 'unsafe-inline' (Chromium names the hash of a
 * refused one in its console, should an upgrade of Swagger UI change it).
 */
const SWAGGER_UI_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' ${SWAGGER_UI_STYLE}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const DESCRIPTION = `An address book per owner: entries with versions and conditional writes, partial updates,
pages, filters and search.

Every response carries X-Request-ID (the request's, when it sent a valid one). HEAD answers wherever
GET does. Every error is a problem details body (application/problem+json) whose \`type\` names a
stable problem type. Paths also answer with a trailing slash, and a method a path does not support
answers 405 with Allow.`

/**
 * Collects every route's schema into an OpenAPI 3.1 document. Register it before any route, so
 * that it sees them all; `addApiDocsRoutes` then serves what it collected.
 */
export function addOpenApi(app: FastifyInstance, { version, authenticator }: Omit<ApiDocsOptions, 'ui'>): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'addrservice', version, description: DESCRIPTION, license: { name: 'MIT', identifier: 'MIT' } },
      tags: [
        { name: 'addresses', description: "The caller's address book" },
        { name: 'health', description: 'Probes for load balancers and orchestrators; no credentials' },
        { name: 'meta', description: 'This description of the API' },
      ],
      components: { securitySchemes: authenticator ? securitySchemes(authenticator) : {} },
    },
    exposeHeadRoutes: true,
    transformObject: (documentObject) => {
      const { openapiObject } = documentObject as { openapiObject: OpenApiObject }
      return withSharedSchemas(openapiObject, SHARED_SCHEMAS) as { openapi: string }
    },
  })
}

/** Schemas many operations share, named in components.schemas; the nested before those that contain them. */
const SHARED_SCHEMAS: readonly (readonly [string, object])[] = [
  ['PostalAddress', PostalAddress],
  ['PhoneNumber', PhoneNumber],
  ['EmailAddress', EmailAddress],
  ['AddressEntry', AddressEntry],
  ['AddressEntryPatch', AddressEntryPatch],
  ['ProblemDetails', ProblemDetails],
]

interface OpenApiObject {
  components?: { schemas?: Record<string, unknown> }
  [member: string]: unknown
}

/**
 * Routes declare their schemas inline (the validator and serializer need them whole), so the
 * document would repeat each one wherever it is used. This names the shared ones once in
 * components.schemas and refers to them everywhere else.
 */
function withSharedSchemas(document: OpenApiObject, shared: readonly (readonly [string, object])[]): OpenApiObject {
  const named = new Map<string, string>()
  const refer = (node: unknown): unknown => {
    if (typeof node !== 'object' || node === null) return node
    // Inside out, so that a schema is recognised once the schemas within it have been named.
    const inner = Array.isArray(node) ? node.map(refer) : Object.fromEntries(Object.entries(node).map(([key, value]) => [key, refer(value)]))
    const name = named.get(JSON.stringify(inner))
    return name === undefined ? inner : { $ref: `#/components/schemas/${name}` }
  }
  const schemas: Record<string, unknown> = {}
  for (const [name, schema] of shared) {
    const plain = refer(JSON.parse(JSON.stringify(schema)) as unknown)
    schemas[name] = plain
    named.set(JSON.stringify(plain), name)
  }
  const referring = refer(document) as OpenApiObject
  return { ...referring, components: { ...referring.components, schemas: { ...referring.components?.schemas, ...schemas } } }
}

/** GET /openapi.json, and the interactive docs at /docs when asked for. */
export async function addApiDocsRoutes(app: FastifyInstance, { ui }: Pick<ApiDocsOptions, 'ui'>): Promise<void> {
  let document: string | undefined
  const schema = {
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    tags: ['meta'],
    response: {
      200: jsonResponse('The OpenAPI 3.1 document of this server', Type.Object({ openapi: Type.String() }, { additionalProperties: true }), { ETag: Headers.bodyEtag }),
      304: emptyResponse('The document is unchanged since the entity tag sent in If-None-Match', { ETag: Headers.bodyEtag }),
    },
  }
  app.get(OPENAPI_PATH, { schema }, (_request, reply) => {
    // The routes are all known once the server is ready, and never change after.
    document ??= JSON.stringify(app.swagger())
    return reply.type('application/json; charset=utf-8').send(document)
  })
  if (ui) {
    await app.register(swaggerUi, {
      routePrefix: DOCS_PREFIX,
      staticCSP: DOCS_CSP,
      uiConfig: { deepLinking: true, displayRequestDuration: true, tryItOutEnabled: false },
      theme: { title: 'addrservice API' },
    })
  }
}
