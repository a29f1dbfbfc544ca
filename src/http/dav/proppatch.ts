import { propertiesResponse, type Property } from './multistatus.js'
import { sendMultistatus, wrongBody, xmlBody, type DavContext } from './request.js'
import { hrefOf } from './resources.js'
import { DAV, is } from './xml.js'

/**
 * PROPPATCH (RFC 4918 §9.2): every property here is computed from the book, so each one set or
 * removed is refused as protected (403), in a multistatus that names it; the request changes
 * nothing, as one refused property requires.
 */
export async function proppatch({ request, reply, resource }: DavContext): Promise<void> {
  const body = xmlBody(request)
  if (!body || !is(body, DAV, 'propertyupdate')) throw wrongBody('a DAV:propertyupdate element')
  const named: Property[] = []
  for (const instruction of body.children) {
    if (!is(instruction, DAV, 'set') && !is(instruction, DAV, 'remove')) continue
    for (const prop of instruction.children.filter((element) => is(element, DAV, 'prop'))) {
      for (const { ns, name } of prop.children) named.push({ ns, name })
    }
  }
  await sendMultistatus(reply, [propertiesResponse(hrefOf(resource), new Map([[403, named]]))])
}
