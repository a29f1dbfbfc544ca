import type { FastifySchemaCompiler } from 'fastify'
import type Type from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

/**
 * Compiles each route schema with TypeBox. Params, query strings and headers arrive as strings;
 * TypeBox's own compiler for Fastify converts them (a limit of "100" to 100) on every request,
 * walking the whole headers object each time. Here a value is converted only when it does not
 * pass as it is, which for headers and params is never, and for a query only when it has numbers
 * or booleans.
 */
export const validatorCompiler: FastifySchemaCompiler<Type.TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema)
  return (value: unknown) => {
    if (check.Check(value)) return { value }
    if (httpPart === 'body') return { error: check.Errors(value) as never }
    const converted = Value.Convert(schema, value)
    return check.Check(converted) ? { value: converted } : { error: check.Errors(converted) as never }
  }
}
