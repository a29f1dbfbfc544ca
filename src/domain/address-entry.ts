import Type from 'typebox'
import { Compile } from 'typebox/compile'
import Format from 'typebox/format'
import { ENTRY_BOUNDS as BOUNDS, KINDS, PHONE_KINDS } from './vocabulary.js'

/**
 * The address entry schema: v1.0 of the original service, with bounds added so that no single
 * request can make the service store or validate an unbounded amount of data, and extended
 * (additively: every v1.0 entry is still valid) with what contacts apps carry most. The words and
 * bounds come from vocabulary.ts; everything else (TypeScript types, the service's validation,
 * response serialization, OpenAPI) is derived from these definitions.
 */

/**
 * Text as people write it: no NUL characters and no unpaired UTF-16 surrogates. Neither means
 * anything in an address book, and PostgreSQL cannot store either in jsonb. Every string of the
 * entry follows this rule: as a format, or, where the format says something else (the email),
 * as a pattern.
 */
export const PLAIN_TEXT = 'plain-text'
/** Patterns are matched with the `u` flag, where a surrogate pair is one character: the class catches only unpaired halves. */
const PLAIN_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$'
const PLAIN_TEXT_MESSAGE = 'must not contain NUL characters or unpaired surrogates'
const plainText = new RegExp(PLAIN_TEXT_PATTERN, 'u')
Format.Set(PLAIN_TEXT, (value) => plainText.test(value))
/** At least one character that is not white space. */
const NOT_BLANK = '\\S'
const text = (maxLength: number) => Type.String({ minLength: 1, maxLength, format: PLAIN_TEXT })
const count = (maximum: number) => Type.Integer({ minimum: 0, maximum })
const list = <T extends Type.TSchema>(items: T) => Type.Array(items, { maxItems: BOUNDS.listItems })

/** `home, work or other` */
const either = (words: readonly string[]) => `${words.slice(0, -1).join(', ')} or ${String(words.at(-1))}`

export const Kind = Type.Enum([...KINDS], { description: either(KINDS) })
export const PhoneKind = Type.Enum([...PHONE_KINDS], { description: either(PHONE_KINDS) })

/**
 * A label as an entry holds it: not blank, no white space around it (the gate trims what it is
 * given) and no control characters (a label is a line of a list, a path segment, a vCard value).
 */
const LABEL_PATTERN = '^[^\\s\\u0000-\\u001f\\u007f](?:[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f])?$'
const LABEL_MESSAGE = 'must not be blank or hold control characters'
export const Label = Type.String({
  maxLength: BOUNDS.label,
  pattern: LABEL_PATTERN,
  format: PLAIN_TEXT,
  description: 'a group the entry belongs to ("Family"); compared case-insensitively',
  examples: ['Family'],
})
const Labels = Type.Array(Label, {
  maxItems: BOUNDS.labels,
  description: 'the groups the entry belongs to, each once (case-insensitively), as given: trimmed, in order',
})

/** A calendar date (`1815-12-10`), or a day of the year without one (`--12-10`), as vCard writes birthdays. */
const BIRTHDAY_PATTERN = '^(?:\\d{4}|-)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])$'
const BIRTHDAY_MESSAGE = 'must be a date: YYYY-MM-DD, or --MM-DD without the year'

export const PostalAddress = Type.Object(
  {
    kind: Kind,
    building_name: Type.Optional(text(BOUNDS.buildingName)),
    unit_number: Type.Optional(count(BOUNDS.unitNumber)),
    street_number: Type.Optional(Type.Union([count(BOUNDS.streetNumber), text(BOUNDS.codeText)])),
    street_name: text(BOUNDS.streetName),
    locality: Type.Optional(text(BOUNDS.place)),
    city: Type.Optional(text(BOUNDS.place)),
    province: Type.Optional(text(BOUNDS.place)),
    pincode: Type.Union([count(BOUNDS.pincode), text(BOUNDS.codeText)]),
    country: text(BOUNDS.place),
  },
  { additionalProperties: false },
)

export const PhoneNumber = Type.Object(
  {
    kind: PhoneKind,
    country_code: Type.Integer({ minimum: 1, maximum: BOUNDS.countryCode }),
    area_code: Type.Optional(count(BOUNDS.areaCode)),
    local_number: count(BOUNDS.localNumber),
  },
  { additionalProperties: false },
)

export const EmailAddress = Type.Object(
  {
    kind: Kind,
    email: Type.String({ format: 'email', maxLength: BOUNDS.email, pattern: PLAIN_TEXT_PATTERN }),
  },
  { additionalProperties: false },
)

export const AddressEntry = Type.Object(
  {
    full_name: Type.String({ maxLength: BOUNDS.fullName, pattern: NOT_BLANK, format: PLAIN_TEXT }),
    addresses: Type.Optional(list(PostalAddress)),
    phone_numbers: Type.Optional(list(PhoneNumber)),
    fax_numbers: Type.Optional(list(PhoneNumber)),
    emails: Type.Optional(list(EmailAddress)),
    nickname: Type.Optional(text(BOUNDS.nickname)),
    organization: Type.Optional(text(BOUNDS.organization)),
    job_title: Type.Optional(text(BOUNDS.jobTitle)),
    birthday: Type.Optional(
      Type.String({ pattern: BIRTHDAY_PATTERN, description: 'YYYY-MM-DD, or --MM-DD when the year is not known', examples: ['1815-12-10', '--12-10'] }),
    ),
    notes: Type.Optional(text(BOUNDS.notes)),
    urls: Type.Optional(list(Type.String({ format: 'uri', maxLength: BOUNDS.url }))),
    labels: Type.Optional(Labels),
  },
  { additionalProperties: false, title: 'An address book entry' },
)

/** A list of the entry, or null: what a merge patch may set it to. */
const listOrNull = <T extends Type.TSchema>(items: T) =>
  Type.Optional(Type.Unsafe<Type.Static<T>[] | null>({ type: ['array', 'null'], items, maxItems: BOUNDS.listItems }))

/** A text member of the entry, or null. */
const textOrNull = (member: Type.TSchema) => Type.Optional(Type.Unsafe<string | null>({ ...member, type: ['string', 'null'] }))

/**
 * What a JSON Merge Patch (RFC 7396) of an entry may be: members replace the entry's (lists
 * whole), null removes one (full_name cannot be removed), and a member the entry does not have
 * may only be null. An entry patched with a valid patch is a valid entry.
 */
export const AddressEntryPatch = Type.Object(
  {
    full_name: Type.Optional(AddressEntry.properties.full_name),
    addresses: listOrNull(PostalAddress),
    phone_numbers: listOrNull(PhoneNumber),
    fax_numbers: listOrNull(PhoneNumber),
    emails: listOrNull(EmailAddress),
    nickname: textOrNull(AddressEntry.properties.nickname),
    organization: textOrNull(AddressEntry.properties.organization),
    job_title: textOrNull(AddressEntry.properties.job_title),
    birthday: textOrNull(AddressEntry.properties.birthday),
    notes: textOrNull(AddressEntry.properties.notes),
    urls: listOrNull(AddressEntry.properties.urls.items),
    labels: Type.Optional(Type.Unsafe<string[] | null>({ ...Labels, type: ['array', 'null'] })),
  },
  { additionalProperties: Type.Null(), title: 'A merge patch of an address book entry' },
)

export type AddressEntry = Type.Static<typeof AddressEntry>
export type PostalAddress = Type.Static<typeof PostalAddress>
export type PhoneNumber = Type.Static<typeof PhoneNumber>
export type EmailAddress = Type.Static<typeof EmailAddress>

/** Something a source held (a vCard property) that has no place in an entry: reported with the import, never dropped silently. */
export const UnmappedProperty = Type.Object(
  {
    property: Type.String({ description: 'the vCard property, with its group (item1.X-ABLabel)' }),
    value: Type.String(),
    reason: Type.Optional(Type.String({ description: 'why it could not become part of the entry' })),
  },
  { additionalProperties: false },
)
export type UnmappedProperty = Type.Static<typeof UnmappedProperty>

/** One reason a value breaks the schema: where (a JSON Pointer) and why. */
export interface FieldError {
  path: string
  message: string
}

/** The shape of a JSON Schema validation error as both TypeBox and Ajv report it. */
export interface SchemaError {
  keyword: string
  instancePath: string
  schemaPath?: string
  params: Record<string, unknown>
  message?: string
}

/**
 * Turns raw validator errors into one readable error per failing field. Errors inside the
 * branches of a union are dropped in favour of the union's own error, and `additionalProperties`
 * names the offending key in the path, so each line points at exactly one place.
 */
export function describeSchemaErrors(errors: Iterable<SchemaError>): FieldError[] {
  const list = [...errors]
  const unionPaths = new Set(list.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath))
  const typesByPath = new Map<string, string[]>()
  for (const { keyword, instancePath, params } of list) {
    if (keyword === 'type' && typeof params.type === 'string') {
      typesByPath.set(instancePath, [...(typesByPath.get(instancePath) ?? []), params.type])
    }
  }
  const described = new Map<string, FieldError>()
  const add = (path: string, message: string) => described.set(`${path}\u0000${message}`, { path, message })
  for (const error of list) {
    const { keyword, instancePath, params } = error
    if (keyword === 'boolean') {
      // A member that additionalProperties: false refuses; the additionalProperties error that
      // names it too may be past the validator's last reported error.
      if (error.schemaPath?.endsWith('/additionalProperties') === true) add(instancePath, 'is not allowed')
      continue
    }
    if (keyword !== 'anyOf' && keyword !== 'oneOf' && unionPaths.has(instancePath)) continue
    switch (keyword) {
      case 'additionalProperties':
        for (const name of propertyNames(params, 'additionalProperties', 'additionalProperty')) {
          add(`${instancePath}/${escapePointer(name)}`, 'is not allowed')
        }
        break
      case 'required':
        for (const name of propertyNames(params, 'requiredProperties', 'missingProperty')) {
          add(`${instancePath}/${escapePointer(name)}`, 'is required')
        }
        break
      case 'type':
        add(instancePath, `must be ${(typesByPath.get(instancePath) ?? [String(params.type)]).join(' or ')}`)
        break
      case 'anyOf':
      case 'oneOf':
        add(instancePath, 'must be a number or a string')
        break
      case 'enum':
        add(instancePath, `must be one of: ${enumValues(params).join(', ')}`)
        break
      case 'format':
        add(instancePath, params.format === PLAIN_TEXT ? PLAIN_TEXT_MESSAGE : `must be ${String(params.format)}`)
        break
      case 'pattern':
        add(instancePath, patternMessage(params.pattern))
        break
      default:
        add(instancePath, error.message ?? `fails ${keyword}`)
    }
  }
  return [...described.values()]
}

function patternMessage(pattern: unknown): string {
  if (pattern === NOT_BLANK) return 'must not be blank'
  if (pattern === PLAIN_TEXT_PATTERN) return PLAIN_TEXT_MESSAGE
  if (pattern === BIRTHDAY_PATTERN) return BIRTHDAY_MESSAGE
  if (pattern === LABEL_PATTERN) return LABEL_MESSAGE
  return `must match the pattern ${String(pattern)}`
}

function propertyNames(params: Record<string, unknown>, listKey: string, singleKey: string): string[] {
  const list = params[listKey]
  if (Array.isArray(list)) return list.map(String)
  const single = params[singleKey]
  return typeof single === 'string' ? [single] : []
}

function enumValues(params: Record<string, unknown>): string[] {
  const values = params.allowedValues
  return Array.isArray(values) ? values.map(String) : Kind.enum
}

function escapePointer(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1')
}

const entryValidator = Compile(AddressEntry)

/** Said of a value that fails the schema when none of the errors reported names a field. */
const NOT_AN_ENTRY: FieldError = { path: '', message: 'is not a valid address entry' }

/**
 * Every way `value` breaks the address entry schema; empty exactly when it is a valid entry. The
 * validator reports only its first few errors (TypeBox's maxErrors, a guard against hostile
 * input), so the check decides validity and the errors only describe it: a value that fails the
 * check is never answered with an empty list.
 */
export function validateAddressEntry(value: unknown): FieldError[] {
  if (!entryValidator.Check(value)) {
    const errors = describeSchemaErrors(entryValidator.Errors(value) as SchemaError[])
    return errors.length > 0 ? errors : [NOT_AN_ENTRY]
  }
  const { birthday } = value
  return birthday === undefined || isCalendarDay(birthday) ? [] : [{ path: '/birthday', message: 'must be a day that exists' }]
}

const labelValidator = Compile(Label)

/** Every way `value` breaks the schema of a label; empty exactly when an entry can hold it. */
export function validateLabel(value: unknown): FieldError[] {
  if (labelValidator.Check(value)) return []
  const errors = describeSchemaErrors(labelValidator.Errors(value) as SchemaError[])
  return errors.length > 0 ? errors : [{ path: '', message: 'is not a label' }]
}

export function isAddressEntry(value: unknown): value is AddressEntry {
  return validateAddressEntry(value).length === 0
}

/**
 * Whether a birthday the pattern accepts names a real day: no 31 April, and 29 February only in
 * a leap year (or with no year at all: some year has one). A schema pattern cannot say this.
 */
function isCalendarDay(birthday: string): boolean {
  const full = birthday.startsWith('--') ? `2000${birthday.slice(1)}` : birthday
  const [year = 0, month = 0, day = 0] = full.split('-').map(Number)
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}
