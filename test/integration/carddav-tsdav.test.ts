import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { DAVClient, type DAVAddressBook, type DAVResponse } from 'tsdav'
import { ApiKeys } from '../../src/auth/api-keys.js'
import { apiKeyAuthenticator } from '../../src/auth/authenticator.js'
import type { App } from '../../src/http/app.js'
import type { AddressEntry } from '../../src/domain/address-entry.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import { buildTestApp } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { listenOnLoopback } from '../helpers/raw-socket.js'

/*
 * tsdav (a JavaScript CardDAV client, as web and Electron apps use) against a real server on
 * loopback: tsdav speaks over fetch, so it needs a socket. The JSON API, the other side of each
 * test, goes through inject, where every answer is also checked against the OpenAPI document.
 */

const OWNER = 'maria'
const BOOK_PATH = `/dav/addressbooks/${OWNER}/contacts/`

/** One request tsdav sent and what the server answered, for asserting on the conversation itself. */
interface Exchange {
  method: string
  url: string
  status: number
  location: string | null
}

interface World {
  app: App
  origin: string
  /** Headers for the JSON API, as the web app sends them. */
  bearer: { authorization: string }
  /** A tsdav client signed in as maria with a write key, discovery done. */
  client: DAVClient
  /** Every request the client sent, in order. */
  exchanges: Exchange[]
}

/** A server on loopback over a fresh store, a write key for maria, and tsdav signed in with it. */
async function world(t: TestContext): Promise<World> {
  const store = new MemoryStore()
  const keys = new ApiKeys(store)
  const { key } = await keys.create(OWNER, 'write', 'phone')
  const app = buildTestApp(t, { store, authenticator: apiKeyAuthenticator(keys) })
  const origin = `http://127.0.0.1:${await listenOnLoopback(app)}`
  const exchanges: Exchange[] = []
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    exchanges.push({ method: init?.method ?? 'GET', url, status: response.status, location: response.headers.get('location') })
    return response
  }
  const client = new DAVClient({
    serverUrl: `${origin}/`,
    credentials: { username: OWNER, password: key },
    authMethod: 'Basic',
    defaultAccountType: 'carddav',
    fetch: recordingFetch,
  })
  await client.login()
  return { app, origin, bearer: { authorization: `Bearer ${key}` }, client, exchanges }
}

/** Creates an entry through the JSON API and returns its id and ETag. */
async function createEntry({ app, bearer }: World, entry: AddressEntry): Promise<{ id: string; etag: string }> {
  const response = await app.inject({ method: 'POST', url: '/addresses', headers: bearer, payload: entry })
  assert.equal(response.statusCode, 201, response.body)
  const id = String(response.headers.location).split('/').pop()
  assert.ok(id)
  return { id, etag: String(response.headers.etag) }
}

async function listEntries({ app, bearer }: World): Promise<Record<string, AddressEntry>> {
  const response = await app.inject({ method: 'GET', url: '/addresses', headers: bearer })
  assert.equal(response.statusCode, 200, response.body)
  return response.json<Record<string, AddressEntry>>()
}

async function theBook({ client }: World): Promise<DAVAddressBook> {
  const [book, ...others] = await client.fetchAddressBooks()
  assert.ok(book)
  assert.equal(others.length, 0)
  return book
}

/** A vCard 3.0 of the given lines, CRLF as phones write it. */
function card(...lines: string[]): string {
  return ['BEGIN:VCARD', 'VERSION:3.0', ...lines, 'END:VCARD', ''].join('\r\n')
}

const cardUrl = (origin: string, id: string) => `${origin}${BOOK_PATH}${id}.vcf`

/** A row of a multistatus: a card found (tsdav gives such rows the multistatus's own 207), or one answered with a status of its own (404). */
interface Row {
  path: string
  status: 'found' | number
}

/** Each row of a report, as the path of its href and what came for it, sorted by path. */
function rowsOf(responses: readonly DAVResponse[]): Row[] {
  return sortedRows(
    responses
      .filter((response) => response.href !== undefined)
      .map((response) => ({ path: new URL(String(response.href), 'http://any/').pathname, status: response.ok ? 'found' : response.status })),
  )
}

function sortedRows(rows: Row[]): Row[] {
  return rows.sort((a, b) => a.path.localeCompare(b.path))
}

const found = (id: string): Row => ({ path: `${BOOK_PATH}${id}.vcf`, status: 'found' })
const gone = (id: string): Row => ({ path: `${BOOK_PATH}${id}.vcf`, status: 404 })

function etagOf(response: Response): string {
  const etag = response.headers.get('etag')
  assert.ok(etag, `no ETag in the ${String(response.status)} answer`)
  return etag
}

function syncTokenOf(responses: readonly DAVResponse[]): string {
  const raw = responses[0]?.raw as { multistatus?: { syncToken?: unknown } } | undefined
  const token = raw?.multistatus?.syncToken
  assert.equal(typeof token, 'string', JSON.stringify(raw))
  return token as string
}

describe('CardDAV with tsdav: discovery', () => {
  test('when tsdav logs in from the server address, then .well-known leads it to the principal, the home and the one address book', async (t) => {
    const w = await world(t)

    const books = await w.client.fetchAddressBooks()

    const [first] = w.exchanges
    assert.deepEqual(first, { method: 'PROPFIND', url: `${w.origin}/.well-known/carddav`, status: 301, location: '/dav/' })
    assert.equal(w.client.account?.rootUrl, `${w.origin}/dav/`)
    assert.equal(w.client.account.principalUrl, `${w.origin}/dav/principals/${OWNER}/`)
    assert.equal(w.client.account.homeUrl, `${w.origin}/dav/addressbooks/${OWNER}/`)
    assert.equal(books.length, 1)
    assert.ok(books[0]?.url.endsWith(BOOK_PATH), books[0]?.url)
    assert.deepEqual([...(books[0]?.reports as string[])].sort(), ['addressbookMultiget', 'addressbookQuery', 'syncCollection'])
  })
})

describe('CardDAV with tsdav: cards', () => {
  test('when entries are created through the JSON API, then fetchVCards gets each as a vCard with its FN and the JSON ETag', async (t) => {
    const w = await world(t)
    const ada = await createEntry(w, anEntry({ full_name: 'Ada Lovelace', emails: [{ kind: 'home', email: 'ada@example.org' }] }))
    const charles = await createEntry(w, anEntry({ full_name: 'Charles Babbage' }))
    const addressBook = await theBook(w)

    const vcards = await w.client.fetchVCards({ addressBook })

    const byUrl = new Map(vcards.map((vcard) => [vcard.url, vcard]))
    assert.equal(vcards.length, 2)
    const adaCard = byUrl.get(cardUrl(w.origin, ada.id))
    const charlesCard = byUrl.get(cardUrl(w.origin, charles.id))
    assert.equal(adaCard?.etag, ada.etag)
    assert.match(String(adaCard.data), /^FN:Ada Lovelace\r?$/m)
    assert.match(String(adaCard.data), /^EMAIL[^:]*:ada@example\.org\r?$/m)
    assert.equal(charlesCard?.etag, charles.etag)
    assert.match(String(charlesCard.data), /^FN:Charles Babbage\r?$/m)
  })

  test('when tsdav creates a card, then the JSON API lists its entry under the UID, and the card comes back as it was sent', async (t) => {
    const w = await world(t)
    const addressBook = await theBook(w)
    const uid = randomUUID()
    const text = card(`UID:${uid}`, 'FN:Grace Hopper', 'N:Hopper;Grace;;;', 'EMAIL;TYPE=INTERNET:grace@example.org')

    const created = await w.client.createVCard({ addressBook, vCardString: text, filename: `${uid}.vcf` })

    assert.equal(created.status, 201)
    const entries = await listEntries(w)
    assert.deepEqual(Object.keys(entries), [uid])
    assert.equal(entries[uid]?.full_name, 'Grace Hopper')
    assert.deepEqual(entries[uid].emails?.map((email) => email.email), ['grace@example.org'])
    const [fetched] = await w.client.fetchVCards({ addressBook })
    // tsdav's XML parser trims every text node, so the card's last CRLF never reaches it.
    assert.equal(fetched?.data, text.trimEnd())
    assert.equal(fetched.etag, etagOf(created))
  })

  test('when tsdav updates a card with its ETag, then the entry changes; with the stale ETag, then 412 and nothing changes', async (t) => {
    const w = await world(t)
    const addressBook = await theBook(w)
    const uid = randomUUID()
    const url = cardUrl(w.origin, uid)
    const created = await w.client.createVCard({ addressBook, vCardString: card(`UID:${uid}`, 'FN:Grace Hopper'), filename: `${uid}.vcf` })
    const firstTag = etagOf(created)

    const updated = await w.client.updateVCard({ vCard: { url, etag: firstTag, data: card(`UID:${uid}`, 'FN:Grace Brewster Hopper') } })
    const stale = await w.client.updateVCard({ vCard: { url, etag: firstTag, data: card(`UID:${uid}`, 'FN:Mallory') } })

    assert.ok(updated.ok, String(updated.status))
    assert.notEqual(updated.headers.get('etag'), firstTag)
    assert.equal(stale.status, 412)
    assert.equal((await listEntries(w))[uid]?.full_name, 'Grace Brewster Hopper')
  })

  test('when tsdav deletes a card with its ETag, then its entry is gone from the JSON API and the card from the book', async (t) => {
    const w = await world(t)
    const addressBook = await theBook(w)
    const uid = randomUUID()
    const created = await w.client.createVCard({ addressBook, vCardString: card(`UID:${uid}`, 'FN:Grace Hopper'), filename: `${uid}.vcf` })
    const etag = etagOf(created)

    const deleted = await w.client.deleteVCard({ vCard: { url: cardUrl(w.origin, uid), etag } })

    assert.equal(deleted.status, 204)
    assert.deepEqual(await listEntries(w), {})
    assert.deepEqual(await w.client.fetchVCards({ addressBook }), [])
  })
})

describe('CardDAV with tsdav: addressbook-query', () => {
  async function threePeople(t: TestContext) {
    const w = await world(t)
    const ada = await createEntry(w, anEntry({ full_name: 'Ada Lovelace', emails: [{ kind: 'home', email: 'ada@example.org' }] }))
    const adam = await createEntry(w, anEntry({ full_name: 'Adam Smith', emails: [{ kind: 'work', email: 'adam@wealth.example.com' }] }))
    const grace = await createEntry(w, anEntry({ full_name: 'Grace Hopper', emails: [{ kind: 'work', email: 'grace@EXAMPLE.org' }] }))
    return { w, url: (await theBook(w)).url, ada, adam, grace }
  }
  const PROPS = { 'd:getetag': {}, 'card:address-data': {} }

  test('when the filter is EMAIL contains a domain, then only the cards with such an address come, matched without regard to case', async (t) => {
    const { w, url, ada, grace } = await threePeople(t)

    const responses = await w.client.addressBookQuery({
      url,
      props: PROPS,
      filters: { 'card:prop-filter': { _attributes: { name: 'EMAIL' }, 'card:text-match': { _attributes: { 'match-type': 'contains' }, _text: 'example.org' } } },
      depth: '1',
    })

    assert.deepEqual(rowsOf(responses), sortedRows([found(ada.id), found(grace.id)]))
    assert.ok(responses.every((response) => /^EMAIL/m.test(String(response.props?.addressData))))
  })

  test('when the filter is FN starts-with, then only the cards whose name starts so come, with their vCards', async (t) => {
    const { w, url, ada, adam } = await threePeople(t)

    const responses = await w.client.addressBookQuery({
      url,
      props: PROPS,
      filters: { 'card:prop-filter': { _attributes: { name: 'FN' }, 'card:text-match': { _attributes: { 'match-type': 'starts-with' }, _text: 'ada' } } },
      depth: '1',
    })

    assert.deepEqual(rowsOf(responses), sortedRows([found(ada.id), found(adam.id)]))
    const names = responses.map((response) => /^FN:(.*?)\r?$/m.exec(String(response.props?.addressData))?.[1]).sort()
    assert.deepEqual(names, ['Ada Lovelace', 'Adam Smith'])
  })

  test('when both prop-filters must hold (allof), then only the card matching both comes', async (t) => {
    const { w, url, ada } = await threePeople(t)

    const responses = await w.client.addressBookQuery({
      url,
      props: { 'd:getetag': {} },
      filters: {
        _attributes: { test: 'allof' },
        'card:prop-filter': [
          { _attributes: { name: 'FN' }, 'card:text-match': { _attributes: { 'match-type': 'starts-with' }, _text: 'ada' } },
          { _attributes: { name: 'EMAIL' }, 'card:text-match': { _attributes: { 'match-type': 'ends-with' }, _text: '.org' } },
        ],
      },
      depth: '1',
    })

    assert.deepEqual(rowsOf(responses), [found(ada.id)])
    assert.equal(responses[0]?.props?.getetag, ada.etag)
  })
})

describe('CardDAV with tsdav: sync-collection', () => {
  test('when entries are patched and deleted through the JSON API, then the next sync lists exactly the changed card and the deleted one as 404', async (t) => {
    const w = await world(t)
    const ada = await createEntry(w, anEntry({ full_name: 'Ada Lovelace' }))
    const charles = await createEntry(w, anEntry({ full_name: 'Charles Babbage' }))
    const grace = await createEntry(w, anEntry({ full_name: 'Grace Hopper' }))
    const { url } = await theBook(w)
    const initial = await w.client.syncCollection({ url, props: { 'd:getetag': {} }, syncLevel: 1 })
    const patched = await w.app.inject({
      method: 'PATCH',
      url: `/addresses/${ada.id}`,
      headers: { ...w.bearer, 'content-type': 'application/merge-patch+json' },
      payload: { nickname: 'Countess' },
    })
    const deleted = await w.app.inject({ method: 'DELETE', url: `/addresses/${charles.id}`, headers: w.bearer })

    const next = await w.client.syncCollection({ url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: syncTokenOf(initial) })

    assert.deepEqual(rowsOf(initial), sortedRows([found(ada.id), found(charles.id), found(grace.id)]))
    assert.equal(patched.statusCode, 204, patched.body)
    assert.equal(deleted.statusCode, 204, deleted.body)
    assert.deepEqual(rowsOf(next), sortedRows([found(ada.id), gone(charles.id)]))
    const adaRow = next.find((response) => String(response.href).endsWith(`${ada.id}.vcf`))
    assert.equal(adaRow?.props?.getetag, patched.headers.etag)
    assert.notEqual(syncTokenOf(next), syncTokenOf(initial))
  })

  test('when tsdav syncs with smartCollectionSyncDetailed after JSON edits, then it reports the new, the updated and the deleted card', async (t) => {
    const w = await world(t)
    const ada = await createEntry(w, anEntry({ full_name: 'Ada Lovelace' }))
    const charles = await createEntry(w, anEntry({ full_name: 'Charles Babbage' }))
    const addressBook = await theBook(w)
    const local = { ...addressBook, objects: await w.client.fetchVCards({ addressBook }), objectMultiGet: w.client.addressBookMultiGet.bind(w.client) }
    await w.app.inject({ method: 'PATCH', url: `/addresses/${ada.id}`, headers: { ...w.bearer, 'content-type': 'application/merge-patch+json' }, payload: { nickname: 'Countess' } })
    await w.app.inject({ method: 'DELETE', url: `/addresses/${charles.id}`, headers: w.bearer })
    const grace = await createEntry(w, anEntry({ full_name: 'Grace Hopper' }))

    const synced = await w.client.smartCollectionSyncDetailed({ collection: local, method: 'webdav' })

    const { created, updated, deleted } = synced.objects
    assert.deepEqual(created.map(({ url }) => url), [cardUrl(w.origin, grace.id)])
    assert.match(String(created[0]?.data), /^FN:Grace Hopper\r?$/m)
    assert.deepEqual(updated.map(({ url }) => url), [cardUrl(w.origin, ada.id)])
    assert.match(String(updated[0]?.data), /^NICKNAME:Countess\r?$/m)
    assert.deepEqual(deleted.map(({ url }) => url), [cardUrl(w.origin, charles.id)])
    assert.notEqual(synced.syncToken, addressBook.syncToken)
  })
})
