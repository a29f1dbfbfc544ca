import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * Links a page to the next one (RFC 8288, `Link: <…>; rel="next"`) while more remain: this
 * request's URL, with the next cursor in place of its own, so that its other parameters hold.
 */
export function linkNextPage(request: FastifyRequest, reply: FastifyReply, cursor: string | undefined): void {
  if (cursor === undefined) return
  const [path = '/', query = ''] = request.url.split('?', 2)
  const parameters = new URLSearchParams(query)
  parameters.set('cursor', cursor)
  reply.header('link', `<${path}?${parameters.toString()}>; rel="next"`)
}
