import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import type { LightMyRequestResponse } from 'fastify'
import { Registry } from 'prom-client'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator } from '../../src/auth/authenticator.js'
import type { App } from '../../src/http/app.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { buildTestApp } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { aPhoneJpeg, aPng } from '../helpers/images.js'
import { capturingLogger } from '../helpers/logger.js'

const BOOK = '/dav/addressbooks/default/contacts/'
const XML = { 'content-type': 'application/xml; charset=utf-8' }
const VCARD = { 'content-type': 'text/vcard; charset=utf-8' }
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** A vCard 3.0 of the given lines, CRLF as phones write it. */
function card(...lines: string[]): string {
  return ['BEGIN:VCARD', 'VERSION:3.0', ...lines, 'END:VCARD', ''].join('\r\n')
}

function propfind(...props: string[]): string {
  return `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/"><d:prop>${props.join('')}</d:prop></d:propfind>`
}

/** Each response of a multistatus: its href, and the text of the response. */
function responsesOf(body: string): { href: string; text: string }[] {
  return [...body.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)].map(([, text = '']) => ({ href: /<d:href>([^<]*)<\/d:href>/.exec(text)?.[1] ?? '', text }))
}

function syncTokenOf(body: string): string {
  const token = /<d:sync-token>([^<]*)<\/d:sync-token>/.exec(body)?.[1]
  assert.ok(token, body)
  return token
}

async function put(app: App, name: string, text: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'PUT', url: `${BOOK}${name}`, headers: { ...VCARD, ...headers }, payload: text })
}

async function syncCollection(app: App, token: string, props = '<d:getetag/>', extra = ''): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'REPORT',
    url: BOOK,
    headers: XML,
    payload: `<d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level>${extra}<d:prop>${props}</d:prop></d:sync-collection>`,
  })
}

describe('CardDAV discovery', () => {
  test('when a client asks /.well-known/carddav, then it is sent to the DAV root', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'PROPFIND', url: '/.well-known/carddav' })

    assert.equal(response.statusCode, 301)
    assert.equal(response.headers.location, '/dav/')
  })

  for (const url of ['/', '/dav/']) {
    test(`when PROPFIND asks ${url} for current-user-principal, then it names the caller's principal`, async (t) => {
      const response = await buildTestApp(t).inject({ method: 'PROPFIND', url, headers: { ...XML, depth: '0' }, payload: propfind('<d:current-user-principal/>') })

      assert.equal(response.statusCode, 207)
      assert.match(response.body, /<d:current-user-principal><d:href>\/dav\/principals\/default\/<\/d:href><\/d:current-user-principal>/)
    })
  }

  test('when the principal is asked, then it names its home, its URL and its display name', async (t) => {
    const response = await buildTestApp(t).inject({
      method: 'PROPFIND',
      url: '/dav/principals/default/',
      headers: { ...XML, depth: '0' },
      payload: propfind('<c:addressbook-home-set/>', '<d:principal-URL/>', '<d:displayname/>'),
    })

    assert.match(response.body, /<card:addressbook-home-set><d:href>\/dav\/addressbooks\/default\/<\/d:href>/)
    assert.match(response.body, /<d:principal-URL><d:href>\/dav\/principals\/default\/<\/d:href>/)
    assert.match(response.body, /<d:displayname>default<\/d:displayname>/)
  })

  test('when the home is listed at Depth 1, then the address book is in it, as an address book', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'PROPFIND', url: '/dav/addressbooks/default/', headers: { ...XML, depth: '1' }, payload: propfind('<d:resourcetype/>') })

    const book = responsesOf(response.body).find(({ href }) => href === BOOK)
    assert.ok(book, response.body)
    assert.match(book.text, /<d:resourcetype><d:collection\/><card:addressbook\/><\/d:resourcetype>/)
  })

  test('when the principal collection is listed at Depth 1, then only the caller\'s own principal is in it', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'PROPFIND', url: '/dav/principals/', headers: { ...XML, depth: '1' }, payload: propfind('<d:resourcetype/>') })

    assert.equal(response.statusCode, 207)
    assert.deepEqual(responsesOf(response.body).map(({ href }) => href), ['/dav/principals/', '/dav/principals/default/'])
  })

  test('when OPTIONS is asked of the book, then Allow lists what a collection answers, and MKCOL, which makes only what is not there, is not among them', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'OPTIONS', url: BOOK })

    assert.equal(response.headers.dav, '1, 3, addressbook')
    assert.equal(response.headers.allow, 'OPTIONS, PROPFIND, PROPPATCH, REPORT')
  })

  test('when OPTIONS is asked of a card, then DAV names addressbook and Allow the methods of a card', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'OPTIONS', url: `${BOOK}x.vcf` })

    assert.equal(response.statusCode, 200)
    assert.equal(response.headers.dav, '1, 3, addressbook')
    assert.match(String(response.headers.allow), /PUT/)
  })
})

describe('the address book collection', () => {
  test('when its properties are asked, then each is answered, and an unknown one is a 404 row of the same multistatus', async (t) => {
    const response = await buildTestApp(t).inject({
      method: 'PROPFIND',
      url: BOOK,
      headers: { ...XML, depth: '0' },
      payload: propfind('<cs:getctag/>', '<d:sync-token/>', '<c:supported-address-data/>', '<c:max-resource-size/>', '<d:supported-report-set/>', '<x:color xmlns:x="urn:x-test"/>'),
    })

    assert.equal(response.statusCode, 207)
    assert.match(response.body, /<cs:getctag>[^<]+<\/cs:getctag>/)
    assert.match(response.body, /<d:sync-token>urn:x-addrservice:sync:[^<]+<\/d:sync-token>/)
    assert.match(response.body, /version="3.0"/)
    assert.doesNotMatch(response.body, /version="4.0"/, '4.0 is not advertised')
    assert.match(response.body, /<card:addressbook-multiget\/>/)
    assert.match(response.body, /<d:sync-collection\/>/)
    assert.match(response.body, /<d:propstat><d:prop><x:color xmlns:x="urn:x-test"\/><\/d:prop><d:status>HTTP\/1.1 404 Not Found<\/d:status>/)
  })

  test('when a card is stored, then getctag and sync-token change, and not otherwise', async (t) => {
    const app = buildTestApp(t)
    const ctag = async () => /<cs:getctag>([^<]+)</.exec((await app.inject({ method: 'PROPFIND', url: BOOK, headers: { ...XML, depth: '0' }, payload: propfind('<cs:getctag/>') })).body)?.[1]
    const before = await ctag()

    assert.equal(await ctag(), before)
    await put(app, 'a.vcf', card('FN:Ada'))
    assert.notEqual(await ctag(), before)
  })

  test('when PROPFIND asks for Depth infinity, then 403 propfind-finite-depth', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'PROPFIND', url: BOOK, headers: { ...XML, depth: 'infinity' }, payload: propfind('<d:getetag/>') })

    assert.equal(response.statusCode, 403)
    assert.match(response.body, /<d:propfind-finite-depth\/>/)
  })

  test('when MKCOL makes a new collection, then 403 and nothing is made', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'MKCOL', url: `${BOOK}new/` })

    assert.ok(response.statusCode === 403 || response.statusCode === 404, String(response.statusCode))
    assert.match(String(response.headers['content-type']), /application\/xml/)
  })

  test('when PROPPATCH sets the display name, then the property is refused in a multistatus, and nothing changes', async (t) => {
    const app = buildTestApp(t)
    const response = await app.inject({
      method: 'PROPPATCH',
      url: BOOK,
      headers: XML,
      payload: '<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Work</d:displayname></d:prop></d:set></d:propertyupdate>',
    })

    assert.equal(response.statusCode, 207)
    assert.match(response.body, /<d:displayname\/><\/d:prop><d:status>HTTP\/1.1 403 Forbidden/)
  })
})

describe('cards as resources', () => {
  test('when a client PUTs a card under its own name, then GET serves it as 3.0 with the entry version as ETag, and the JSON API lists the entry', async (t) => {
    const app = buildTestApp(t)
    const created = await put(app, 'ABC-phone.vcf', card('UID:9b1d2f00-1111-4222-8333-444455556666', 'FN:Maria Lopez', 'EMAIL;TYPE=HOME:maria@example.org'), { 'if-none-match': '*' })

    const served = await app.inject({ method: 'GET', url: `${BOOK}ABC-phone.vcf` })
    const entry = await app.inject({ method: 'GET', url: '/addresses/9b1d2f00-1111-4222-8333-444455556666' })

    assert.equal(created.statusCode, 201)
    assert.equal(served.statusCode, 200)
    assert.equal(served.headers.etag, '"1"')
    assert.match(served.body, /VERSION:3.0/)
    assert.match(served.body, /UID:9b1d2f00-1111-4222-8333-444455556666/)
    assert.equal(entry.statusCode, 200)
    assert.equal((JSON.parse(entry.body) as { full_name: string }).full_name, 'Maria Lopez')
  })

  test('when 4.0 is asked for with Accept, then the card is 4.0 with its own tag of the same version', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('FN:Ada'))

    const served = await app.inject({ method: 'GET', url: `${BOOK}a.vcf`, headers: { accept: 'text/vcard; version=4.0' } })

    assert.match(served.body, /VERSION:4.0/)
    assert.equal(served.headers.etag, '"1-vcard4"')
  })

  test('when an entry is edited through the JSON API, then the card ETag changes with it, and the phone photo and categories stay', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'p.vcf', card('UID:0a0a0a0a-1111-4222-8333-444455556666', 'FN:Ada', 'CATEGORIES:Family,Work', 'PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg==', 'X-CUSTOM:kept'))

    const patched = await app.inject({ method: 'PATCH', url: '/addresses/0a0a0a0a-1111-4222-8333-444455556666', headers: { 'content-type': 'application/merge-patch+json' }, payload: { full_name: 'Ada Lovelace' } })
    const served = await app.inject({ method: 'GET', url: `${BOOK}p.vcf` })

    assert.equal(patched.statusCode, 204, patched.body)
    assert.equal(served.headers.etag, '"2"')
    assert.match(served.body, /FN:Ada Lovelace/)
    assert.match(served.body, /CATEGORIES:Family,Work/)
    assert.match(served.body, /PHOTO;ENCODING=b;TYPE=JPEG:\/9j\/4AAQSkZJRg==/)
    assert.match(served.body, /X-CUSTOM:kept/)
  })

  test("when a card carries CATEGORIES, then they are the entry's labels, and a label changed in the JSON API is what the card's CATEGORIES say next", async (t) => {
    const app = buildTestApp(t)
    const id = '0a0a0a0a-1111-4222-8333-444455556667'
    await put(app, 'l.vcf', card(`UID:${id}`, 'FN:Ada', 'CATEGORIES:Family,Work'))

    const before = await app.inject({ method: 'GET', url: `/addresses/${id}` })
    const listed = await app.inject({ method: 'GET', url: '/addresses?label=family' })
    const patched = await app.inject({ method: 'PATCH', url: `/addresses/${id}`, headers: { 'content-type': 'application/merge-patch+json' }, payload: { labels: ['Work', 'Poets'] } })
    const served = await app.inject({ method: 'GET', url: `${BOOK}l.vcf` })

    assert.deepEqual((JSON.parse(before.body) as AddressEntry).labels, ['Family', 'Work'])
    assert.deepEqual(Object.keys(JSON.parse(listed.body) as object), [id])
    assert.equal(patched.statusCode, 204, patched.body)
    assert.match(served.body, /\r\nCATEGORIES:Work,Poets\r\n/)
    assert.equal(served.body.match(/CATEGORIES/g)?.length, 1)
  })

  test("when a phone puts a card with a photo, then it is the entry's photo, and what the web app does to the photo is what the card says next", async (t) => {
    const app = buildTestApp(t)
    const id = '0a0a0a0a-1111-4222-8333-444455556668'
    const original = await aPhoneJpeg(1200, 900)
    const sent = card(`UID:${id}`, 'FN:Ada', `PHOTO;ENCODING=b;TYPE=JPEG:${original.toString('base64')}`)
    const unfolded = (text: string) => text.replace(/\r\n[ \t]/g, '')

    const putting = await put(app, 'p.vcf', sent)
    const asSent = await app.inject({ method: 'GET', url: `${BOOK}p.vcf` })
    const stored = await app.inject({ method: 'GET', url: `/addresses/${id}/photo` })
    await app.inject({ method: 'PATCH', url: `/addresses/${id}`, headers: { 'content-type': 'application/merge-patch+json' }, payload: { full_name: 'Ada Lovelace' } })
    const afterEdit = unfolded((await app.inject({ method: 'GET', url: `${BOOK}p.vcf` })).body)
    await app.inject({ method: 'PUT', url: `/addresses/${id}/photo`, headers: { 'content-type': 'image/png' }, payload: await aPng() })
    const replaced = await app.inject({ method: 'GET', url: `/addresses/${id}/photo` })
    const afterReplace = unfolded((await app.inject({ method: 'GET', url: `${BOOK}p.vcf` })).body)
    await app.inject({ method: 'DELETE', url: `/addresses/${id}/photo` })
    const afterRemove = (await app.inject({ method: 'GET', url: `${BOOK}p.vcf` })).body

    assert.equal(putting.statusCode, 201)
    assert.equal(asSent.body, sent)
    assert.equal(stored.statusCode, 200)
    assert.ok(stored.rawPayload.length < original.length)
    assert.equal(afterEdit.match(/PHOTO/g)?.length, 1)
    assert.ok(afterEdit.includes(`PHOTO;ENCODING=b;TYPE=JPEG:${stored.rawPayload.toString('base64')}\r\n`))
    assert.equal(afterReplace.match(/PHOTO/g)?.length, 1)
    assert.ok(afterReplace.includes(`PHOTO;ENCODING=b;TYPE=JPEG:${replaced.rawPayload.toString('base64')}\r\n`))
    assert.doesNotMatch(afterRemove, /PHOTO/)
    assert.match(afterRemove, /FN:Ada Lovelace/)
  })

  test("when a card comes again without its photo, then the entry's photo goes; a photo the service cannot read stays in the card", async (t) => {
    const app = buildTestApp(t)
    const id = '0a0a0a0a-1111-4222-8333-444455556669'
    await put(app, 'q.vcf', card(`UID:${id}`, 'FN:Ada', `PHOTO;ENCODING=b;TYPE=PNG:${(await aPng()).toString('base64')}`))

    await put(app, 'q.vcf', card(`UID:${id}`, 'FN:Ada'))
    const without = await app.inject({ method: 'GET', url: `/addresses/${id}` })
    await put(app, 'q.vcf', card(`UID:${id}`, 'FN:Ada', 'PHOTO;ENCODING=b;TYPE=JPEG:bm90IGFuIGltYWdl'))
    await app.inject({ method: 'PATCH', url: `/addresses/${id}`, headers: { 'content-type': 'application/merge-patch+json' }, payload: { nickname: 'Ada' } })
    const served = (await app.inject({ method: 'GET', url: `${BOOK}q.vcf` })).body

    assert.equal('photo' in (JSON.parse(without.body) as object), false)
    assert.equal((await app.inject({ method: 'GET', url: `/addresses/${id}/photo` })).statusCode, 404)
    assert.match(served, /\r\nPHOTO;ENCODING=b;TYPE=JPEG:bm90IGFuIGltYWdl\r\n/)
    assert.match(served, /NICKNAME:Ada/)
  })

  test('when an entry was created through the JSON API, then its card is named after its id', async (t) => {
    const app = buildTestApp(t)
    const created = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry({ full_name: 'Grace Hopper' }) })
    const id = String(created.headers.location).slice('/addresses/'.length)

    const served = await app.inject({ method: 'GET', url: `${BOOK}${id}.vcf` })

    assert.equal(served.statusCode, 200)
    assert.match(served.body, /FN:Grace Hopper/)
  })

  test('when If-Match names an old version or If-None-Match: * meets an existing card, then 412 and the card stays', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('FN:Ada'))
    await put(app, 'a.vcf', card('FN:Ada 2'))

    const stale = await put(app, 'a.vcf', card('FN:Mallory'), { 'if-match': '"1-vcard3"' })
    const exists = await put(app, 'a.vcf', card('FN:Mallory'), { 'if-none-match': '*' })
    const fresh = await put(app, 'a.vcf', card('FN:Ada 3'), { 'if-match': '"2-vcard3"' })
    const deleteStale = await app.inject({ method: 'DELETE', url: `${BOOK}a.vcf`, headers: { 'if-match': '"2-vcard3"' } })

    assert.equal(stale.statusCode, 412)
    assert.equal(exists.statusCode, 412)
    assert.equal(fresh.statusCode, 204)
    assert.equal(deleteStale.statusCode, 412)
    assert.match((await app.inject({ method: 'GET', url: `${BOOK}a.vcf` })).body, /FN:Ada 3/)
  })

  test('when a second card comes with the UID of the first, then 409 no-uid-conflict naming the first, and nothing is stored', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'first.vcf', card('UID:11111111-2222-4333-8444-555566667777', 'FN:Ada'))

    const second = await put(app, 'second.vcf', card('UID:11111111-2222-4333-8444-555566667777', 'FN:Copy'))

    assert.equal(second.statusCode, 409)
    assert.match(second.body, /<card:no-uid-conflict><d:href>\/dav\/addressbooks\/default\/contacts\/first.vcf<\/d:href><\/card:no-uid-conflict>/)
    assert.equal((await app.inject({ method: 'GET', url: `${BOOK}second.vcf` })).statusCode, 404)
  })

  test('when a PUT is not a vCard, is broken, or holds two cards, then supported-address-data or valid-address-data, and nothing is stored', async (t) => {
    const app = buildTestApp(t)

    const notVCard = await app.inject({ method: 'PUT', url: `${BOOK}x.vcf`, headers: { 'content-type': 'application/json' }, payload: '{}' })
    const broken = await put(app, 'x.vcf', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\n')
    const two = await put(app, 'x.vcf', card('FN:Ada') + card('FN:Bob'))
    const noName = await put(app, 'x.vcf', card('EMAIL:ada@example.org'))

    assert.equal(notVCard.statusCode, 415)
    assert.match(notVCard.body, /<card:supported-address-data\/>/)
    for (const refused of [broken, two, noName]) {
      assert.equal(refused.statusCode, 400, refused.body)
      assert.match(refused.body, /<card:valid-address-data\/>/)
    }
    assert.equal((await app.inject({ method: 'GET', url: '/addresses' })).body, '{}')
  })

  test('when a card is over max-resource-size, then 413 max-resource-size', async (t) => {
    const app = buildTestApp(t)

    const response = await put(app, 'big.vcf', card('FN:Ada', `NOTE:${'x'.repeat(1_100_000)}`))

    assert.equal(response.statusCode, 413)
    assert.match(response.body, /<card:max-resource-size\/>/)
  })

  test('when a card is deleted, then GET answers 404 with a DAV error body', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('FN:Ada'))

    const deleted = await app.inject({ method: 'DELETE', url: `${BOOK}a.vcf` })
    const gone = await app.inject({ method: 'GET', url: `${BOOK}a.vcf` })

    assert.equal(deleted.statusCode, 204)
    assert.equal(gone.statusCode, 404)
    assert.match(String(gone.headers['content-type']), /application\/xml/)
    assert.match(gone.body, /<d:error/)
  })
})

describe('REPORTs', () => {
  test('when addressbook-multiget names a card and a missing href, then the card comes with its address-data and the other as a 404 row', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('FN:Ada'))

    const response = await app.inject({
      method: 'REPORT',
      url: BOOK,
      headers: { ...XML, depth: '1' },
      payload: `<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop><d:href>${BOOK}a.vcf</d:href><d:href>${BOOK}missing.vcf</d:href></c:addressbook-multiget>`,
    })

    const responses = responsesOf(response.body)
    assert.equal(response.statusCode, 207)
    assert.match(responses.find(({ href }) => href === `${BOOK}a.vcf`)?.text ?? '', /FN:Ada/)
    assert.match(responses.find(({ href }) => href === `${BOOK}missing.vcf`)?.text ?? '', /404 Not Found/)
  })

  test('when addressbook-query filters on EMAIL contains, negated FN and a limit, then only matching cards come, and 507 when the limit cuts them', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('FN:Ada', 'EMAIL:ada@example.org'))
    await put(app, 'b.vcf', card('FN:Bob', 'EMAIL:bob@example.org'))
    await put(app, 'c.vcf', card('FN:Cy', 'EMAIL:cy@other.net'))
    const query = (filter: string, limit = '') =>
      app.inject({
        method: 'REPORT',
        url: BOOK,
        headers: { ...XML, depth: '1' },
        payload: `<c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><c:filter test="allof">${filter}</c:filter>${limit}</c:addressbook-query>`,
      })

    const example = await query('<c:prop-filter name="EMAIL"><c:text-match match-type="ends-with">EXAMPLE.ORG</c:text-match></c:prop-filter>')
    const notAda = await query(
      '<c:prop-filter name="EMAIL"><c:text-match>example</c:text-match></c:prop-filter><c:prop-filter name="FN"><c:text-match negate-condition="yes" match-type="equals">ada</c:text-match></c:prop-filter>',
    )
    const limited = await query('<c:prop-filter name="FN"/>', '<c:limit><c:nresults>2</c:nresults></c:limit>')

    assert.deepEqual(responsesOf(example.body).map(({ href }) => href).sort(), [`${BOOK}a.vcf`, `${BOOK}b.vcf`])
    assert.deepEqual(responsesOf(notAda.body).map(({ href }) => href), [`${BOOK}b.vcf`])
    const rows = responsesOf(limited.body)
    assert.equal(rows.length, 3)
    assert.match(rows[2]?.text ?? '', /507/)
  })

  test('when addressbook-query tests text that the search index holds folded, then the index narrows what is read, and what it finds is exactly what each collation matches', async (t) => {
    const store = new MemoryStore()
    const searches: (string | undefined)[] = []
    const list = store.list.bind(store)
    store.list = (owner, query) => {
      searches.push(query.filter.q)
      return list(owner, query)
    }
    const app = buildTestApp(t, { store })
    await put(app, 'wide.vcf', card('FN:Ｍａｒｉａ \uFB01sher', 'EMAIL:maria@example.org'))
    await put(app, 'cafe.vcf', card('FN:Cafe\u0301 Owner', 'ORG:Cafe\u0301s', 'CATEGORIES:Coffee'))
    await put(app, 'zed.vcf', card('FN:Zed', 'EMAIL:cy@other.net', 'NICKNAME:Zee'))
    const found = async (filter: string, test = 'anyof') => {
      const response = await app.inject({
        method: 'REPORT',
        url: BOOK,
        headers: { ...XML, depth: '1' },
        payload: `<c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><c:filter test="${test}">${filter}</c:filter></c:addressbook-query>`,
      })
      assert.equal(response.statusCode, 207)
      return responsesOf(response.body).map(({ href }) => href.slice(BOOK.length)).sort()
    }
    const match = (name: string, text: string, attributes = '') => `<c:prop-filter name="${name}"><c:text-match ${attributes}>${text}</c:text-match></c:prop-filter>`

    assert.deepEqual(await found(match('FN', 'MARIA FISH')), ['wide.vcf'])
    assert.deepEqual(searches.splice(0), ['maria fish', 'maria fish'])
    assert.deepEqual(await found(match('FN', 'maria fish', 'collation="i;ascii-casemap"')), [])
    assert.deepEqual(searches.splice(0), [undefined, undefined])
    assert.deepEqual(await found(match('FN', 'cafe', 'collation="i;ascii-casemap" match-type="starts-with"')), ['cafe.vcf'])
    assert.deepEqual(await found(match('FN', 'Cafe', 'collation="i;octet"')), ['cafe.vcf'])
    assert.deepEqual(await found(match('FN', 'cafe')), [])
    assert.deepEqual(await found(match('FN', 'zed') + match('EMAIL', 'example')), ['wide.vcf', 'zed.vcf'])
    assert.deepEqual(await found(match('NICKNAME', 'zee') + match('EMAIL', 'other'), 'allof'), ['zed.vcf'])
    assert.deepEqual(searches.splice(0).slice(-2), ['other', 'other'])
    assert.deepEqual(await found(match('FN', 'fish', 'negate-condition="yes"')), ['cafe.vcf', 'zed.vcf'])
    assert.deepEqual(await found('<c:prop-filter name="FN"><c:text-match>zed</c:text-match><c:text-match>owner</c:text-match></c:prop-filter>'), ['cafe.vcf', 'zed.vcf'])
    assert.deepEqual(await found(match('CATEGORIES', 'coffee')), ['cafe.vcf'])
  })

  test('when sync-collection starts without a token, then every card comes; after changes, only those, and a deleted card once as a 404 row', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('FN:Ada'))
    await put(app, 'b.vcf', card('FN:Bob'))

    const initial = await syncCollection(app, '')
    await put(app, 'a.vcf', card('FN:Ada 2'))
    await app.inject({ method: 'DELETE', url: `${BOOK}b.vcf` })
    const next = await syncCollection(app, syncTokenOf(initial.body))
    const after = await syncCollection(app, syncTokenOf(next.body))

    assert.equal(initial.statusCode, 207)
    assert.deepEqual(responsesOf(initial.body).map(({ href }) => href).sort(), [`${BOOK}a.vcf`, `${BOOK}b.vcf`])
    const changed = responsesOf(next.body)
    assert.equal(changed.length, 2)
    assert.match(changed.find(({ href }) => href === `${BOOK}a.vcf`)?.text ?? '', /"2"/)
    assert.match(changed.find(({ href }) => href === `${BOOK}b.vcf`)?.text ?? '', /404 Not Found/)
    assert.deepEqual(responsesOf(after.body), [])
  })

  test('when a JSON API edit follows a sync, then the next sync-collection lists the card', async (t) => {
    const app = buildTestApp(t)
    const created = await app.inject({ method: 'POST', url: '/addresses', payload: anEntry({ full_name: 'Grace' }) })
    const id = String(created.headers.location).slice('/addresses/'.length)
    const initial = await syncCollection(app, '')

    await app.inject({ method: 'PATCH', url: `/addresses/${id}`, headers: { 'content-type': 'application/merge-patch+json' }, payload: { nickname: 'Amazing' } })
    const next = await syncCollection(app, syncTokenOf(initial.body), '<d:getetag/><c:address-data/>')

    assert.deepEqual(responsesOf(next.body).map(({ href }) => href), [`${BOOK}${id}.vcf`])
    assert.match(next.body, /NICKNAME:Amazing/)
  })

  test('when a client limit cuts a sync short, then 507 on the book and a token that continues where it stopped', async (t) => {
    const app = buildTestApp(t)
    for (const name of ['a', 'b', 'c']) await put(app, `${name}.vcf`, card(`FN:${name}`))

    const first = await syncCollection(app, '', '<d:getetag/>', '<d:limit><d:nresults>2</d:nresults></d:limit>')
    const rest = await syncCollection(app, syncTokenOf(first.body))

    const rows = responsesOf(first.body)
    assert.equal(rows.length, 3)
    assert.equal(rows[2]?.href, BOOK)
    assert.match(rows[2].text, /507 Insufficient Storage/)
    assert.deepEqual(responsesOf(rest.body).map(({ href }) => href), [`${BOOK}c.vcf`])
  })

  test('when a sync token is not one of ours, then 403 valid-sync-token', async (t) => {
    const response = await syncCollection(buildTestApp(t), 'urn:x-addrservice:sync:garbage')

    assert.equal(response.statusCode, 403)
    assert.match(response.body, /<d:valid-sync-token\/>/)
  })
})

describe('hostile and wrong input', () => {
  test('when a body has a DOCTYPE (an entity bomb), then 400 at once and nothing is expanded', async (t) => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&lol2;</d:displayname></d:prop></d:propfind>`

    const response = await buildTestApp(t).inject({ method: 'PROPFIND', url: BOOK, headers: { ...XML, depth: '0' }, payload: bomb })

    assert.equal(response.statusCode, 400)
    assert.match(response.body, /DOCTYPE/)
  })

  test('when XML is malformed, then 400 with a DAV error body', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'PROPFIND', url: BOOK, headers: { ...XML, depth: '0' }, payload: '<d:propfind xmlns:d="DAV:"><d:prop>' })

    assert.equal(response.statusCode, 400)
    assert.match(response.body, /invalid-xml/)
  })

  test('when a DAV path gets a method DAV does not answer there, then 405 with Allow', async (t) => {
    const response = await buildTestApp(t).inject({ method: 'POST', url: BOOK, payload: 'x' })

    assert.equal(response.statusCode, 405)
    assert.match(String(response.headers.allow), /PROPFIND/)
  })
})

describe('who may do what', () => {
  async function world(t: TestContext) {
    const store = new MemoryStore()
    const keys = new ApiKeys(store)
    const alice = (await keys.create('alice', 'write', 'phone')).key
    const aliceReader = (await keys.create('alice', 'read', null)).key
    const bob = (await keys.create('bob', 'write', null)).key
    const app = buildTestApp(t, { store, authenticator: apiKeyAuthenticator(keys) })
    return { app, alice: basic('alice', alice), aliceReader: basic('alice', aliceReader), bob: basic('bob', bob) }
  }
  const ALICE_BOOK = '/dav/addressbooks/alice/contacts/'

  test('when no credentials come, then 401 with a Basic challenge and a DAV error body', async (t) => {
    const { app } = await world(t)

    const response = await app.inject({ method: 'PROPFIND', url: ALICE_BOOK, headers: { depth: '0' } })

    assert.equal(response.statusCode, 401)
    assert.match(String(response.headers['www-authenticate']), /Basic/)
    assert.match(response.body, /<d:error/)
  })

  test('when the credentials are wrong (a wrong key, or a right key under another user name), then 401 with a Basic challenge and nothing is stored', async (t) => {
    const { app, alice } = await world(t)
    const key = Buffer.from(alice.slice('Basic '.length), 'base64').toString().split(':')[1] ?? ''

    const wrongKey = await app.inject({ method: 'PUT', url: `${ALICE_BOOK}a.vcf`, headers: { ...VCARD, authorization: basic('alice', `${key.slice(0, -4)}AAAA`) }, payload: card('FN:Mallory') })
    const wrongUser = await app.inject({ method: 'PROPFIND', url: ALICE_BOOK, headers: { authorization: basic('bob', key), depth: '0' } })
    const after = await app.inject({ method: 'GET', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: alice } })

    for (const refused of [wrongKey, wrongUser]) {
      assert.equal(refused.statusCode, 401)
      assert.match(String(refused.headers['www-authenticate']), /Basic realm="addrservice"/)
      assert.match(refused.body, /<d:error/)
    }
    assert.equal(after.statusCode, 404)
  })

  test('when bob asks for alice book, principal or card, then each answers as a missing one does, and her card stays', async (t) => {
    const { app, alice, bob } = await world(t)
    await app.inject({ method: 'PUT', url: `${ALICE_BOOK}a.vcf`, headers: { ...VCARD, authorization: alice }, payload: card('FN:Ada') })

    const own = await app.inject({ method: 'GET', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: alice } })
    const card404 = await app.inject({ method: 'GET', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: bob } })
    const missing = await app.inject({ method: 'GET', url: '/dav/addressbooks/bob/contacts/a.vcf', headers: { authorization: bob } })
    const deleted = await app.inject({ method: 'DELETE', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: bob } })
    const book = await app.inject({ method: 'PROPFIND', url: ALICE_BOOK, headers: { authorization: bob, depth: '1' } })
    const principal = await app.inject({ method: 'PROPFIND', url: '/dav/principals/alice/', headers: { authorization: bob, depth: '0' } })

    assert.equal(own.statusCode, 200)
    assert.equal(card404.statusCode, 404)
    assert.equal(card404.body.replace(/request-id[^<]*<[^>]*>[^<]*/, ''), missing.body.replace(/request-id[^<]*<[^>]*>[^<]*/, '').replace('/bob/', '/alice/'))
    assert.equal(deleted.statusCode, 404)
    assert.equal(book.statusCode, 404)
    assert.equal(principal.statusCode, 404)
    assert.equal((await app.inject({ method: 'GET', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: alice } })).statusCode, 200)
  })

  test('when a read-only key reads and writes, then PROPFIND and REPORT pass, PUT and DELETE are 403, and privileges say read', async (t) => {
    const { app, alice, aliceReader } = await world(t)
    await app.inject({ method: 'PUT', url: `${ALICE_BOOK}a.vcf`, headers: { ...VCARD, authorization: alice }, payload: card('FN:Ada') })

    const read = await app.inject({ method: 'PROPFIND', url: ALICE_BOOK, headers: { ...XML, authorization: aliceReader, depth: '0' }, payload: propfind('<d:current-user-privilege-set/>') })
    const sync = await app.inject({
      method: 'REPORT',
      url: ALICE_BOOK,
      headers: { ...XML, authorization: aliceReader },
      payload: '<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:prop><d:getetag/></d:prop></d:sync-collection>',
    })
    const write = await app.inject({ method: 'PUT', url: `${ALICE_BOOK}a.vcf`, headers: { ...VCARD, authorization: aliceReader }, payload: card('FN:Mallory') })
    const remove = await app.inject({ method: 'DELETE', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: aliceReader } })

    assert.equal(read.statusCode, 207)
    assert.doesNotMatch(read.body, /<d:write\/>/)
    assert.equal(sync.statusCode, 207)
    assert.equal(write.statusCode, 403)
    assert.equal(remove.statusCode, 403)
    assert.match((await app.inject({ method: 'GET', url: `${ALICE_BOOK}a.vcf`, headers: { authorization: alice } })).body, /FN:Ada/)
  })
})

describe('what a phone sends', () => {
  test('when a card is PUT, then GET serves it byte for byte, the PUT answered with its ETag, and a card without UID keeps none', async (t) => {
    const app = buildTestApp(t)
    const sent = card('FN:No Uid', 'N:Uid;No;;;', 'X-ABShowAs:COMPANY', 'item1.X-ABLabel:_$!<Anniversary>!$_', 'item1.X-ABDATE:2001-01-01')

    const created = await put(app, 'hash-named.vcf', sent)
    const served = await app.inject({ method: 'GET', url: `${BOOK}hash-named.vcf` })

    assert.equal(created.headers.etag, '"1"')
    assert.equal(served.body, sent)
    assert.equal(served.headers.etag, '"1"')
  })

  test('when a card is edited through the JSON API and then served as 4.0, then the properties the entry has no place for are still there', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'p.vcf', card('UID:0b0b0b0b-1111-4222-8333-444455556666', 'FN:Ada', 'IMPP:xmpp:ada@example.org', 'RELATED;TYPE=friend:urn:uuid:1'))
    await app.inject({ method: 'PATCH', url: '/addresses/0b0b0b0b-1111-4222-8333-444455556666', headers: { 'content-type': 'application/merge-patch+json' }, payload: { job_title: 'Countess' } })

    const served = await app.inject({ method: 'GET', url: `${BOOK}p.vcf`, headers: { accept: 'text/vcard;version=4.0' } })

    assert.match(served.body, /VERSION:4.0/)
    assert.match(served.body, /TITLE:Countess/)
    assert.match(served.body, /IMPP:xmpp:ada@example.org/)
    assert.match(served.body, /RELATED;TYPE=friend:urn:uuid:1/)
  })
})

describe('names given again', () => {
  test('when a card is deleted and its name given to a new card, then a sync lists the name once, as the new card', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'a.vcf', card('UID:aaaaaaaa-1111-4222-8333-444455556666', 'FN:Old'))
    const initial = await syncCollection(app, '')

    await app.inject({ method: 'DELETE', url: `${BOOK}a.vcf` })
    await put(app, 'a.vcf', card('UID:bbbbbbbb-1111-4222-8333-444455556666', 'FN:New'))
    const next = await syncCollection(app, syncTokenOf(initial.body), '<d:getetag/><c:address-data/>')

    const rows = responsesOf(next.body)
    assert.equal(rows.length, 1)
    assert.match(rows[0]?.text ?? '', /FN:New/)
  })

  test('when a card holds a NUL character, then 400 valid-address-data and nothing is stored', async (t) => {
    const app = buildTestApp(t)

    const response = await put(app, 'nul.vcf', card('FN:Ada\u0000'))

    assert.equal(response.statusCode, 400)
    assert.match(response.body, /<card:valid-address-data\/>/)
    assert.equal((await app.inject({ method: 'GET', url: `${BOOK}nul.vcf` })).statusCode, 404)
  })
})

describe('cards that are not entries', () => {
  const GROUP = card('UID:0c0c0c0c-1111-4222-8333-444455556666', 'FN:Family', 'N:Family;;;;', 'X-ADDRESSBOOKSERVER-KIND:group', 'X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:0a0a0a0a-1111-4222-8333-444455556666')

  test('when Apple PUTs a group card, then it is served back as it came, listed and synced over DAV, and the JSON API never lists it', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'person.vcf', card('FN:Ada'))
    const initial = await syncCollection(app, '')

    const created = await put(app, 'family.vcf', GROUP)
    const served = await app.inject({ method: 'GET', url: `${BOOK}family.vcf` })
    const listing = await app.inject({ method: 'PROPFIND', url: BOOK, headers: { ...XML, depth: '1' }, payload: propfind('<d:getetag/>') })
    const next = await syncCollection(app, syncTokenOf(initial.body))
    const json = await app.inject({ method: 'GET', url: '/addresses' })
    const changes = await app.inject({ method: 'GET', url: '/addresses/0c0c0c0c-1111-4222-8333-444455556666' })

    assert.equal(created.statusCode, 201)
    assert.equal(served.body, GROUP)
    assert.ok(responsesOf(listing.body).some(({ href }) => href === `${BOOK}family.vcf`))
    assert.deepEqual(responsesOf(next.body).map(({ href }) => href), [`${BOOK}family.vcf`])
    assert.deepEqual(Object.values(JSON.parse(json.body) as Record<string, { full_name: string }>).map((entry) => entry.full_name), ['Ada'])
    assert.equal(changes.statusCode, 404)
  })

  test('when a group card is deleted, then a sync reports it gone, and its UID is free again', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'family.vcf', GROUP)
    const initial = await syncCollection(app, '')

    const deleted = await app.inject({ method: 'DELETE', url: `${BOOK}family.vcf` })
    const next = await syncCollection(app, syncTokenOf(initial.body))
    const again = await put(app, 'family-2.vcf', GROUP)

    assert.equal(deleted.statusCode, 204)
    assert.match(responsesOf(next.body).find(({ href }) => href === `${BOOK}family.vcf`)?.text ?? '', /404 Not Found/)
    assert.equal(again.statusCode, 201)
  })

  test('when a person card takes the UID of a group card, then 409 no-uid-conflict', async (t) => {
    const app = buildTestApp(t)
    await put(app, 'family.vcf', GROUP)

    const response = await put(app, 'person.vcf', card('UID:0c0c0c0c-1111-4222-8333-444455556666', 'FN:Ada'))

    assert.equal(response.statusCode, 409)
  })
})

describe('leniency', () => {
  test('when a card has one property the entry refuses (a malformed email), then it is stored without it, and served back as it came', async (t) => {
    const app = buildTestApp(t)
    const sent = card('UID:0d0d0d0d-1111-4222-8333-444455556666', 'FN:Ada', 'EMAIL:not an email', 'EMAIL:ada@example.org', 'BDAY:2023-02-30')

    const created = await put(app, 'a.vcf', sent)
    const served = await app.inject({ method: 'GET', url: `${BOOK}a.vcf` })
    const entry = await app.inject({ method: 'GET', url: '/addresses/0d0d0d0d-1111-4222-8333-444455556666' })

    assert.equal(created.statusCode, 201, created.body)
    assert.equal(served.body, sent)
    assert.deepEqual(JSON.parse(entry.body), { full_name: 'Ada', emails: [{ kind: 'other', email: 'ada@example.org' }] })
  })
})

describe('the edge, for DAV as for JSON', () => {
  test('when DAV requests are served, then each has its request id, its access log line and its metrics', async (t) => {
    const registry = new Registry()
    const { lines, logger } = capturingLogger('info')
    const app = buildTestApp(t, { metrics: registry, serveMetrics: true, logger })

    const response = await app.inject({ method: 'PROPFIND', url: BOOK, headers: { ...XML, depth: '0', 'x-request-id': 'dav-request-1' }, payload: propfind('<d:getetag/>') })
    const metrics = await app.inject({ method: 'GET', url: '/metrics' })

    assert.equal(response.headers['x-request-id'], 'dav-request-1')
    assert.ok(lines.some((line) => line.req_id === 'dav-request-1' && line.method === 'PROPFIND' && line.status === 207 && line.uri === BOOK), JSON.stringify(lines))
    assert.match(metrics.body, /http_request_duration_seconds_count\{method="PROPFIND",route="\/dav\/\*",status_code="207"\} 1/)
  })

  test('when a client goes over the rate limit on DAV paths, then 429 in a DAV error body with Retry-After, counted with its JSON requests', async (t) => {
    const app = buildTestApp(t, { config: { rateLimit: { enabled: true, max: 2, windowMs: 60_000, redis: null, redisPrefix: 'carddav:' } } })

    await app.inject({ method: 'GET', url: '/addresses' })
    await app.inject({ method: 'PROPFIND', url: BOOK, headers: { depth: '0' } })
    const limited = await app.inject({ method: 'PROPFIND', url: BOOK, headers: { depth: '0' } })

    assert.equal(limited.statusCode, 429)
    assert.ok(limited.headers['retry-after'])
    assert.match(limited.body, /urn:addrservice:problem:too-many-requests/)
  })
})
