import type { FastifySchemaCompiler } from 'fastify'
import type Type from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

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
