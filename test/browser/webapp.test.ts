import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { CHROMIUM_MISSING, describeViolations, launchChromium, seriousAxeViolations } from '../helpers/browser.js'
import { aPng } from '../helpers/images.js'
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js'

const SCREENSHOTS = fileURLToPath(new URL('screenshots/', import.meta.url))
const VCARDS = fileURLToPath(new URL('../fixtures/vcard/', import.meta.url))
const SAMPLES = fileURLToPath(new URL('../../data/addresses/', import.meta.url))
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

interface Entry {
  full_name: string
  labels?: string[]
  [member: string]: unknown
}

/** The service's API as a second client (another device, a script) sees it: plain fetch with a key. */
function apiClient(baseUrl: string, key: string) {
  const call = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, baseUrl), { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string> | undefined) } })
  return {
    call,
    async create(entry: Entry): Promise<string> {
      const response = await call('/addresses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(entry) })
      assert.equal(response.status, 201)
      return String(response.headers.get('location')).split('/').pop() ?? ''
    },
    async read(id: string): Promise<{ status: number; entry: Entry; etag: string }> {
      const response = await call(`/addresses/${id}`)
      const body = (await response.json()) as Entry
      return { status: response.status, entry: body, etag: response.headers.get('etag') ?? '' }
    },
    async import(body: string, contentType: string): Promise<number> {
      const response = await call('/addresses', { method: 'POST', headers: { 'content-type': contentType }, body })
      assert.equal(response.status, 200, await response.clone().text())
      return ((await response.json()) as { created: unknown[] }).created.length
    },
    async search(q: string): Promise<Record<string, Entry>> {
      return (await (await call(`/addresses?q=${encodeURIComponent(q)}`)).json()) as Record<string, Entry>
    },
  }
}

/** A time as a datetime-local input takes it (local, to the second; the browser drops ":00"). */
function localInputValue(time: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0')
  const minutes = `${String(time.getFullYear())}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}T${pad(time.getHours())}:${pad(time.getMinutes())}`
  return time.getSeconds() === 0 ? minutes : `${minutes}:${pad(time.getSeconds())}`
}

describe('the web app in Chromium', { skip: CHROMIUM_MISSING }, () => {
  let dir: string
  let db: string
  let server: ServerProcess
  let baseUrl: string
  let context: BrowserContext
  let closeBrowser: () => Promise<void>

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'addrservice-browser-'))
    db = `sqlite:${join(dir, 'addressbook.db')}`
    mkdirSync(SCREENSHOTS, { recursive: true })
    server = await startServer(['--db', db, '--auth', 'api-key'])
    baseUrl = server.baseUrl
    ;({ context, close: closeBrowser } = await launchChromium())
    context.setDefaultTimeout(10_000)
  })

  after(async () => {
    await closeBrowser()
    server.child.kill('SIGTERM')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  })

  /** A key for an owner of its own: each test works on a book nobody else touches. */
  async function keyFor(owner: string): Promise<string> {
    const created = await runCli(['keys', 'create', '--db', db, '--owner', owner])
    assert.equal(created.code, 0, created.stderr)
    return created.stdout.trim()
  }

  /**
   * A new tab (so a new sessionStorage: signed out). It fails the test on a script error, on
   * anything the CSP refuses, and on a request to any origin but the service's.
   */
  async function newTab(t: TestContext): Promise<Page> {
    const page = await context.newPage()
    const problems: string[] = []
    const origin = new URL(baseUrl).origin
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) problems.push(`CSP: ${message.text()}`)
    })
    page.on('request', (request) => {
      const url = new URL(request.url())
      if (url.protocol.startsWith('http') && url.origin !== origin) problems.push(`foreign request: ${request.url()}`)
    })
    t.after(async () => {
      await page.close()
      assert.deepEqual(problems, [])
    })
    return page
  }

  async function signIn(page: Page, key: string, path = '/app/'): Promise<void> {
    await page.goto(new URL(path, baseUrl).href)
    await page.getByLabel('API key or token').fill(key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.locator('.entry-list[aria-busy="false"]').waitFor()
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false })
  }

  /** Screenshots at desktop and phone widths, light and dark, of what the page shows now. */
  async function screenshotsOf(page: Page, name: string): Promise<void> {
    for (const [width, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      await page.setViewportSize(size)
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme })
        await screenshot(page, `${name}-${width}-${colorScheme}`)
      }
    }
    await page.setViewportSize(DESKTOP)
    await page.emulateMedia({ colorScheme: 'light' })
  }

  async function assertAccessible(page: Page, what: string): Promise<void> {
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme })
      const violations = await seriousAxeViolations(page)
      assert.deepEqual(violations, [], `${what} (${colorScheme}):\n${describeViolations(violations)}`)
    }
    await page.emulateMedia({ colorScheme: 'light' })
  }

  test('when no key is given, then the sign-in screen asks for one, refuses a wrong one clearly, and lets a right one in', async (t) => {
    const key = await keyFor('sign-in')
    const page = await newTab(t)

    const root = await page.goto(new URL('/app/', baseUrl).href)
    await page.getByRole('heading', { name: 'Sign in to your address book' }).waitFor()
    assert.equal(root?.status(), 200)
    await assertAccessible(page, 'the sign-in screen')
    await screenshotsOf(page, 'sign-in')
    await page.getByLabel('API key or token').fill('addr_0000000000000000_notakeynotakeynotakeynotakeynotakeynotakey1')
    await page.getByRole('button', { name: 'Sign in' }).click()
    const refusal = page.getByRole('alert')
    await refusal.waitFor()
    const refusalText = await refusal.textContent()
    await page.getByLabel('API key or token').fill(key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('searchbox', { name: 'Search the address book' }).waitFor()

    assert.match(String(refusalText), /did not accept that key or token/)
    assert.equal(await page.evaluate('sessionStorage.getItem("addrservice.credential")'), key)
  })

  test('when a person creates, finds, edits, resolves a conflict, imports, exports and deletes, then the book shows each step', async (t) => {
    const key = await keyFor('alice')
    const api = apiClient(baseUrl, key)
    await api.create({ full_name: 'Charles Babbage' })
    const page = await newTab(t)
    await signIn(page, key)

    // Create an entry with two phones.
    await page.getByRole('link', { name: 'New entry' }).click()
    await page.getByLabel('Full name').fill('Ada Lovelace')
    await page.getByRole('button', { name: 'Add phone' }).click()
    await page.getByRole('button', { name: 'Add phone' }).click()
    const phone1 = page.getByRole('group', { name: 'Phone 1' })
    await phone1.getByLabel('Kind').selectOption('home')
    await phone1.getByLabel('Country code').fill('44')
    await phone1.getByLabel('Area code').fill('20')
    await phone1.getByLabel('Number').fill('79460000')
    const phone2 = page.getByRole('group', { name: 'Phone 2' })
    await phone2.getByLabel('Country code').fill('44')
    await phone2.getByLabel('Number').fill('7700900123')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor()
    assert.equal(await page.title(), 'Ada Lovelace – Address book')
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '')
    assert.deepEqual((await api.read(id)).entry, {
      full_name: 'Ada Lovelace',
      phone_numbers: [
        { kind: 'home', country_code: 44, area_code: 20, local_number: 79460000 },
        { kind: 'mobile', country_code: 44, local_number: 7700900123 },
      ],
    })
    await page.getByRole('link', { name: '+44 20 79460000', exact: true }).waitFor()

    // Find it by search: the list narrows, and the URL keeps the search.
    await page.getByRole('searchbox', { name: 'Search the address book' }).fill('lovel')
    const list = page.getByRole('list', { name: 'Entries matching “lovel”' })
    await list.waitFor()
    assert.deepEqual(await list.getByRole('link').allInnerTexts().then((texts) => texts.map((text) => text.split('\n')[1])), ['Ada Lovelace'])
    assert.equal(new URL(page.url()).searchParams.get('q'), 'lovel')
    await page.reload()
    await list.getByRole('link', { name: /Ada Lovelace/ }).waitFor()
    assert.equal(await page.getByRole('searchbox', { name: 'Search the address book' }).inputValue(), 'lovel')

    // Edit it.
    await list.getByRole('link', { name: /Ada Lovelace/ }).click()
    await page.getByRole('link', { name: 'Edit' }).click()
    await page.getByLabel('Organization').fill('Analytical Engine Society')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('main').getByText('Analytical Engine Society').waitFor()
    assert.equal((await api.read(id)).entry.organization, 'Analytical Engine Society')

    // Someone else changes it while it is open: overwrite with mine.
    await page.getByRole('link', { name: 'Edit' }).click()
    await page.getByLabel('Nickname').fill('Enchantress of Numbers')
    const before = await api.read(id)
    const theirs = await api.call(`/addresses/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': before.etag },
      body: JSON.stringify({ ...before.entry, job_title: 'Mathematician' }),
    })
    assert.equal(theirs.status, 204)
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText('Someone else changed this entry').waitFor()
    await page.getByRole('button', { name: 'Overwrite with mine' }).click()
    await page.getByText('“Enchantress of Numbers”').waitFor()
    const overwritten = await api.read(id)
    assert.equal(overwritten.entry.nickname, 'Enchantress of Numbers')
    assert.equal(overwritten.entry.job_title, undefined)

    // Again, and this time take their version.
    await page.getByRole('link', { name: 'Edit' }).click()
    await page.getByLabel('Nickname').fill('Not saved')
    await api.call(`/addresses/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': overwritten.etag },
      body: JSON.stringify({ ...overwritten.entry, job_title: 'Countess' }),
    })
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('button', { name: 'Reload their version' }).click()
    await page.getByText('Someone else changed this entry').waitFor({ state: 'hidden' })
    assert.equal(await page.getByLabel('Job title').inputValue(), 'Countess')
    assert.equal(await page.getByLabel('Nickname').inputValue(), 'Enchantress of Numbers')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('main').getByText('Countess, Analytical Engine Society').waitFor()

    // Import a vCard file: what was created, and what had no place.
    await page.getByRole('link', { name: 'Import / export' }).click()
    await page.getByLabel('Drop a file here').setInputFiles(join(VCARDS, 'google.vcf'))
    await page.getByText('2 entries created').waitFor()
    await page.getByRole('link', { name: 'Jonas Becker' }).waitFor()
    await page.getByRole('cell', { name: /CATEGORIES/ }).first().waitFor()
    assert.equal(Object.keys(await api.search('Maria Santos')).length, 1)

    // Export the whole book as vCard, and the search as NDJSON.
    await page.getByRole('radio', { name: 'The whole address book' }).check()
    const [vcard] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download vCard (.vcf)' }).click()])
    const vcardText = readFileSync(await vcard.path(), 'utf8')
    assert.equal(vcardText.match(/BEGIN:VCARD/g)?.length, 4)
    assert.match(vcardText, /FN:Ada Lovelace/)
    assert.match(vcard.suggestedFilename(), /^addressbook-\d{4}-\d{2}-\d{2}\.vcf$/)
    await page.getByRole('radio', { name: 'The entries matching “lovel”' }).check()
    const [ndjson] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download NDJSON' }).click()])
    const lines = readFileSync(await ndjson.path(), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; entry: Entry })
    assert.deepEqual(lines.map((line) => [line.id, line.entry.full_name]), [[id, 'Ada Lovelace']])

    // Delete it, after a confirmation.
    await page.getByRole('searchbox', { name: 'Search the address book' }).fill('')
    await page.goto(new URL(`/app/#/entry/${id}`, baseUrl).href)
    await page.getByRole('button', { name: 'Delete' }).click()
    const dialog = page.getByRole('dialog', { name: 'Delete Ada Lovelace?' })
    await dialog.getByRole('button', { name: 'Delete' }).click()
    await page.getByText('Deleted Ada Lovelace.').waitFor()
    assert.equal((await api.read(id)).status, 404)
    await page.getByRole('list', { name: 'All entries, by name' }).getByRole('link', { name: /Charles Babbage/ }).waitFor()
    assert.equal(await page.getByRole('list', { name: 'All entries, by name' }).getByRole('link', { name: /Ada Lovelace/ }).count(), 0)
  })

  test('when the server refuses fields, then each error is shown next to its field and listed above the form', async (t) => {
    const page = await newTab(t)
    await signIn(page, await keyFor('errors'), '/app/#/new')

    await page.getByLabel('Full name').fill('   ')
    await page.getByRole('button', { name: 'Add phone' }).click()
    await page.getByRole('group', { name: 'Phone 1' }).getByLabel('Country code').fill('44')
    await page.getByRole('group', { name: 'Phone 1' }).getByLabel('Number').fill('12ab')
    await page.getByRole('button', { name: 'Add email' }).click()
    await page.getByRole('group', { name: 'Email 1' }).getByRole('textbox', { name: 'Email', exact: true }).fill('not an email')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByText('The entry was not saved').waitFor()

    const number = page.getByRole('group', { name: 'Phone 1' }).getByLabel('Number')
    assert.equal(await number.getAttribute('aria-invalid'), 'true')
    assert.equal(await page.locator(`#${String(await number.getAttribute('aria-describedby'))}`).textContent(), 'must be integer')
    assert.match(String(await page.locator('#f-full_name-error').textContent()), /blank/)
    assert.match(String(await page.locator('#f-emails-0-email-error').textContent()), /email/)
    await assertAccessible(page, 'the form with errors')
  })

  test('when someone else deletes the entry being edited, then saving offers to keep the changes as a new entry', async (t) => {
    const key = await keyFor('deleted')
    const api = apiClient(baseUrl, key)
    const id = await api.create({ full_name: 'Alan Turing' })
    const page = await newTab(t)
    await signIn(page, key, `/app/#/entry/${id}/edit`)
    await page.getByLabel('Organization').fill('Bletchley Park')

    assert.equal((await api.call(`/addresses/${id}`, { method: 'DELETE' })).status, 204)
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('button', { name: 'Save as a new entry' }).click()
    // The form's own heading names him too: wait until the app has moved to the new entry.
    await page.waitForURL((url) => /^#\/entry\/[^/]+$/.test(url.hash) && !url.hash.includes(id))
    await page.getByRole('heading', { name: 'Alan Turing' }).waitFor()

    const newId = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '')
    assert.notEqual(newId, id)
    assert.deepEqual((await api.read(newId)).entry, { full_name: 'Alan Turing', organization: 'Bletchley Park' })
  })

  test('when the key stops being accepted mid-session, then the next request returns to the sign-in screen with a clear message', async (t) => {
    const page = await newTab(t)
    await signIn(page, await keyFor('revoked'))

    await page.evaluate('sessionStorage.setItem("addrservice.credential", "addr_0000000000000000_revokedrevokedrevokedrevokedrevokedrevoke1")')
    await page.getByRole('searchbox', { name: 'Search the address book' }).fill('anyone')

    await page.getByRole('heading', { name: 'Sign in to your address book' }).waitFor()
    assert.match(String(await page.getByRole('alert').textContent()), /no longer accepts your key/)
    assert.equal(await page.evaluate('sessionStorage.getItem("addrservice.credential")'), null)
  })

  test('when a person uses the keyboard alone, then the delete dialog takes focus, Escape closes it, and focus returns', async (t) => {
    const key = await keyFor('keyboard')
    const id = await apiClient(baseUrl, key).create({ full_name: 'Grace Hopper' })
    const page = await newTab(t)
    await signIn(page, key, `/app/#/entry/${id}`)
    await page.getByRole('heading', { name: 'Grace Hopper' }).waitFor()
    const focused = () => page.evaluate('document.activeElement?.textContent ?? ""')

    let presses = 0
    while ((await focused()) !== 'Delete' && presses++ < 30) await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: 'Delete Grace Hopper?' })
    await dialog.waitFor()
    assert.equal(await focused(), 'Cancel')
    await page.keyboard.press('Tab')
    const second = await focused()
    await page.keyboard.press('Tab')
    const third = await focused()
    await page.keyboard.press('Shift+Tab')
    const back = await focused()
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden' })

    assert.deepEqual([second, third, back], ['Delete', 'Cancel', 'Delete'])
    assert.equal(await focused(), 'Delete')
    assert.equal((await apiClient(baseUrl, key).read(id)).status, 200)
  })

  test('when a person gives entries labels and a photo, then faces and chips show, the list filters by label, several entries are labelled at once, and labels are renamed and deleted for every entry', async (t) => {
    const owner = 'Lena P'
    const key = await keyFor(owner)
    const api = apiClient(baseUrl, key)
    const ada = await api.create({ full_name: 'Ada Lovelace', labels: ['Family'] })
    await api.create({ full_name: 'Grace Hopper', labels: ['Work'] })
    await api.create({ full_name: 'Alan Turing' })
    const picture = join(mkdtempSync(join(tmpdir(), 'addrservice-picture-')), 'ada.png')
    writeFileSync(picture, await aPng(400, 300))
    const page = await newTab(t)
    await signIn(page, key)

    // The entry: add a label in the form, with the book's labels suggested.
    await page.getByRole('list', { name: 'All entries, by name' }).getByRole('link', { name: /Ada Lovelace/ }).click()
    await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor()
    await page.getByRole('link', { name: 'Edit' }).click()
    await page.locator('#known-labels option').first().waitFor({ state: 'attached' })
    const suggestions = await Promise.all((await page.locator('#known-labels option').all()).map((option) => option.getAttribute('value')))
    await page.getByLabel('Add a label').fill('Poets')
    await page.getByLabel('Add a label').press('Enter')
    await page.getByRole('button', { name: 'Save' }).click()
    const chips = page.getByRole('list', { name: 'Labels' })
    await chips.getByRole('link', { name: 'Poets' }).waitFor()

    // The photo: picked, seen before saving, saved; the face shows in the list and on the entry.
    await page.locator('#photo-file').setInputFiles(picture)
    await page.getByRole('img', { name: 'The picture you picked for Ada Lovelace' }).waitFor()
    await page.getByRole('button', { name: 'Save photo' }).click()
    await page.getByRole('button', { name: 'Remove photo' }).waitFor()
    await page.locator('.entry-head .avatar img').waitFor()
    await page.locator('.entry-list a', { hasText: 'Ada Lovelace' }).locator('.avatar img').waitFor()
    await assertAccessible(page, 'an entry with a photo and labels')
    await screenshotsOf(page, 'entry-with-photo')
    const stored = await api.read(ada)

    // The list by label.
    await page.getByLabel('Label', { exact: true }).selectOption('Family')
    const labelled = page.getByRole('list', { name: 'Entries labelled “Family”' })
    await labelled.getByRole('link', { name: /Ada Lovelace/ }).waitFor()
    const names = await labelled.locator('.entry-name').allTextContents()
    await assertAccessible(page, 'the list by label')
    await screenshotsOf(page, 'list-with-faces')

    // Several entries at once: selected in the list, given a label, and it taken off one of them.
    await page.getByLabel('Label', { exact: true }).selectOption('')
    await page.getByRole('button', { name: 'Select entries' }).click()
    await page.getByRole('checkbox', { name: /Ada Lovelace/ }).check()
    await page.getByRole('checkbox', { name: /Alan Turing/ }).check()
    const bar = page.getByRole('group', { name: 'Label the selected entries' })
    await bar.getByText('2 entries selected').waitFor()
    await bar.getByLabel('Label').fill('Mathematicians')
    await bar.getByRole('button', { name: 'Add label' }).click()
    await page.getByText('Gave 2 entries the label “Mathematicians”.').waitFor()
    await page.getByRole('checkbox', { name: /Alan Turing/ }).check()
    await bar.getByLabel('Label').fill('Mathematicians')
    await bar.getByRole('button', { name: 'Remove label' }).click()
    await page.getByText('Took “Mathematicians” off 1 entry.').waitFor()
    await assertAccessible(page, 'entries selected to label')
    await page.getByRole('button', { name: 'Done selecting' }).click()

    // Rename a label and delete another, for every entry.
    await page.getByRole('link', { name: 'Manage labels' }).click()
    await page.getByRole('heading', { name: 'Labels' }).waitFor()
    await page.getByRole('button', { name: 'Rename Family' }).click()
    await page.getByLabel('New name for Family').fill('Kin')
    await page.getByRole('button', { name: 'Rename', exact: true }).click()
    await page.getByRole('link', { name: 'Kin' }).waitFor()
    await page.getByRole('button', { name: 'Delete Work' }).click()
    await page.getByRole('dialog', { name: 'Delete the label Work?' }).getByRole('button', { name: 'Delete label' }).click()
    await page.getByRole('button', { name: 'Delete Work' }).waitFor({ state: 'detached' })
    await assertAccessible(page, 'the labels screen')
    const after = await (await api.call('/labels')).json()

    assert.deepEqual(suggestions, ['Work'])
    assert.deepEqual(stored.entry.labels, ['Family', 'Poets'])
    assert.match(String((stored.entry as { photo?: { url: string } }).photo?.url), /\/photo\?v=/)
    assert.deepEqual(names, ['Ada Lovelace'])
    assert.deepEqual(after, { labels: [{ name: 'Kin', count: 1 }, { name: 'Mathematicians', count: 1 }, { name: 'Poets', count: 1 }] })
    assert.deepEqual((await api.read(ada)).entry.labels, ['Kin', 'Poets', 'Mathematicians'])
  })

  test('when a person deletes from the list or the entry screen, then a toast offers Undo, the keyboard reaches it, and it brings the entry back', async (t) => {
    const key = await keyFor('undo-toast')
    const api = apiClient(baseUrl, key)
    const ada = await api.create({ full_name: 'Ada Lovelace' })
    const alan = await api.create({ full_name: 'Alan Turing' })
    const page = await newTab(t)
    await signIn(page, key)
    const list = page.getByRole('list', { name: 'All entries, by name' })
    const toast = page.getByRole('status')
    const focused = () => page.evaluate('document.activeElement?.textContent ?? ""')

    // From the list: select, delete, and take it back with the keyboard alone.
    await page.getByRole('button', { name: 'Select entries' }).click()
    await page.getByRole('checkbox', { name: /Ada Lovelace/ }).check()
    await page.getByRole('button', { name: 'Delete selected' }).click()
    await toast.getByText('Deleted Ada Lovelace.').waitFor()
    await page.getByRole('checkbox', { name: /Ada Lovelace/ }).waitFor({ state: 'detached' })
    const deletedStatus = (await api.read(ada)).status
    await assertAccessible(page, 'the toast after a delete')
    await screenshotsOf(page, 'undo-toast')
    const focusAfterDelete = await focused()
    await page.keyboard.press('Enter')
    await toast.getByText('Restored Ada Lovelace.').waitFor()
    await page.getByRole('checkbox', { name: /Ada Lovelace/ }).waitFor()
    const restoredStatus = (await api.read(ada)).status
    await page.getByRole('button', { name: 'Done selecting' }).click()

    // From the entry screen: after its dialog, Undo opens the entry again.
    await list.getByRole('link', { name: /Alan Turing/ }).click()
    await page.getByRole('heading', { name: 'Alan Turing' }).waitFor()
    await page.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('dialog', { name: 'Delete Alan Turing?' }).getByRole('button', { name: 'Delete' }).click()
    await toast.getByText('Deleted Alan Turing.').waitFor()
    await toast.getByRole('button', { name: 'Undo' }).click()
    await page.getByRole('heading', { name: 'Alan Turing' }).waitFor()
    await toast.getByText('Restored Alan Turing.').waitFor()

    assert.equal(deletedStatus, 404)
    assert.equal(focusAfterDelete, 'Undo')
    assert.equal(restoredStatus, 200)
    assert.equal((await api.read(alan)).status, 200)
    assert.equal(new URL(page.url()).hash, `#/entry/${alan}`)
  })

  test('when entries are deleted, then the trash lists them, finds them, restores one, deletes one for good and empties', async (t) => {
    const key = await keyFor('trash')
    const api = apiClient(baseUrl, key)
    const ids: Record<string, string> = {}
    for (const name of ['Ada Lovelace', 'Grace Hopper', 'Alan Turing']) {
      ids[name] = await api.create({ full_name: name })
      assert.equal((await api.call(`/addresses/${ids[name]}`, { method: 'DELETE' })).status, 204)
    }
    const page = await newTab(t)
    await signIn(page, key)

    await page.getByRole('link', { name: 'Trash' }).click()
    await page.getByRole('heading', { name: 'Trash' }).waitFor()
    const trash = page.getByRole('list', { name: 'Deleted entries, the most recent first' })
    await trash.getByText('Ada Lovelace').waitFor()
    const shown = await trash.locator('.entry-name').allTextContents()
    const when = await trash.locator('.entry-sub').first().textContent()
    assert.equal(await page.title(), 'Trash – Address book')
    await assertAccessible(page, 'the trash')
    await screenshotsOf(page, 'trash')

    // Search it.
    await page.getByRole('searchbox', { name: 'Search the trash' }).fill('grace')
    const found = page.getByRole('list', { name: 'Deleted entries matching “grace”' })
    await found.getByText('Grace Hopper').waitFor()
    const matching = await found.locator('.entry-name').allTextContents()
    await page.getByRole('searchbox', { name: 'Search the trash' }).fill('')
    await trash.getByText('Ada Lovelace').waitFor()

    // Restore one: it is back in the book and in the list.
    await page.getByRole('button', { name: 'Restore Ada Lovelace' }).click()
    await page.getByText('Restored Ada Lovelace.').waitFor()
    await page.getByRole('list', { name: 'All entries, by name' }).getByRole('link', { name: /Ada Lovelace/ }).waitFor()
    await trash.getByText('Ada Lovelace').waitFor({ state: 'detached' })

    // Delete one for good, after a confirmation.
    await page.getByRole('button', { name: 'Delete for good: Grace Hopper' }).click()
    const forGood = page.getByRole('dialog', { name: 'Delete Grace Hopper for good?' })
    await assertAccessible(page, 'the delete-for-good dialog')
    await forGood.getByRole('button', { name: 'Delete for good' }).click()
    await page.getByText('Deleted Grace Hopper for good.').waitFor()
    await trash.getByText('Grace Hopper').waitFor({ state: 'detached' })

    // Empty it.
    await page.getByRole('button', { name: 'Empty trash' }).click()
    await page.getByRole('dialog', { name: 'Empty the trash?' }).getByRole('button', { name: 'Empty trash' }).click()
    await page.getByText('Deleted 1 entry for good.').waitFor()
    await page.getByText('Nothing in the trash. Deleted entries stay here for 30 days.').waitFor()
    await assertAccessible(page, 'the empty trash')
    const left = (await (await api.call('/trash')).json()) as { entries: unknown[] }

    assert.deepEqual(shown, ['Alan Turing', 'Grace Hopper', 'Ada Lovelace'])
    assert.match(String(when), /^Deleted (just now|\d+ seconds? ago) \(.+\)$/)
    assert.deepEqual(matching, ['Grace Hopper'])
    assert.equal((await api.read(ids['Ada Lovelace'] ?? '')).status, 200)
    assert.equal((await api.call(`/trash/${ids['Grace Hopper'] ?? ''}/restore`, { method: 'POST' })).status, 404)
    assert.equal((await api.call(`/trash/${ids['Alan Turing'] ?? ''}/restore`, { method: 'POST' })).status, 404)
    assert.deepEqual(left.entries, [])
  })

  test('when an entry has changed, then its history lists each version with what changed, restores an earlier one, and says so when the entry changed meanwhile', async (t) => {
    const key = await keyFor('history')
    const api = apiClient(baseUrl, key)
    const id = await api.create({ full_name: 'Ada Lovelace', nickname: 'Ada', labels: ['Family'] })
    const first = await api.read(id)
    const put = (entry: Entry, etag: string) =>
      api.call(`/addresses/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json', 'if-match': etag }, body: JSON.stringify(entry) })
    assert.equal((await put({ full_name: 'Ada Lovelace', organization: 'Analytical Engine Society', labels: ['Family', 'Work'] }, first.etag)).status, 204)
    const page = await newTab(t)
    await signIn(page, key, `/app/#/entry/${id}`)
    await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor()

    await page.getByRole('button', { name: 'History' }).click()
    const versions = page.getByRole('list', { name: 'Versions, newest first' })
    await versions.getByRole('heading', { name: 'Version 1' }).waitFor()
    const secondChanges = await page.getByRole('list', { name: 'What version 2 changed' }).getByRole('listitem').allTextContents()
    const firstChanges = await page.getByRole('list', { name: 'What version 1 changed' }).getByRole('listitem').allTextContents()
    const secondWhen = await versions.locator('.version-when').first().textContent()
    const restoreButtons = await versions.getByRole('button', { name: /^Restore this version/ }).count()
    await assertAccessible(page, 'an entry with its history')
    await screenshotsOf(page, 'entry-history')

    // Restore version 1: the entry is as it was, at a new version made by a restore.
    await page.getByRole('button', { name: 'Restore this version (version 1)' }).click()
    await page.getByText('Restored version 1.').waitFor()
    await versions.getByRole('heading', { name: /Version 3/ }).waitFor()
    await page.getByText('“Ada”', { exact: true }).waitFor()
    const thirdWhen = await versions.locator('.version-when').first().textContent()
    const restored = await api.read(id)

    // Someone else changes it meanwhile: the restore is refused, and the entry shown is theirs.
    assert.equal((await put({ full_name: 'Ada King' }, restored.etag)).status, 204)
    await page.getByRole('button', { name: 'Restore this version (version 2)' }).click()
    await page.getByText('This entry changed meanwhile, so nothing was restored.').waitFor()
    await page.getByRole('heading', { name: 'Ada King' }).waitFor()
    await versions.getByRole('heading', { name: /Version 4/ }).waitFor()

    assert.deepEqual(secondChanges.sort(), ['Added label “Work”', 'Added organization “Analytical Engine Society”', 'Removed nickname “Ada”'])
    assert.deepEqual(firstChanges.sort(), ['Added labels “Family”', 'Added name “Ada Lovelace”', 'Added nickname “Ada”'])
    assert.match(String(secondWhen), /through the JSON API$/)
    assert.equal(restoreButtons, 1)
    assert.match(String(thirdWhen), /by a restore$/)
    assert.deepEqual(restored.entry, { full_name: 'Ada Lovelace', nickname: 'Ada', labels: ['Family'] })
    assert.deepEqual((await api.read(id)).entry, { full_name: 'Ada King' })
  })

  test('when a person undoes the changes since a time, then a time outside the history is refused, the preview names what changes, and the list shows the book as it was', async (t) => {
    const key = await keyFor('undo-changes')
    const api = apiClient(baseUrl, key)
    const ada = await api.create({ full_name: 'Ada Lovelace' })
    const alan = await api.create({ full_name: 'Alan Turing' })
    await api.create({ full_name: 'Grace Hopper' })
    // The custom time has whole seconds: it falls a second after the book above and before the changes below.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const then = new Date(Math.floor(Date.now() / 1000) * 1000)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const adaThen = await api.read(ada)
    await api.call(`/addresses/${ada}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': adaThen.etag },
      body: JSON.stringify({ full_name: 'Ada Lovelace', organization: 'Analytical Engine Society' }),
    })
    assert.equal((await api.call(`/addresses/${alan}`, { method: 'DELETE' })).status, 204)
    await api.create({ full_name: 'Charles Babbage' })
    const page = await newTab(t)
    await signIn(page, key)
    const list = page.getByRole('list', { name: 'All entries, by name' })

    await page.getByRole('button', { name: 'Undo changes…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Undo changes' })
    await dialog.getByRole('radio', { name: 'Another time' }).check()
    await dialog.getByLabel('Date and time').fill(localInputValue(new Date(Date.now() - 60 * 86_400_000)))
    const refusal = await dialog.locator('.restore-preview .error').textContent()
    await dialog.getByLabel('Date and time').fill(localInputValue(then))
    await dialog.getByText(/^Since .*:$/).waitFor()
    const preview = await dialog.locator('.restore-preview li').allTextContents()
    await assertAccessible(page, 'the undo changes dialog with a preview')
    await screenshotsOf(page, 'undo-changes')
    await dialog.getByRole('button', { name: 'Undo changes' }).click()
    await page.getByText(/^Undid the changes since/).waitFor()
    await list.getByRole('link', { name: /Alan Turing/ }).waitFor()
    const names = await list.locator('.entry-name').allTextContents()

    assert.match(String(refusal), /history kept/)
    assert.deepEqual(preview, [
      'Get their content of then back (1): Ada Lovelace',
      'Created since, so moved to the trash (1): Charles Babbage',
      'Deleted since, so brought back (1): Alan Turing',
    ])
    assert.deepEqual(names, ['Ada Lovelace', 'Alan Turing', 'Grace Hopper'])
    assert.deepEqual((await api.read(ada)).entry, { full_name: 'Ada Lovelace' })
  })

  test('when a person connects a device, then its password is shown once, copies, comes as an Apple profile, opens CardDAV, and stops working when revoked', async (t) => {
    const owner = 'Dana K'
    const page = await newTab(t)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(baseUrl).origin })
    await signIn(page, await keyFor(owner))
    const davBook = new URL(`/dav/addressbooks/${encodeURIComponent(owner)}/contacts/`, baseUrl)
    const propfindWith = (key: string) =>
      fetch(davBook, { method: 'PROPFIND', headers: { depth: '0', authorization: `Basic ${Buffer.from(`${owner}:${key}`).toString('base64')}` } })

    await page.getByRole('link', { name: 'Connect a device' }).click()
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor()
    await page.getByRole('main').locator('code', { hasText: owner }).waitFor()
    assert.equal(await page.title(), 'Connect a device – Address book')
    await page.getByRole('textbox', { name: 'Device', exact: true }).fill("Maria's iPhone")
    await page.getByRole('button', { name: 'Create device password' }).click()
    const password = page.getByRole('textbox', { name: 'Device password' })
    await password.waitFor()
    const key = await password.inputValue()
    await page.getByRole('button', { name: 'Copy' }).click()
    await page.getByText('Copied the device password.').waitFor({ state: 'attached' })
    const copied = await page.evaluate<string>('navigator.clipboard.readText()')
    const keys = page.getByRole('table', { name: 'Your device passwords' })
    await keys.getByRole('rowheader', { name: "Maria's iPhone" }).waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download profile (.mobileconfig)' }).click()])
    const profile = readFileSync(await download.path(), 'utf8')
    const plistValue = (name: string) => new RegExp(`<key>${name}</key>\\s*<(?:string|integer)>([^<]*)<`).exec(profile)?.[1]
    await assertAccessible(page, 'the device screen with a new password')
    await screenshotsOf(page, 'devices')

    assert.match(key, /^addr_[0-9a-f]{16}_\S+$/)
    assert.equal(copied, key)
    assert.equal(await password.getAttribute('readonly'), '')
    assert.equal(download.suggestedFilename(), 'addrservice.mobileconfig')
    assert.match(profile, /<key>PayloadType<\/key>\s*<string>com\.apple\.carddav\.account<\/string>/)
    assert.match(profile, /<key>PayloadType<\/key>\s*<string>Configuration<\/string>/)
    assert.deepEqual(
      ['CardDAVHostName', 'CardDAVPort', 'CardDAVPrincipalURL', 'CardDAVUsername', 'CardDAVPassword', 'CardDAVAccountDescription'].map(plistValue),
      ['127.0.0.1', new URL(baseUrl).port, '/dav/principals/Dana%20K/', owner, key, 'Maria&apos;s iPhone'],
    )
    assert.match(profile, /<key>CardDAVUseSSL<\/key>\s*<false\/>/)
    assert.equal((await propfindWith(key)).status, 207)

    await keys.getByRole('button', { name: "Revoke Maria's iPhone" }).click()
    const dialog = page.getByRole('dialog', { name: "Revoke Maria's iPhone?" })
    await dialog.getByRole('button', { name: 'Revoke' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await keys.getByRole('row', { name: /Maria's iPhone/ }).getByText(/^Revoked/).waitFor()
    // Each instance may trust what it read of a key for auth.key-cache-ms (2 s by default).
    let refused = await propfindWith(key)
    for (let tries = 0; refused.status !== 401 && tries < 30; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      refused = await propfindWith(key)
    }
    assert.equal(refused.status, 401)
    assert.equal(await keys.getByRole('button', { name: /^Revoke/ }).count(), 1, 'the key this browser signed in with is still revocable')
  })

  test('when a book has 1,000 entries, then the first rows come at once, more load on scroll, the count says 1,000, and the long list passes axe', async (t) => {
    const key = await keyFor('bob')
    const api = apiClient(baseUrl, key)
    const samples = readdirSync(SAMPLES).map((file) => JSON.stringify(JSON.parse(readFileSync(join(SAMPLES, file), 'utf8'))))
    const seeded = Array.from({ length: 1000 }, (_, index) => {
      const sample = JSON.parse(samples[index % samples.length] ?? '{}') as Entry
      return JSON.stringify({ ...sample, full_name: `${sample.full_name} ${String(index).padStart(4, '0')}` })
    })
    assert.equal(await api.import(seeded.join('\n'), 'application/x-ndjson'), 1000)
    const page = await newTab(t)
    await signIn(page, key)

    const started = performance.now()
    await page.goto(new URL('/app/?first-render', baseUrl).href)
    const rows = page.getByRole('list', { name: 'All entries, by name' }).getByRole('link')
    await rows.first().waitFor()
    const seenHere = performance.now() - started
    const markedInPage = await page.evaluate<number>('performance.getEntriesByName("first-rows")[0].startTime')
    t.diagnostic(`first render of a 1,000-entry book: ${markedInPage.toFixed(0)} ms from navigation to the first rows on screen (as the page marks it; ${seenHere.toFixed(0)} ms as the test sees it)`)

    const names = await page.locator('.entry-list .entry-name').allTextContents()
    const firstPage = names.length
    assert.deepEqual(names, [...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)))
    await rows.last().scrollIntoViewIfNeeded()
    // The page's CSP forbids eval, so the wait polls from here rather than with waitForFunction.
    await rows.nth(firstPage).waitFor()
    await page.getByRole('button', { name: 'Count entries' }).click()
    await page.getByText('1,000 entries').waitFor()

    await assertAccessible(page, 'a long list')
  })

  test('when a book holds what contacts apps export, then list, entry, form and import pass axe, and screenshots show them', async (t) => {
    const key = await keyFor('carol')
    const api = apiClient(baseUrl, key)
    for (const file of ['google.vcf', 'apple-ios.vcf', 'apple-macos.vcf', 'thunderbird.vcf']) {
      await api.import(readFileSync(join(VCARDS, file), 'utf8'), 'text/vcard')
    }
    await api.create(JSON.parse(readFileSync(join(SAMPLES, 'asha-rao.json'), 'utf8')) as Entry)
    const page = await newTab(t)
    await signIn(page, key, '/app/#/transfer')

    // Drag and drop a file onto the import area.
    const bytes = readFileSync(join(VCARDS, 'outlook.vcf')).toString('base64')
    const dropped = await page.evaluateHandle(
      `(() => { const data = new DataTransfer(); data.items.add(new File([Uint8Array.from(atob("${bytes}"), (c) => c.charCodeAt(0))], 'outlook.vcf', { type: 'text/vcard' })); return data })()`,
    )
    await page.locator('.drop-zone').dispatchEvent('drop', { dataTransfer: dropped })
    await page.getByText('2 entries created').waitFor()
    await page.getByRole('main').getByRole('link', { name: 'François Dupont' }).waitFor()
    await page.getByRole('main').getByRole('link', { name: 'Dr. Jürgen Müller' }).waitFor()
    await assertAccessible(page, 'an import')
    await screenshotsOf(page, 'import')

    await page.goto(new URL('/app/', baseUrl).href)
    const list = page.getByRole('list', { name: 'All entries, by name' })
    await list.getByRole('link').first().waitFor()
    await assertAccessible(page, 'the list')
    await screenshotsOf(page, 'list')
    await list.getByRole('link', { name: /Maria Santos/ }).click()
    await page.getByRole('heading', { name: 'Maria Santos' }).waitFor()
    await assertAccessible(page, 'an entry')
    await screenshotsOf(page, 'entry')
    await page.goto(new URL('/app/#/new', baseUrl).href)
    await page.getByRole('button', { name: 'Add phone' }).click()
    await page.getByRole('button', { name: 'Add email' }).click()
    await page.getByRole('button', { name: 'Add address' }).click()
    await assertAccessible(page, 'the form')
    await screenshotsOf(page, 'form')
  })
})

describe('the web app in Chromium, with authentication off', { skip: CHROMIUM_MISSING }, () => {
  let dir: string
  let server: ServerProcess
  let context: BrowserContext
  let closeBrowser: () => Promise<void>

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'addrservice-browser-open-'))
    server = await startServer(['--db', `sqlite:${join(dir, 'addressbook.db')}`, '--auth', 'none'])
    ;({ context, close: closeBrowser } = await launchChromium())
    context.setDefaultTimeout(10_000)
  })

  after(async () => {
    await closeBrowser()
    server.child.kill('SIGTERM')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  })

  test('when a person connects a device, then the screen says no password is needed, names the owner, and offers a profile without one', async (t) => {
    const page = await context.newPage()
    t.after(() => page.close())

    await page.goto(new URL('/app/#/devices', server.baseUrl).href)
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor()
    await page.getByText('Devices connect without a password here').waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download profile (.mobileconfig)' }).click()])
    const profile = readFileSync(await download.path(), 'utf8')
    const main = page.getByRole('main')
    const davRoot = await fetch(new URL('/dav/addressbooks/default/contacts/', server.baseUrl), { method: 'PROPFIND', headers: { depth: '0' } })
    const violations = await seriousAxeViolations(page)

    assert.equal(await main.locator('code', { hasText: /^default$/ }).count(), 1)
    assert.equal(await main.getByRole('button', { name: 'Create device password' }).count(), 0)
    assert.match(profile, /<key>CardDAVUsername<\/key>\s*<string>default<\/string>/)
    assert.match(profile, /<key>CardDAVPrincipalURL<\/key>\s*<string>\/dav\/principals\/default\/<\/string>/)
    assert.doesNotMatch(profile, /CardDAVPassword/)
    assert.equal(davRoot.status, 207)
    assert.deepEqual(violations, [], describeViolations(violations))
  })
})
