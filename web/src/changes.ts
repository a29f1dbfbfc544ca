import type { EmailAddress, EntryVersion, PatchOperation, PhoneNumber, PostalAddress } from './api.js'
import { addressLines, birthdayText, phoneText } from './format.js'

/** The words for an entry's members: one of them, and several. Members not named here read as their own names. */
const FIELDS: Record<string, [one: string, several: string]> = {
  full_name: ['name', 'name'],
  nickname: ['nickname', 'nickname'],
  organization: ['organization', 'organization'],
  job_title: ['job title', 'job title'],
  birthday: ['birthday', 'birthday'],
  notes: ['notes', 'notes'],
  emails: ['email', 'emails'],
  phone_numbers: ['phone', 'phones'],
  fax_numbers: ['fax', 'faxes'],
  addresses: ['address', 'addresses'],
  urls: ['website', 'websites'],
  labels: ['label', 'labels'],
  photo: ['photo', 'photo'],
}

const LONGEST_VALUE = 60

/**
 * What a version changed, in words: "changed name to “Ada”", "added label “Work”", "removed
 * nickname". The history gives each version's JSON Patch and content, not the value a change
 * replaced, so a replacement names only the new value; a removal names the old one when the
 * version before is at hand (`older`), and only what was removed otherwise.
 */
export function describeChanges(version: EntryVersion, older: EntryVersion | undefined): string[] {
  const said = new Set<string>()
  for (const operation of version.diff) said.add(describe(operation, version, older))
  return [...said]
}

function describe({ op, path, value }: PatchOperation, version: EntryVersion, older: EntryVersion | undefined): string {
  const [field = '', index, ...rest] = path.split('/').slice(1).map(unescapePointer)
  const [one, several] = FIELDS[field] ?? [field.replaceAll('_', ' '), field.replaceAll('_', ' ')]
  if (field === 'photo') return op === 'add' && index === undefined ? 'added a photo' : op === 'remove' && index === undefined ? 'removed the photo' : 'changed the photo'
  const before = older === undefined ? undefined : valueAt(older.entry, path)

  if (index === undefined) {
    const many = Array.isArray(value) || Array.isArray(before)
    const name = many ? several : one
    if (op === 'add') return `added ${name} ${valuesText(field, value)}`
    if (op === 'remove') return before === undefined ? `removed ${name}` : `removed ${name} ${valuesText(field, before)}`
    if (op === 'replace') return `changed ${name} to ${valuesText(field, value)}`
    return `changed ${name}`
  }
  if (rest.length > 0) {
    // A member of an element changed (a phone's number, an address's city): the element as it is now says it best.
    const element = valueAt(version.entry, `/${escapePointer(field)}/${index}`)
    return element === undefined ? `changed ${one}` : `changed ${one} to ${elementText(field, element)}`
  }
  if (op === 'add') return `added ${one} ${elementText(field, value)}`
  if (op === 'remove') return before === undefined ? `removed ${one}` : `removed ${one} ${elementText(field, before)}`
  if (op === 'replace') return `changed ${one} to ${elementText(field, value)}`
  return `changed ${one}`
}

function valuesText(field: string, value: unknown): string {
  return Array.isArray(value) ? value.map((element) => elementText(field, element)).join(', ') : elementText(field, value)
}

/** One value of a member as the entry screen shows it: a phone as its number, an address on one line. */
function elementText(field: string, value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    if (field === 'phone_numbers' || field === 'fax_numbers') return phoneText(value as PhoneNumber)
    if (field === 'emails') return quoted((value as EmailAddress).email)
    if (field === 'addresses') return quoted(addressLines(value as PostalAddress).join(', '))
    return quoted(JSON.stringify(value))
  }
  if (field === 'birthday' && typeof value === 'string') return birthdayText(value)
  return typeof value === 'string' ? quoted(value) : String(value)
}

function quoted(text: string): string {
  return `“${text.length > LONGEST_VALUE ? `${text.slice(0, LONGEST_VALUE - 1)}…` : text}”`
}

/** The value a JSON Pointer (RFC 6901) names in a document, or undefined when it names nothing. */
function valueAt(document: unknown, pointer: string): unknown {
  let here: unknown = document
  for (const token of pointer.split('/').slice(1).map(unescapePointer)) {
    if (typeof here !== 'object' || here === null) return undefined
    here = (here as Record<string, unknown>)[token]
  }
  return here
}

function unescapePointer(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~')
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}
