import { HttpProblem, Problems } from '../edge/problems.js'
import { multiget } from './multiget.js'
import { addressbookQuery } from './query.js'
import { notFound, xmlBody, type DavContext } from './request.js'
import { syncCollection } from './sync-collection.js'
import { CARDDAV, DAV, is } from './xml.js'

/** REPORT (RFC 3253 §3.6): the reports an address book supports, each in a module of its own. */
export async function report(context: DavContext): Promise<void> {
  const body = xmlBody(context.request)
  if (!body) throw new HttpProblem(Problems.invalidXml, { detail: 'A REPORT needs a body that names the report.' })
  if (context.resource.kind !== 'book' && context.resource.kind !== 'card') throw notFound(context.resource)
  if (is(body, CARDDAV, 'addressbook-multiget')) return multiget(context, body)
  if (is(body, CARDDAV, 'addressbook-query')) return addressbookQuery(context, body)
  if (is(body, DAV, 'sync-collection')) return syncCollection(context, body)
  throw new HttpProblem(Problems.invalidXml, { detail: `The report {${body.ns}}${body.name} is not one this address book supports (supported-report-set lists them).` })
}
