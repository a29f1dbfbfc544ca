import type { AddressEntry } from '../../src/domain/address-entry.js'

export type { AddressEntry, EmailAddress, PhoneNumber, PostalAddress } from '../../src/domain/address-entry.js'

/** One reason the server refused a value: where in the entry (a JSON Pointer) and why. */
export interface FieldError {
  path: string
  message: string
}

/** An import's reason to refuse one line (NDJSON) or card (vCard). */
export interface ImportError extends FieldError {
  line?: number
  card?: number
}

/** An application/problem+json body (RFC 9457) as the service sends it. */
export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  errors?: ImportError[]
}

export interface Unmapped {
  property: string
  value: string
  reason?: string
}

export interface ImportResult {
  created: { id: string; etag: string; line?: number; card?: number; unmapped?: Unmapped[] }[]
}

/** Where an entry's photo is, as the service links it: its URL names the photo, so it never changes. */
export interface PhotoLink {
  etag: string
  url: string
}

/** An entry as the service answers it: with its photo's link when it has one. */
export type EntryRecord = AddressEntry & { photo?: PhotoLink }

/** A label of the book, and how many entries have it. */
export interface LabelSummary {
  name: string
  count: number
}

export interface Page {
  entries: [string, EntryRecord][]
  /** The next page's URL from the Link header, or null on the last page. */
  next: string | null
}

export type ExportFormat = 'vcard' | 'ndjson'

/** A refusal of the server, with its status and problem body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `The server answered ${status}`)
    this.name = 'ApiError'
  }
}

/** The credential was missing or not accepted: the app goes back to its sign-in screen. */
export class UnauthorizedError extends ApiError {
  override name = 'UnauthorizedError'
}

const TOKEN_KEY = 'addrservice.credential'

/** The API key or token of this tab's session (sessionStorage: it ends with the tab). */
export const credential = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => {
    sessionStorage.setItem(TOKEN_KEY, value)
  },
  clear: () => {
    sessionStorage.removeItem(TOKEN_KEY)
  },
}

let onUnauthorized: (error: UnauthorizedError) => void = () => undefined

/** Who hears of a 401: the app, which shows the sign-in screen. */
export function whenUnauthorized(handler: (error: UnauthorizedError) => void): void {
  onUnauthorized = handler
}

async function problemOf(response: Response): Promise<Problem> {
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('json')) {
    try {
      return (await response.json()) as Problem
    } catch {
      // A body that is not the JSON it claims: the status alone says what happened.
    }
  }
  return { status: response.status, title: response.statusText }
}

/** A request to the service itself (same origin), with the session's credential; every answer that is not 2xx or 304 throws. */
async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  const token = credential.get()
  if (token !== null) headers.set('Authorization', `Bearer ${token}`)
  let response: Response
  try {
    response = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' })
  } catch {
    throw new ApiError(0, { title: 'Network error', detail: 'The service could not be reached. Check your connection and try again.' })
  }
  if (response.ok) return response
  const problem = await problemOf(response)
  if (response.status === 401) {
    const error = new UnauthorizedError(401, problem)
    onUnauthorized(error)
    throw error
  }
  throw new ApiError(response.status, problem)
}

/** The URL of rel="next" in a Link header. */
export function nextLink(header: string | null): string | null {
  if (header === null) return null
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part)
    if (match?.[2] !== undefined && /\brel="?next"?/.test(match[2])) return match[1] ?? null
  }
  return null
}

/** The path of the first page of a listing: sorted by name, filtered by q and a label. */
export function firstPagePath(q: string, limit = 50, label = ''): string {
  const parameters = new URLSearchParams({ sort: 'full_name', limit: String(limit) })
  if (q !== '') parameters.set('q', q)
  if (label !== '') parameters.set('label', label)
  return `/addresses?${parameters.toString()}`
}

export async function fetchPage(path: string): Promise<Page> {
  const response = await request(path, { headers: { Accept: 'application/json' } })
  const body = (await response.json()) as Record<string, EntryRecord>
  return { entries: Object.entries(body), next: nextLink(response.headers.get('link')) }
}

/** How many entries match q and the label (X-Total-Count), asking for a page of one. */
export async function countEntries(q: string, label = ''): Promise<number> {
  const parameters = new URLSearchParams({ count: 'true', limit: '1' })
  if (q !== '') parameters.set('q', q)
  if (label !== '') parameters.set('label', label)
  const response = await request(`/addresses?${parameters.toString()}`, { headers: { Accept: 'application/json' } })
  return Number(response.headers.get('x-total-count') ?? '0')
}

const entryPath = (id: string) => `/addresses/${encodeURIComponent(id)}`

export async function fetchEntry(id: string): Promise<{ entry: EntryRecord; etag: string }> {
  const response = await request(entryPath(id), { headers: { Accept: 'application/json' } })
  return { entry: (await response.json()) as EntryRecord, etag: response.headers.get('etag') ?? '' }
}

/** Photos fetched this session, by URL: a photo's URL names it, so what it answers never changes. */
const photoUrls = new Map<string, Promise<string>>()

/** An object URL of the photo (or its thumbnail) a link names, fetched once per session. */
export function photoObjectUrl(url: string, size: 'photo' | 'thumbnail'): Promise<string> {
  const path = size === 'thumbnail' ? `${url}&size=96` : url
  let found = photoUrls.get(path)
  if (found === undefined) {
    found = request(path, { headers: { Accept: 'image/jpeg' } }).then(async (response) => URL.createObjectURL(await response.blob()))
    found.catch(() => photoUrls.delete(path))
    photoUrls.set(path, found)
  }
  return found
}

/** Gives the entry this picture as its photo (the service decodes, turns and shrinks it). */
export async function putPhoto(id: string, picture: Blob): Promise<void> {
  await request(`${entryPath(id)}/photo`, { method: 'PUT', headers: { 'Content-Type': picture.type || 'application/octet-stream' }, body: picture })
}

export async function deletePhoto(id: string): Promise<void> {
  await request(`${entryPath(id)}/photo`, { method: 'DELETE' })
}

export async function fetchLabels(): Promise<LabelSummary[]> {
  const response = await request('/labels', { headers: { Accept: 'application/json' } })
  return ((await response.json()) as { labels: LabelSummary[] }).labels
}

const labelPath = (name: string) => `/labels/${encodeURIComponent(name)}`

/** Gives every entry with the label the new name instead. */
export async function renameLabel(name: string, to: string): Promise<LabelSummary> {
  const response = await request(labelPath(name), { method: 'PATCH', headers: JSON_BODY, body: JSON.stringify({ name: to }) })
  return (await response.json()) as LabelSummary
}

/** Puts the label on these entries and takes it off those, in one go. */
export async function assignLabel(name: string, changes: { add?: string[]; remove?: string[] }): Promise<LabelSummary> {
  const response = await request(`${labelPath(name)}/entries`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify(changes) })
  return (await response.json()) as LabelSummary
}

/** Takes the label off every entry that has it. */
export async function deleteLabel(name: string): Promise<void> {
  await request(labelPath(name), { method: 'DELETE' })
}

/** The entry's current ETag, without its body. */
export async function currentEtag(id: string): Promise<string> {
  const response = await request(entryPath(id), { method: 'HEAD' })
  return response.headers.get('etag') ?? ''
}

const JSON_BODY = { 'Content-Type': 'application/json', Accept: 'application/json' }

export async function createEntry(entry: unknown): Promise<{ id: string; etag: string }> {
  const response = await request('/addresses', { method: 'POST', headers: JSON_BODY, body: JSON.stringify(entry) })
  const location = response.headers.get('location') ?? ''
  return { id: decodeURIComponent(location.slice(location.lastIndexOf('/') + 1)), etag: response.headers.get('etag') ?? '' }
}

/** Replaces the entry if it is still at `etag` (412 otherwise); answers the new ETag. */
export async function updateEntry(id: string, entry: unknown, etag: string): Promise<string> {
  const response = await request(entryPath(id), { method: 'PUT', headers: { ...JSON_BODY, 'If-Match': etag }, body: JSON.stringify(entry) })
  return response.headers.get('etag') ?? ''
}

export async function deleteEntry(id: string, etag: string): Promise<void> {
  await request(entryPath(id), { method: 'DELETE', headers: etag === '' ? {} : { 'If-Match': etag } })
}

/** What an import file is, by its name, else by its first characters. */
export function importMediaType(name: string, text: string): string {
  if (/\.(vcf|vcard)$/i.test(name)) return 'text/vcard'
  if (/\.(ndjson|jsonl)$/i.test(name)) return 'application/x-ndjson'
  return /^\s*BEGIN:VCARD/i.test(text) ? 'text/vcard' : 'application/x-ndjson'
}

/** Sends the file as it is, byte for byte: the server reads each card's CHARSET and ENCODING itself. */
export async function importBook(file: Blob, mediaType: string): Promise<ImportResult> {
  const response = await request('/addresses', {
    method: 'POST',
    headers: { 'Content-Type': mediaType, Accept: 'application/json' },
    body: file,
  })
  return (await response.json()) as ImportResult
}

const EXPORT_TYPES: Record<ExportFormat, { accept: string; extension: string }> = {
  vcard: { accept: 'text/vcard', extension: 'vcf' },
  ndjson: { accept: 'application/x-ndjson', extension: 'ndjson' },
}

/** The book (or the entries matching q) as a file to save. */
export async function exportBook(format: ExportFormat, q: string): Promise<{ blob: Blob; fileName: string }> {
  const { accept, extension } = EXPORT_TYPES[format]
  const parameters = new URLSearchParams({ sort: 'full_name' })
  if (q !== '') parameters.set('q', q)
  const response = await request(`/addresses?${parameters.toString()}`, { headers: { Accept: accept } })
  const blob = await response.blob()
  const date = new Date().toISOString().slice(0, 10)
  return { blob, fileName: `addressbook-${date}${q === '' ? '' : '-search'}.${extension}` }
}

/** Whether the service answers without a credential (authentication off), or asks for one. */
export async function probe(): Promise<void> {
  await request('/addresses?limit=1', { headers: { Accept: 'application/json' } })
}

export type KeyScope = 'read' | 'write'

/** One of the owner's device keys, as GET /keys lists it: never the secret itself. */
export interface DeviceKey {
  id: string
  label: string | null
  scope: KeyScope
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

/** The owner's keys, or null when the service has no keys API (authentication off: 404). */
export async function listKeys(): Promise<DeviceKey[] | null> {
  try {
    const response = await request('/keys', { headers: { Accept: 'application/json' } })
    return ((await response.json()) as { keys: DeviceKey[] }).keys
  } catch (error) {
    if (error instanceof ApiError && !(error instanceof UnauthorizedError) && error.status === 404) return null
    throw error
  }
}

/** A new key for a device: the answer holds the key itself, which the server never shows again. */
export async function createKey(label: string, scope: KeyScope): Promise<DeviceKey & { key: string }> {
  const response = await request('/keys', { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ label, scope }) })
  return (await response.json()) as DeviceKey & { key: string }
}

export async function revokeKey(id: string): Promise<void> {
  await request(`/keys/${encodeURIComponent(id)}`, { method: 'DELETE' })
}

const PRINCIPAL_QUERY = '<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>'

/**
 * Who the session acts for, as CardDAV names them: an API key does not say its owner's name to the
 * app, but the DAV root's current-user-principal does, in every authentication mode. Null when
 * the answer names no principal.
 */
export async function currentOwner(): Promise<string | null> {
  const response = await request('/dav/', {
    method: 'PROPFIND',
    headers: { Depth: '0', 'Content-Type': 'application/xml; charset=utf-8' },
    body: PRINCIPAL_QUERY,
  })
  const document = new DOMParser().parseFromString(await response.text(), 'application/xml')
  const principal = document.getElementsByTagNameNS('DAV:', 'current-user-principal')[0]
  const href = principal?.getElementsByTagNameNS('DAV:', 'href')[0]?.textContent ?? ''
  const match = /\/principals\/([^/]+)\/?$/.exec(new URL(href.trim(), location.origin).pathname)
  return match?.[1] === undefined ? null : decodeURIComponent(match[1])
}

/** Through what a version of an entry was made. */
export type ChangeSource = 'api' | 'import' | 'carddav' | 'restore'

/** One operation of a JSON Patch (RFC 6902): what a version changed of the one before it. */
export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test'
  path: string
  value?: unknown
  from?: string
}

/** A version of an entry, as GET /addresses/{id}/history lists it. */
export interface EntryVersion {
  version: number
  etag: string
  changed_at: string
  replaced_at?: string
  source: ChangeSource
  /** Whether the entry is at this version now. */
  current: boolean
  /** Whether the entry was deleted at the end of this version. */
  deleted: boolean
  entry: EntryRecord
  diff: PatchOperation[]
}

export interface HistoryPage {
  versions: EntryVersion[]
  /** The next (older) page's URL, or null on the last page. */
  next: string | null
}

/** An entry's versions, newest first: the first page from its id, later ones from the `next` a page gave. */
export async function fetchHistory(id: string, next?: string): Promise<HistoryPage> {
  const response = await request(next ?? `${entryPath(id)}/history?limit=20`, { headers: { Accept: 'application/json' } })
  const body = (await response.json()) as { versions: EntryVersion[] }
  return { versions: body.versions, next: nextLink(response.headers.get('link')) }
}

/** Gives the entry the content of an earlier version, if it is still at `etag` (412 otherwise). */
export async function restoreVersion(id: string, version: number, etag: string): Promise<{ entry: EntryRecord; etag: string }> {
  const response = await request(`${entryPath(id)}/history/${String(version)}/restore`, {
    method: 'POST',
    headers: { Accept: 'application/json', ...(etag === '' ? {} : { 'If-Match': etag }) },
  })
  return { entry: (await response.json()) as EntryRecord, etag: response.headers.get('etag') ?? '' }
}

/** An entry in the trash, and when it was deleted. */
export interface TrashedEntry {
  id: string
  etag: string
  deleted_at: string
  entry: EntryRecord
}

export interface TrashPage {
  entries: TrashedEntry[]
  next: string | null
}

/** The path of the trash's first page: the most recently deleted first, filtered by q. */
export function trashPagePath(q: string, limit = 50): string {
  const parameters = new URLSearchParams({ limit: String(limit) })
  if (q !== '') parameters.set('q', q)
  return `/trash?${parameters.toString()}`
}

export async function fetchTrash(path: string): Promise<TrashPage> {
  const response = await request(path, { headers: { Accept: 'application/json' } })
  const body = (await response.json()) as { entries: TrashedEntry[] }
  return { entries: body.entries, next: nextLink(response.headers.get('link')) }
}

/** Brings a deleted entry back under its id (409 when its id or card name was taken meanwhile). */
export async function restoreFromTrash(id: string): Promise<{ entry: EntryRecord; etag: string }> {
  const response = await request(`/trash/${encodeURIComponent(id)}/restore`, { method: 'POST', headers: { Accept: 'application/json' } })
  return { entry: (await response.json()) as EntryRecord, etag: response.headers.get('etag') ?? '' }
}

/** Deletes an entry in the trash for good: it cannot be brought back after this. */
export async function deleteFromTrash(id: string): Promise<void> {
  await request(`/trash/${encodeURIComponent(id)}`, { method: 'DELETE' })
}

/** Deletes every entry in the trash for good; answers how many there were. */
export async function emptyTrash(): Promise<number> {
  const response = await request('/trash', { method: 'DELETE', headers: { Accept: 'application/json' } })
  return ((await response.json()) as { deleted: number }).deleted
}

/** A relative time the server understands (ago), or an ISO 8601 time. */
export type RestoreTime = '10m' | '1h' | 'yesterday' | '1w' | (string & {})

/** What putting the book back did, or would do with preview: the ids restored, moved to the trash and brought back. */
export interface BookRestore {
  /** The time the book was (or would be) put back to, ISO 8601. */
  at: string
  preview: boolean
  restored: string[]
  trashed: string[]
  recreated: string[]
}

/** Puts the whole book back as it was at a time, in one go; with preview, only says what that would do. */
export async function restoreBook(at: RestoreTime, preview: boolean): Promise<BookRestore> {
  const response = await request(`/addresses/restore${preview ? '?preview=true' : ''}`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ at }) })
  return (await response.json()) as BookRestore
}
