import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import sharp from 'sharp'
import type { App } from '../../src/http/app.js'
import { buildTestApp } from '../helpers/app.js'
import { anEntry } from '../helpers/factories.js'
import { aPhoneJpeg, aPng, aPngBomb, aWebp } from '../helpers/images.js'
import { OWNER_TOKENS as OWNERS } from '../helpers/owners.js'

const ALICE = { authorization: 'Bearer alice-write' }

interface Represented {
  full_name: string
  photo?: { etag: string; url: string }
}

async function anEntryIn(t: TestContext): Promise<{ app: App; id: string; url: string }> {
  const app = buildTestApp(t, { authenticator: OWNERS })
  const created = await app.inject({ method: 'POST', url: '/addresses', headers: ALICE, payload: anEntry({ full_name: 'Ada Lovelace' }) })
  const id = String(created.headers.location).slice('/addresses/'.length)
  return { app, id, url: `/addresses/${id}/photo` }
}

function putPhoto(app: App, url: string, body: Buffer | string, type = 'image/jpeg', headers: Record<string, string> = {}) {
  return app.inject({ method: 'PUT', url, headers: { ...ALICE, 'content-type': type, ...headers }, payload: body })
}

async function read(app: App, id: string): Promise<{ entry: Represented; etag: string }> {
  const response = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: ALICE })
  return { entry: JSON.parse(response.body) as Represented, etag: String(response.headers.etag) }
}

describe('photos', () => {
  test('when a phone photo is put, then it is stored upright, without metadata, at most 720×720 JPEG, with a 96×96 thumbnail, and the entry links it', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    const original = await aPhoneJpeg()

    const put = await putPhoto(app, url, original)
    const { entry, etag } = await read(app, id)
    const image = await app.inject({ method: 'GET', url, headers: ALICE })
    const thumbnail = await app.inject({ method: 'GET', url: `${url}?size=96`, headers: ALICE })
    const stored = await sharp(image.rawPayload).metadata()
    const small = await sharp(thumbnail.rawPayload).metadata()

    assert.equal(put.statusCode, 204, put.body)
    assert.equal(put.headers['entry-etag'], '"2"')
    assert.equal(etag, '"2"')
    assert.deepEqual(entry.photo, { etag: put.headers.etag, url: put.headers['content-location'] })
    assert.match(entry.photo.url, new RegExp(`^/addresses/${id}/photo\\?v=[\\w-]+$`))
    assert.equal(image.statusCode, 200)
    assert.equal(image.headers['content-type'], 'image/jpeg')
    assert.equal(image.headers.etag, put.headers.etag)
    assert.deepEqual([stored.format, stored.width, stored.height, stored.orientation, stored.exif], ['jpeg', 540, 720, undefined, undefined])
    assert.ok(image.rawPayload.length < original.length)
    assert.deepEqual([small.format, small.width, small.height], ['jpeg', 96, 96])
    assert.equal(thumbnail.headers.etag, String(put.headers.etag).replace(/"$/, '-96"'))
  })

  test('when PNG (with transparency) and WebP are put, then each is taken; a small one is not enlarged', async (t) => {
    const { app, url } = await anEntryIn(t)

    const png = await putPhoto(app, url, await aPng(300, 200), 'image/png')
    const fromPng = await sharp((await app.inject({ method: 'GET', url, headers: ALICE })).rawPayload).metadata()
    const webp = await putPhoto(app, url, await aWebp(), 'image/webp')
    const fromWebp = await sharp((await app.inject({ method: 'GET', url, headers: ALICE })).rawPayload).metadata()

    assert.deepEqual([png.statusCode, fromPng.format, fromPng.width, fromPng.height, fromPng.hasAlpha], [204, 'jpeg', 300, 200, false])
    assert.deepEqual([webp.statusCode, fromWebp.format, fromWebp.width, fromWebp.height], [204, 'jpeg', 720, 720])
    assert.notEqual(png.headers.etag, webp.headers.etag)
  })

  test('when the photo is asked for by its URL, then it may be cached for good; otherwise it is revalidated, and a current tag gets 304', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    await putPhoto(app, url, await aPng())
    const link = String((await read(app, id)).entry.photo?.url)

    const named = await app.inject({ method: 'GET', url: link, headers: ALICE })
    const plain = await app.inject({ method: 'GET', url, headers: ALICE })
    const again = await app.inject({ method: 'GET', url, headers: { ...ALICE, 'if-none-match': String(plain.headers.etag) } })
    const stale = await app.inject({ method: 'GET', url: `${url}?v=old`, headers: ALICE })

    assert.equal(named.headers['cache-control'], 'private, max-age=31536000, immutable')
    assert.equal(plain.headers['cache-control'], 'private, no-cache')
    assert.equal(again.statusCode, 304)
    assert.equal(again.rawPayload.length, 0)
    assert.equal(stale.headers['cache-control'], 'private, no-cache')
  })

  test('when the photo changes, then the change feed has the entry once, with its photo, and If-Match guards it like any write', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    const token = (JSON.parse((await app.inject({ method: 'GET', url: '/addresses/changes', headers: ALICE })).body) as { next: string }).next

    const stale = await putPhoto(app, url, await aPng(), 'image/png', { 'if-match': '"7"' })
    const guarded = await putPhoto(app, url, await aPng(), 'image/png', { 'if-match': '"1"' })
    const changes = JSON.parse((await app.inject({ method: 'GET', url: `/addresses/changes?since=${token}`, headers: ALICE })).body) as {
      changes: { id: string; change: string; etag: string; entry: Represented }[]
    }

    assert.equal(stale.statusCode, 412)
    assert.equal(guarded.statusCode, 204)
    assert.deepEqual(changes.changes.map(({ id: changed, change, etag, entry }) => [changed, change, etag, entry.photo?.etag]), [[id, 'updated', '"2"', guarded.headers.etag]])
  })

  test('when the entry is edited, or put back with the photo link it was read with, then the photo stays', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    await putPhoto(app, url, await aPng())
    const { entry } = await read(app, id)

    const patched = await app.inject({ method: 'PATCH', url: `/addresses/${id}`, headers: { ...ALICE, 'content-type': 'application/merge-patch+json' }, payload: { full_name: 'Ada King', photo: null } })
    const replaced = await app.inject({ method: 'PUT', url: `/addresses/${id}`, headers: ALICE, payload: { ...entry, full_name: 'Augusta Ada King' } })
    const after = await read(app, id)

    assert.equal(patched.statusCode, 204, patched.body)
    assert.equal(replaced.statusCode, 204, replaced.body)
    assert.equal(after.entry.full_name, 'Augusta Ada King')
    assert.deepEqual(after.entry.photo, entry.photo)
  })

  test('when the photo is removed, then the entry has none, at a new version, and asking for it is 404 photo-not-found', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    await putPhoto(app, url, await aPng())

    const removed = await app.inject({ method: 'DELETE', url, headers: ALICE })
    const again = await app.inject({ method: 'DELETE', url, headers: ALICE })
    const image = await app.inject({ method: 'GET', url, headers: ALICE })
    const { entry, etag } = await read(app, id)

    assert.equal(removed.statusCode, 204)
    assert.equal(removed.headers['entry-etag'], '"3"')
    assert.equal(etag, '"3"')
    assert.equal('photo' in entry, false)
    assert.deepEqual([again.statusCode, image.statusCode], [404, 404])
    assert.equal((JSON.parse(image.body) as { type: string }).type, 'urn:addrservice:problem:photo-not-found')
  })

  test('when the body is not an image, is damaged, is a decompression bomb or is too large, then the refusal says why and nothing changes', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    const jpeg = await aPhoneJpeg(1200, 900)

    const answers = [
      await putPhoto(app, url, 'not an image', 'text/plain'),
      await putPhoto(app, url, '{"photo": true}', 'application/json'),
      await putPhoto(app, url, 'GIF89a but not really', 'image/png'),
      await putPhoto(app, url, jpeg.subarray(0, Math.floor(jpeg.length / 2))),
      await putPhoto(app, url, aPngBomb(), 'image/png'),
      await putPhoto(app, url, Buffer.alloc(21 * 1024 * 1024, 1)),
    ]

    assert.deepEqual(answers.map((answer) => answer.statusCode), [415, 415, 400, 400, 413, 413])
    const bodies = answers.map((answer) => JSON.parse(answer.body) as { type: string; detail: string })
    assert.deepEqual(bodies.map(({ type }) => type.replace('urn:addrservice:problem:', '')), [
      'unsupported-media-type',
      'unsupported-media-type',
      'invalid-photo',
      'invalid-photo',
      'photo-too-large',
      'payload-too-large',
    ])
    assert.match(bodies[4]?.detail ?? '', /100000×100000 pixels, more than the limit of 64,000,000 pixels/)
    assert.match(bodies[5]?.detail ?? '', /limit of 20971520 bytes/)
    const { entry, etag } = await read(app, id)
    assert.equal(etag, '"1"')
    assert.equal('photo' in entry, false)
  })

  test("when another owner's entry, or a missing one, is named, then the answer is the same 404, and a read-only key cannot put one", async (t) => {
    const { app, url } = await anEntryIn(t)
    await putPhoto(app, url, await aPng())
    const bob = { authorization: 'Bearer bob-write' }
    const png = await aPng()

    const answers = [
      await app.inject({ method: 'GET', url, headers: bob }),
      await app.inject({ method: 'PUT', url, headers: { ...bob, 'content-type': 'image/png' }, payload: png }),
      await app.inject({ method: 'DELETE', url, headers: bob }),
      await app.inject({ method: 'GET', url: '/addresses/0123456789abcdef0123456789abcdef/photo', headers: bob }),
    ]
    const readOnly = await app.inject({ method: 'PUT', url, headers: { authorization: 'Bearer alice-read', 'content-type': 'image/png' }, payload: png })

    assert.deepEqual(answers.map((answer) => answer.statusCode), [404, 404, 404, 404])
    assert.deepEqual(new Set(answers.map((answer) => (JSON.parse(answer.body) as { type: string }).type)), new Set(['urn:addrservice:problem:entry-not-found']))
    assert.equal(readOnly.statusCode, 403)
    assert.equal((await app.inject({ method: 'GET', url, headers: ALICE })).statusCode, 200)
  })

  test('when the entry is deleted, then its photo goes with it', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    await putPhoto(app, url, await aPng())

    await app.inject({ method: 'DELETE', url: `/addresses/${id}`, headers: ALICE })
    const image = await app.inject({ method: 'GET', url, headers: ALICE })

    assert.equal(image.statusCode, 404)
    assert.equal((JSON.parse(image.body) as { type: string }).type, 'urn:addrservice:problem:entry-not-found')
  })

  test('when the book is exported, then NDJSON carries each photo as base64 in a field of its own, and vCard as PHOTO, inline, as each version writes it', async (t) => {
    const { app, id, url } = await anEntryIn(t)
    await app.inject({ method: 'POST', url: '/addresses', headers: ALICE, payload: anEntry({ full_name: 'No Photo' }) })
    await putPhoto(app, url, await aPng())
    const stored = (await app.inject({ method: 'GET', url, headers: ALICE })).rawPayload

    const ndjson = await app.inject({ method: 'GET', url: '/addresses', headers: { ...ALICE, accept: 'application/x-ndjson' } })
    const v4 = await app.inject({ method: 'GET', url: '/addresses', headers: { ...ALICE, accept: 'text/vcard' } })
    const v3 = await app.inject({ method: 'GET', url: `/addresses/${id}`, headers: { ...ALICE, accept: 'text/vcard; version=3.0' } })

    const lines = ndjson.body.trim().split('\n').map((line) => JSON.parse(line) as { id: string; entry: Represented; photo?: { type: string; data: string } })
    assert.deepEqual(lines.map((line) => [line.entry.full_name, line.photo?.type]), [['Ada Lovelace', 'image/jpeg'], ['No Photo', undefined]])
    assert.deepEqual(Buffer.from(lines[0]?.photo?.data ?? '', 'base64'), stored)
    assert.equal('photo' in (lines[0]?.entry ?? {}), false)
    const unfolded = (text: string) => text.replace(/\r\n[ \t]/g, '')
    assert.ok(unfolded(v4.body).includes(`\r\nPHOTO:data:image/jpeg;base64,${stored.toString('base64')}\r\n`))
    assert.equal(v4.body.match(/PHOTO/g)?.length, 1)
    assert.ok(unfolded(v3.body).includes(`\r\nPHOTO;ENCODING=b;TYPE=JPEG:${stored.toString('base64')}\r\n`))
  })

  test('when a book of more entries than the export reads at a time is exported, then every entry comes once, in order, with its own photo', async (t) => {
    const app = buildTestApp(t, { authenticator: OWNERS })
    const png = (await aPng()).toString('base64')
    const names = Array.from({ length: 120 }, (_, index) => `Person ${String(index).padStart(3, '0')}`)
    const hasPhoto = (index: number) => index % 7 === 0
    const lines = names.map((name, index) => JSON.stringify({ entry: anEntry({ full_name: name }), ...(hasPhoto(index) ? { photo: { type: 'image/png', data: png } } : {}) }))
    const imported = await app.inject({ method: 'POST', url: '/addresses', headers: { ...ALICE, 'content-type': 'application/x-ndjson' }, payload: `${lines.join('\n')}\n` })

    const exported = await app.inject({ method: 'GET', url: '/addresses?sort=full_name', headers: { ...ALICE, accept: 'application/x-ndjson' } })

    assert.equal(imported.statusCode, 200, imported.body)
    assert.equal(exported.statusCode, 200, exported.body)
    const rows = exported.body.trim().split('\n').map((line) => JSON.parse(line) as { id: string; entry: Represented; photo?: { data: string } })
    assert.deepEqual(rows.map(({ entry }) => entry.full_name), names)
    assert.deepEqual(rows.map(({ photo }) => photo !== undefined), names.map((_, index) => hasPhoto(index)))
    const last = rows.at(-1)
    const image = await app.inject({ method: 'GET', url: `/addresses/${String(last?.id)}/photo`, headers: ALICE })
    assert.equal(last?.entry.full_name, 'Person 119')
    assert.equal(Buffer.from(last.photo?.data ?? '', 'base64').compare(image.rawPayload), 0)
  })

  test('when an export is imported into another book, then every photo comes back byte for byte, under the same tag; a photo that is not an image is listed instead', async (t) => {
    const { app, url } = await anEntryIn(t)
    await putPhoto(app, url, await aPhoneJpeg(1600, 1200))
    const original = (await app.inject({ method: 'GET', url, headers: ALICE })).rawPayload
    const bob = { authorization: 'Bearer bob-write' }

    const ndjson = (await app.inject({ method: 'GET', url: '/addresses', headers: { ...ALICE, accept: 'application/x-ndjson' } })).body
    const vcard = (await app.inject({ method: 'GET', url: '/addresses', headers: { ...ALICE, accept: 'text/vcard; version=3.0' } })).body
    const fromNdjson = await app.inject({ method: 'POST', url: '/addresses', headers: { ...bob, 'content-type': 'application/x-ndjson' }, payload: ndjson })
    const intoVcard = await app.inject({
      method: 'POST',
      url: '/addresses',
      headers: { ...bob, 'content-type': 'text/vcard' },
      payload: vcard.replace(/\r\nUID[^\r]*/, '') + 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken Photo\r\nPHOTO;ENCODING=b;TYPE=JPEG:bm90IGFuIGltYWdl\r\nEND:VCARD\r\n',
    })
    const created = (JSON.parse(intoVcard.body) as { created: { id: string; unmapped?: { property: string; reason?: string }[] }[] }).created

    assert.equal(fromNdjson.statusCode, 200, fromNdjson.body)
    assert.equal((await app.inject({ method: 'GET', url, headers: bob })).rawPayload.compare(original), 0)
    assert.equal(intoVcard.statusCode, 200, intoVcard.body)
    const [copy, broken] = created
    const copied = await app.inject({ method: 'GET', url: `/addresses/${String(copy?.id)}/photo`, headers: bob })
    assert.equal(copied.rawPayload.compare(original), 0)
    assert.ok(broken?.unmapped)
    assert.deepEqual(broken.unmapped.map(({ property }) => property), ['PHOTO'])
    assert.match(broken.unmapped[0]?.reason ?? '', /not an image/)
    assert.equal((await app.inject({ method: 'GET', url: `/addresses/${broken.id}/photo`, headers: bob })).statusCode, 404)
  })

  test('when OPTIONS or another method is sent, then Allow lists what the photo takes', async (t) => {
    const { app, url } = await anEntryIn(t)

    const options = await app.inject({ method: 'OPTIONS', url })
    const post = await app.inject({ method: 'POST', url, headers: ALICE })

    assert.equal(options.headers.allow, 'GET, HEAD, PUT, DELETE, OPTIONS')
    assert.equal(post.statusCode, 405)
  })
})
