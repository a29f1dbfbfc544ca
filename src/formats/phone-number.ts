import type { PhoneNumber } from '../domain/address-entry.js'
import { ENTRY_BOUNDS } from '../domain/vocabulary.js'

/**
 * Phone numbers as people and contacts apps write them ("+44 (0)20 7946 0000", "0044 20 79460000",
 * "tel:+1-555-123-4567") and as an entry holds them: integers for the country code, the area code
 * and the local number.
 *
 * The country code is split off with the table of ITU-T E.164 calling codes below, which is all
 * it takes: the codes are prefix-free, so the digits alone decide. Area codes are another matter:
 * where one ends is a per-country numbering plan (libphonenumber's metadata, and even that knows
 * it for few countries), and digit groups are no guide ("+852 9123 4567" has none). So an area
 * code is read only where the writer marked it as one, in parentheses after the country code
 * ("+1 (555) 123-4567", as Apple writes US numbers, and as formatPhoneNumber writes every number
 * that has one); otherwise it stays absent and the local number holds all the national digits.
 */

/** The number of an entry's phone or fax number: everything but its kind. */
export type PhoneNumberParts = Omit<PhoneNumber, 'kind'>

/** A written number as an entry's parts, or why it cannot be one. */
export type PhoneNumberReading = { parts: PhoneNumberParts; reason?: never } | { parts?: never; reason: string }

/** 1 and 7 are the only one-digit codes; these are the two-digit ones; every other code has three digits. */
const TWO_DIGIT_CODES = new Set([
  20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82,
  84, 86, 90, 91, 92, 93, 94, 95, 98,
])

/** E.164: at most 15 digits with the country code. */
const MAX_DIGITS = 15
const MAX_AREA_CODE_DIGITS = String(ENTRY_BOUNDS.areaCode).length
const SEPARATORS = /^[\d\s().\-/]*$/
/** "(0)": the trunk prefix, dialled only from inside the country. */
const TRUNK_PREFIX = /\(\s*0\s*\)/g
/** The country code, the area code in parentheses, the rest. */
const MARKED_AREA_CODE = /^([^()]*)\((\d+)\)([^()]*)$/

export function readPhoneNumber(written: string): PhoneNumberReading {
  const text = written.trim().replace(/^tel:/i, '')
  if (text.includes(';')) return { reason: 'has an extension or URI parameters, which an entry cannot hold' }
  if (!text.startsWith('+') && !text.startsWith('00')) return { reason: 'has no country code (+ or 00)' }
  const international = text.slice(text.startsWith('+') ? 1 : 2).replace(TRUNK_PREFIX, ' ')
  if (!SEPARATORS.test(international)) return { reason: 'has characters other than digits and separators' }
  const digits = digitsOf(international)
  const countryCode = countryCodeOf(digits)
  if (countryCode === undefined) return { reason: 'has no country code after the +' }
  const national = digits.slice(countryCode.length)
  if (national === '') return { reason: 'has no number after the country code' }
  if (digits.length > MAX_DIGITS) return { reason: `has more than the ${MAX_DIGITS} digits a phone number can have` }
  if (national.startsWith('0')) return { reason: 'starts with 0 after the country code, which an entry (numbers, not text) cannot keep' }

  const country_code = Number(countryCode)
  const marked = MARKED_AREA_CODE.exec(international)
  if (marked !== null && digitsOf(marked[1] ?? '') === countryCode) {
    const area = marked[2] ?? ''
    const local = digitsOf(marked[3] ?? '')
    if (area.length <= MAX_AREA_CODE_DIGITS && !area.startsWith('0') && local !== '' && !local.startsWith('0')) {
      return { parts: { country_code, area_code: Number(area), local_number: Number(local) } }
    }
  }
  return { parts: { country_code, local_number: Number(national) } }
}

/**
 * The number as readPhoneNumber reads it back: "+44 (20) 79460000" as text (vCard 3.0), or
 * "tel:+44-(20)-79460000" as a tel URI (RFC 3966, whose visual separators include parentheses).
 */
export function formatPhoneNumber({ country_code, area_code, local_number }: PhoneNumberParts, form: 'text' | 'uri'): string {
  const groups = [`+${country_code}`, ...(area_code === undefined ? [] : [`(${area_code})`]), String(local_number)]
  return form === 'uri' ? `tel:${groups.join('-')}` : groups.join(' ')
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, '')
}

function countryCodeOf(digits: string): string | undefined {
  if (digits === '' || digits.startsWith('0')) return undefined
  if (digits.startsWith('1') || digits.startsWith('7')) return digits.slice(0, 1)
  const length = TWO_DIGIT_CODES.has(Number(digits.slice(0, 2))) ? 2 : 3
  return digits.length >= length ? digits.slice(0, length) : undefined
}
