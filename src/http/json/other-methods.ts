import type { FastifyInstance } from 'fastify'
import { HttpProblem, Problems } from '../edge/problems.js'

/**
 * Every method a path does not answer gets 405 with the methods it does in Allow, rather than a
 * 404 for a path that exists. Hidden from the OpenAPI document, which has no words for "any
 * other method".
 */
export function refuseOtherMethods(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const allow = allowed.join(', ')
  app.route({
    method: app.supportedMethods.filter((method) => !allowed.includes(method)),
    url,
    schema: { hide: true },
    handler: () => {
      throw new HttpProblem(Problems.methodNotAllowed, { headers: { allow } })
    },
  })
}
