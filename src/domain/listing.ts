import type { AddressEntry, PhoneNumber } from './address-entry.js'

/**
 * How a book is listed: which entries (filters and a search), in which order, a page at a time.
 * The same definitions serve every store, so that memory, SQLite and PostgreSQL agree on what
 * matches and in what order: stores keep what `indexEntry` derives beside each entry.
 */

export const SORT_KEYS = ['full_name', 'created', 'updated'] as const
export type SortKey = (typeof SORT_KEYS)[number]

export interface Sort {
  readonly key: SortKey
  readonly descending: boolean
}

/** The default order: creation, then id (ids grow with creation time). */
export const DEFAULT_SORT: Sort = Object.freeze({ key: 'created', descending: false })

/** Fields an entry can be filtered on exactly (case-insensitively). */
export const TERM_FIELDS = ['full_name', 'email', 'phone', 'city', 'country', 'label'] as const
export type TermField = (typeof TERM_FIELDS)[number]

export interface Term {
  readonly field: TermField
  readonly value: string
}

/**
 * A label as the entry writes it, kept in the index beside the filter terms (which hold it
 * folded), so that a store can count a book's labels by their spellings without reading entries.
 */
export const LABEL_NAME = 'label_name'

/** What a store keeps of an entry to filter it by exact values, and to count its labels. */
export type IndexTerm = Term | { readonly field: typeof LABEL_NAME; readonly value: string }

/** Filters as a store applies them: values already normalized by `normalizeFilter`. */
export interface EntryFilter {
  /** A substring of the entry's search text. */
  readonly q?: string
  readonly terms: readonly Term[]
}

/** What a store keeps beside an entry so that it can filter, search and sort it. */
export interface EntryIndex {
  /** The name as it sorts: folded by `foldCase`. */
  readonly sortName: string
  /** Name, nickname, organization, emails, phone numbers, cities, countries and labels, folded by `foldCase`, one per line. */
  readonly searchText: string
  /** The values exact filters match, normalized, and the entry's labels as written. */
  readonly terms: readonly IndexTerm[]
}

/**
 * Text as filters, the search and the name order compare it: compatibility forms folded (NFKC:
 * "ﬁ" is "fi", a full-width "Ａ" is "A") and then lower case, so that matching ignores case and
 * how a character was typed. It is Unicode's caseless comparison (i;unicode-casemap) simplified
 * to lower case, so that a protocol comparing that way can narrow what it reads by this index.
 */
export function foldCase(text: string): string {
  return text.normalize('NFKC').toLowerCase()
}

/** The digits of a phone number as dialled from abroad: country code, area code, local number. */
function internationalDigits(phone: PhoneNumber): string {
  return `${String(phone.country_code)}${phone.area_code === undefined ? '' : String(phone.area_code)}${String(phone.local_number)}`
}

function nationalDigits(phone: PhoneNumber): string {
  return `${phone.area_code === undefined ? '' : String(phone.area_code)}${String(phone.local_number)}`
}

/** Text made only of what people write in phone numbers, with at least one digit. */
const PHONE_LIKE = /^[\d\s+().-]*\d[\d\s+().-]*$/

/** A phone number as filters compare it: its digits alone. */
export function phoneDigits(text: string): string {
  return text.replace(/\D/g, '')
}

export function indexEntry(entry: AddressEntry): EntryIndex {
  const terms: IndexTerm[] = []
  const lines: string[] = [foldCase(entry.full_name)]
  const add = (field: TermField, value: string) => {
    if (!terms.some((term) => term.field === field && term.value === value)) terms.push({ field, value })
  }
  add('full_name', foldCase(entry.full_name))
  if (entry.nickname !== undefined) lines.push(foldCase(entry.nickname))
  if (entry.organization !== undefined) lines.push(foldCase(entry.organization))
  for (const { email } of entry.emails ?? []) {
    add('email', foldCase(email))
    lines.push(foldCase(email))
  }
  for (const phone of entry.phone_numbers ?? []) {
    add('phone', internationalDigits(phone))
    add('phone', nationalDigits(phone))
    lines.push(internationalDigits(phone))
  }
  for (const address of entry.addresses ?? []) {
    if (address.city !== undefined) {
      add('city', foldCase(address.city))
      lines.push(foldCase(address.city))
    }
    add('country', foldCase(address.country))
    lines.push(foldCase(address.country))
  }
  for (const label of entry.labels ?? []) {
    add('label', foldCase(label))
    terms.push({ field: LABEL_NAME, value: label })
    lines.push(foldCase(label))
  }
  return { sortName: foldCase(entry.full_name), searchText: lines.join('\n'), terms }
}

/** What a caller asks to filter on, as given (any case, phone numbers with spaces). */
export interface FilterRequest {
  readonly q?: string | undefined
  readonly full_name?: string | undefined
  readonly email?: string | undefined
  readonly phone?: string | undefined
  readonly city?: string | undefined
  readonly country?: string | undefined
  readonly label?: string | undefined
}

/**
 * Filters as stores apply them: folded by `foldCase`; phone numbers (and a search that looks like one)
 * reduced to their digits, so that "+44 20 7946 0000" finds 442079460000.
 */
export function normalizeFilter(request: FilterRequest): EntryFilter {
  const terms: Term[] = []
  for (const field of TERM_FIELDS) {
    const value = request[field]
    if (value === undefined) continue
    terms.push({ field, value: field === 'phone' ? phoneDigits(value) : foldCase(field === 'label' ? value.trim() : value) })
  }
  const q = request.q === undefined ? undefined : PHONE_LIKE.test(request.q) ? phoneDigits(request.q) : foldCase(request.q)
  return q === undefined ? { terms } : { q, terms }
}

/** Whether an entry with this index passes the filter: every term, and the search. */
export function matchesFilter(index: EntryIndex, filter: EntryFilter): boolean {
  if (filter.q !== undefined && !index.searchText.includes(filter.q)) return false
  return filter.terms.every((wanted) => index.terms.some((term) => term.field === wanted.field && term.value === wanted.value))
}

/** Compares by Unicode code point, as SQLite's BINARY and PostgreSQL's "C" collation compare UTF-8. */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]()
  const right = b[Symbol.iterator]()
  for (;;) {
    const x = left.next()
    const y = right.next()
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1
    const difference = (x.value.codePointAt(0) ?? 0) - (y.value.codePointAt(0) ?? 0)
    if (difference !== 0) return difference
  }
}

/** Where a page ends, so that the next one starts after it: the sort value and the id. */
export interface PagePosition {
  readonly value: string
  readonly id: string
}

/** The value an entry sorts by under `key`. */
export function sortValueOf(key: SortKey, stored: { readonly createdAt: string; readonly updatedAt: string; readonly entry: AddressEntry }): string {
  switch (key) {
    case 'full_name':
      return foldCase(stored.entry.full_name)
    case 'created':
      return stored.createdAt
    case 'updated':
      return stored.updatedAt
  }
}
