/**
 * The words and bounds of the address book, each defined once. The entry schema
 * (address-entry.ts), the HTTP routes' schemas, the vCard mapper and the web app all derive from
 * these. Plain values with no dependencies, so that the web app can import them without pulling
 * in a validator.
 */

/** What an address or an email is: the original API's three kinds. */
export const KINDS = ['home', 'work', 'other'] as const
export type Kind = (typeof KINDS)[number]

/** What a phone (or fax) number is: an address's kinds, and mobile. */
export const PHONE_KINDS = ['home', 'work', 'mobile', 'other'] as const
export type PhoneKind = (typeof PHONE_KINDS)[number]

/** What happened to an entry, as a change feed reports it. */
export const CHANGE_KINDS = ['created', 'updated', 'deleted'] as const
export type ChangeKind = (typeof CHANGE_KINDS)[number]

/** Through what a version of an entry was made, as its history tells it. */
export const CHANGE_SOURCES = ['api', 'import', 'carddav', 'restore'] as const
export type ChangeSource = (typeof CHANGE_SOURCES)[number]

/**
 * How much an entry may hold, so that no single request can make the service store or validate
 * an unbounded amount of data. Lengths count UTF-16 code units, as JSON Schema's do.
 */
export const ENTRY_BOUNDS = {
  /** Addresses, phone numbers, fax numbers, emails and URLs: at most this many of each. */
  listItems: 20,
  fullName: 200,
  nickname: 100,
  organization: 200,
  jobTitle: 200,
  notes: 10_000,
  url: 2000,
  /** RFC 5321's longest path. */
  email: 254,
  buildingName: 200,
  streetName: 200,
  /** locality, city, province and country */
  place: 100,
  /** A street number or postal code that is text ("221B", "SW1A 1AA"). */
  codeText: 32,
  unitNumber: 999_999,
  streetNumber: 999_999,
  pincode: 9_999_999_999,
  countryCode: 999,
  areaCode: 99_999,
  localNumber: 99_999_999_999_999,
  /** Labels ("Family", "Work") on one entry, and the length of each. */
  labels: 50,
  label: 100,
} as const
