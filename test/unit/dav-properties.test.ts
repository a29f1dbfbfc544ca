import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Principal } from '../../src/domain/principal.js'
import { propertyResponse } from '../../src/http/dav/propfind.js'
import { propertyNames, stampResponder } from '../../src/http/dav/properties.js'
import { CALENDARSERVER, DAV } from '../../src/http/dav/xml.js'

const WRITER: Principal = { owner: 'maria', scopes: ['write'], method: 'api-key' }
const READER: Principal = { owner: 'maria', scopes: ['read'], method: 'api-key' }
const STAMP = { name: 'a b&c.vcf', version: 7, updatedAt: '2026-12-07T04:00:00.000Z' }

describe('stampResponder', () => {
  const requests = {
    'getetag and getcontenttype': [
      { ns: DAV, name: 'getetag' },
      { ns: DAV, name: 'getcontenttype' },
    ],
    'unknown properties beside known ones': [
      { ns: DAV, name: 'getlastmodified' },
      { ns: 'urn:x-test', name: 'color' },
      { ns: CALENDARSERVER, name: 'getctag' },
      { ns: DAV, name: 'current-user-privilege-set' },
    ],
    'only unknown properties': [{ ns: 'urn:x-test', name: 'color' }],
    'every property (allprop)': propertyNames('card'),
  }
  for (const [what, names] of Object.entries(requests)) {
    for (const principal of [WRITER, READER]) {
      test(`when a listing asks for ${what} (${principal.scopes.join()}), then each response says what the general one does`, () => {
        const general = propertyResponse({ resource: { kind: 'card', owner: 'maria', name: STAMP.name }, principal, stamp: STAMP }, { kind: 'prop', names })

        const fast = stampResponder(principal, 'maria', names)(STAMP)

        assert.ok(propertiesOf(general).length >= names.length, general)
        assert.deepEqual(propertiesOf(fast), propertiesOf(general))
        assert.equal(hrefOf(fast), hrefOf(general))
      })
    }
  }
})

/** Each propstat's status and its properties, sorted: what a response says, whatever the order. */
function propertiesOf(response: string): string[] {
  return [...response.matchAll(/<d:propstat><d:prop>([\s\S]*?)<\/d:prop><d:status>([^<]*)<\/d:status><\/d:propstat>/g)]
    .flatMap(([, props = '', status = '']) => [...props.matchAll(/<([a-z]+:[a-zA-Z-]+)(?: xmlns:x="[^"]*")?(?:\/>|>[\s\S]*?<\/\1>)/g)].map(([prop]) => `${status} ${prop}`))
    .sort()
}

function hrefOf(response: string): string | undefined {
  return /<d:href>([^<]*)<\/d:href>/.exec(response)?.[1]
}
