import type { AddressEntry } from './api.js'

export { KINDS, PHONE_KINDS } from '../../src/domain/vocabulary.js'

/**
 * The entry form holds text, as inputs do; these turn an entry into that text and back. Values
 * are sent as typed (a number where the schema wants one, the raw text where it does not read as
 * one), so the server's validation is the only one and its errors[].path names the input.
 */


export interface AddressRow {
  kind: string
  building_name: string
  unit_number: string
  street_number: string
  street_name: string
  locality: string
  city: string
  province: string
  pincode: string
  country: string
}
export interface PhoneRow {
  kind: string
  country_code: string
  area_code: string
  local_number: string
}
export interface EmailRow {
  kind: string
  email: string
}
export interface UrlRow {
  url: string
}

export interface EntryForm {
  full_name: string
  nickname: string
  organization: string
  job_title: string
  birthday: string
  notes: string
  urls: UrlRow[]
  addresses: AddressRow[]
  phone_numbers: PhoneRow[]
  fax_numbers: PhoneRow[]
  emails: EmailRow[]
  /** The labels, each its own chip. */
  labels: string[]
}

export type ListName = 'urls' | 'addresses' | 'phone_numbers' | 'fax_numbers' | 'emails'

const text = (value: string | number | undefined) => (value === undefined ? '' : String(value))

export const emptyRow = {
  urls: (): UrlRow => ({ url: '' }),
  addresses: (): AddressRow => ({
    kind: 'home',
    building_name: '',
    unit_number: '',
    street_number: '',
    street_name: '',
    locality: '',
    city: '',
    province: '',
    pincode: '',
    country: '',
  }),
  phone_numbers: (): PhoneRow => ({ kind: 'mobile', country_code: '', area_code: '', local_number: '' }),
  fax_numbers: (): PhoneRow => ({ kind: 'work', country_code: '', area_code: '', local_number: '' }),
  emails: (): EmailRow => ({ kind: 'home', email: '' }),
} satisfies Record<ListName, () => unknown>

export function formOf(entry: AddressEntry | undefined): EntryForm {
  const phones = (list: AddressEntry['phone_numbers']): PhoneRow[] =>
    (list ?? []).map((phone) => ({
      kind: phone.kind,
      country_code: text(phone.country_code),
      area_code: text(phone.area_code),
      local_number: text(phone.local_number),
    }))
  return {
    full_name: entry?.full_name ?? '',
    nickname: entry?.nickname ?? '',
    organization: entry?.organization ?? '',
    job_title: entry?.job_title ?? '',
    birthday: entry?.birthday ?? '',
    notes: entry?.notes ?? '',
    labels: [...(entry?.labels ?? [])],
    urls: (entry?.urls ?? []).map((url) => ({ url })),
    addresses: (entry?.addresses ?? []).map((address) => ({
      kind: address.kind,
      building_name: text(address.building_name),
      unit_number: text(address.unit_number),
      street_number: text(address.street_number),
      street_name: text(address.street_name),
      locality: text(address.locality),
      city: text(address.city),
      province: text(address.province),
      pincode: text(address.pincode),
      country: text(address.country),
    })),
    phone_numbers: phones(entry?.phone_numbers),
    fax_numbers: phones(entry?.fax_numbers),
    emails: (entry?.emails ?? []).map((email) => ({ kind: email.kind, email: email.email })),
  }
}

const INTEGER = /^(0|[1-9]\d{0,15})$/

/**
 * A number when the text is an integer without a leading zero, else the text itself: an integer
 * field gets a number (or text for the server to refuse by name), and a field that takes either
 * (street_number, pincode) keeps a pincode like 01234 as it was written.
 */
function integer(value: string): number | string {
  return INTEGER.test(value) ? Number(value) : value
}

type Json = Record<string, unknown>

/** Sets a member only when its text is not blank: optional fields left empty are absent, not empty strings. */
function put(target: Json, name: string, value: string, convert: (value: string) => unknown = (v) => v): void {
  if (value.trim() !== '') target[name] = convert(value.trim())
}

/**
 * The entry the form describes, as JSON for the server. Rows are kept even when blank so that the
 * server's paths (/phone_numbers/1/…) point at the rows on screen; a blank row is the person's to
 * fill or remove.
 */
export function entryOf(form: EntryForm): Json {
  const entry: Json = { full_name: form.full_name.trim() }
  put(entry, 'nickname', form.nickname)
  put(entry, 'organization', form.organization)
  put(entry, 'job_title', form.job_title)
  put(entry, 'birthday', form.birthday)
  if (form.notes.trim() !== '') entry.notes = form.notes
  if (form.labels.length > 0) entry.labels = form.labels
  const phones = (rows: PhoneRow[]) =>
    rows.map((row) => {
      const phone: Json = { kind: row.kind }
      put(phone, 'country_code', row.country_code, integer)
      put(phone, 'area_code', row.area_code, integer)
      put(phone, 'local_number', row.local_number, integer)
      return phone
    })
  const lists: Partial<Record<ListName, unknown[]>> = {
    addresses: form.addresses.map((row) => {
      const address: Json = { kind: row.kind }
      put(address, 'building_name', row.building_name)
      put(address, 'unit_number', row.unit_number, integer)
      put(address, 'street_number', row.street_number, integer)
      put(address, 'street_name', row.street_name)
      put(address, 'locality', row.locality)
      put(address, 'city', row.city)
      put(address, 'province', row.province)
      put(address, 'pincode', row.pincode, integer)
      put(address, 'country', row.country)
      return address
    }),
    phone_numbers: phones(form.phone_numbers),
    fax_numbers: phones(form.fax_numbers),
    emails: form.emails.map((row) => {
      const email: Json = { kind: row.kind }
      put(email, 'email', row.email)
      return email
    }),
    urls: form.urls.map((row) => row.url.trim()),
  }
  for (const [name, rows] of Object.entries(lists)) {
    if (rows.length > 0) entry[name] = rows
  }
  return entry
}
