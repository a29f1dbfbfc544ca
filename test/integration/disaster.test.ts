import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { describe, test } from 'node:test'
import type { App } from '../../src/http/app.js'
import type { Clock } from '../../src/storage/store.js'
import { buildTestApp } from '../helpers/app.js'
import { aFullEntry } from '../helpers/factories.js'
import { aPng } from '../helpers/images.js'
import { durableStores } from '../helpers/stores.js'

/**
 * Issue 19's scripted disaster: a sync client deletes 1,000 of a book's 1,200 entries and
 * rewrites the other 200, over CardDAV; one undo to "10 minutes ago" brings back all 1,200
 * exactly, byte for byte as JSON, photos and labels included. On every durable store.
 */

const BOOK = 1200
const DELETED = 1000
const CARDS = '/dav/addressbooks/default/contacts/'

/** A clock the test moves: the store and the history read the same one. */
function aClock(start: string) {
  let now = Date.parse(start)
  return {
    clock: (() => new Date(now)) satisfies Clock,
    advance(milliseconds: number) {
      now += milliseconds
    },
  }
}

/** The whole book as the JSON API lists it, page by page, in creation order: the bytes compared. */
async function bookPages(app: App): Promise<string[]> {
  const pages: string[] = []
  let url: string | undefined = '/addresses?limit=500'
  while (url !== undefined) {
    const response: { statusCode: number; body: string; headers: Record<string, unknown> } = await app.inject({ method: 'GET', url })
    assert.equal(response.statusCode, 200, response.body)
    pages.push(response.body)
    const link = response.headers.link
    url = typeof link === 'string' ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined
  }
  return pages
}

for (const { name, make, skip } of durableStores()) {
  describe(`a sync client's disaster, undone (${name})`, { skip }, () => {
    test('when a client deletes 1,000 of 1,200 entries and rewrites the other 200, then one undo to 10 minutes ago brings back all 1,200 exactly', async (t) => {
      const time = aClock('2026-12-01T09:00:00.000Z')
      const store = await make(t, time.clock)
      const app = buildTestApp(t, { store, clock: time.clock })
      const photo = (await aPng()).toString('base64')
      const lines = Array.from({ length: BOOK }, (_, index) =>
        JSON.stringify({
          entry: aFullEntry({ full_name: `Person ${String(index).padStart(4, '0')}`, labels: index % 3 === 0 ? ['Family', 'Football'] : ['Work'] }),
          ...(index % 50 === 0 ? { photo: { type: 'image/png', data: photo } } : {}),
        }),
      )
      const imported = await app.inject({ method: 'POST', url: '/addresses', headers: { 'content-type': 'application/x-ndjson' }, payload: `${lines.join('\n')}\n` })
      assert.equal(imported.statusCode, 200, imported.body)
      const ids = (JSON.parse(imported.body) as { created: { id: string }[] }).created.map(({ id }) => id)
      const before = await bookPages(app)
      const cardBefore = await app.inject({ method: 'GET', url: `${CARDS}${String(ids[1100])}.vcf` })
      time.advance(15 * 60_000)

      // The client: it deletes most cards, and writes the rest back as it thinks they should be.
      for (const id of ids.slice(0, DELETED)) {
        const deleted = await app.inject({ method: 'DELETE', url: `${CARDS}${id}.vcf` })
        assert.equal(deleted.statusCode, 204, deleted.body)
        time.advance(10)
      }
      for (const id of ids.slice(DELETED)) {
        const card = await app.inject({ method: 'GET', url: `${CARDS}${id}.vcf` })
        const rewritten = card.body.replace(/\r\nFN:[^\r]*/, '\r\nFN:Overwritten').replace(/\r\nCATEGORIES:[^\r]*/, '').replace(/\r\nPHOTO[^\r]*(\r\n [^\r]*)*/, '')
        const put = await app.inject({ method: 'PUT', url: `${CARDS}${id}.vcf`, headers: { 'content-type': 'text/vcard', 'if-match': String(card.headers.etag) }, payload: rewritten })
        assert.equal(put.statusCode, 204, put.body)
        time.advance(10)
      }
      const damaged = await bookPages(app)
      assert.notDeepEqual(damaged, before)
      time.advance(60_000)

      const started = performance.now()
      const undo = await app.inject({ method: 'POST', url: '/addresses/restore', payload: { at: '10m' } })
      const undoMs = performance.now() - started

      assert.equal(undo.statusCode, 200, undo.body)
      const result = JSON.parse(undo.body) as { restored: string[]; trashed: string[]; recreated: string[] }
      assert.deepEqual([result.restored.length, result.recreated.length, result.trashed.length], [BOOK - DELETED, DELETED, 0])
      assert.deepEqual(await bookPages(app), before)
      const cardAfter = await app.inject({ method: 'GET', url: `${CARDS}${String(ids[1100])}.vcf` })
      // The card is the same but for its revision: it changed (twice) since, which clients must see.
      const withoutRevision = (card: string) => card.replace(/\r\nREV:[^\r]*/, '')
      assert.equal(withoutRevision(cardAfter.body), withoutRevision(cardBefore.body))
      assert.notEqual(cardAfter.headers.etag, cardBefore.headers.etag)
      t.diagnostic(`${name}: undid ${String(DELETED)} deletions and ${String(BOOK - DELETED)} rewrites of a ${String(BOOK)}-entry book in ${undoMs.toFixed(0)} ms`)
    })
  })
}
