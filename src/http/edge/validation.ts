import { createRequire } from 'node:module'
import type FastJsonStringifyCompiler from '@fastify/fast-json-stringify-compiler'
import type { Serializer, SerializerCompiler, SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import type { FastifySchemaCompiler } from 'fastify'
import type Type from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

const require = createRequire(import.meta.url)

/** Checks nothing: for the parts whose schemas only describe the API. */
const describedOnly = () => true

/**
 * Compiles the query string and header schemas of each route with TypeBox. Bodies are not checked
 * here: the service is the one gate for entries, and their schemas describe the API only. Nor are
 * path parameters: the router's own pattern and parameter length already hold an id to its schema.
 * Query strings and headers arrive as strings; TypeBox's own compiler for Fastify converts them (a
 * limit of "100" to 100) on every request, walking the whole headers object each time. Here a
 * value is converted only when it does not pass as it is, which for headers is never, and for a
 * query only when it has numbers or booleans.
 */
export const validatorCompiler: FastifySchemaCompiler<Type.TSchema> = ({ schema, httpPart }) => {
  if (httpPart === 'body' || httpPart === 'params') return describedOnly
  const check = Compile(schema)
  return (value: unknown) => {
    if (check.Check(value)) return { value }
    const converted = Value.Convert(schema, value)
    return check.Check(converted) ? { value: converted } : { error: check.Errors(converted) as never }
  }
}

/**
 * The serializers of the response schemas, compiled when a route first answers with that status
 * rather than when it is registered. Compiling them all (fast-json-stringify builds a function per
 * schema, with Ajv for the unions) was a third of the time to start; most routes answer few of
 * their statuses in a process's life. The compiler module itself (and Ajv with it) loads at the
 * first answer that needs it. What each serializer writes is exactly what Fastify's own would.
 */
export const lazySerializers: SerializerFactory = (externalSchemas, options) => {
  let compile: SerializerCompiler | undefined
  return (route) => {
    let serialize: Serializer | undefined
    return (value: unknown) => {
      if (!serialize) {
        compile ??= (require('@fastify/fast-json-stringify-compiler') as typeof FastJsonStringifyCompiler).SerializerSelector()(externalSchemas, options)
        serialize = compile(route)
      }
      return serialize(value)
    }
  }
}
