import type { PhoneNumber, PostalAddress } from './api.js'

export function initialsOf(name: string): string {
  const all = name.trim().split(/\s+/)
  const lettered = all.filter((word) => /^\p{L}/u.test(word))
  const words = lettered.length > 0 ? lettered : all
  const first = words[0] ?? '?'
  const last = words.length > 1 ? (words[words.length - 1] ?? '') : ''
  return (Array.from(first)[0] ?? '?').toUpperCase() + (Array.from(last)[0] ?? '').toUpperCase()
}

export function phoneText(phone: PhoneNumber): string {
  return [`+${phone.country_code}`, phone.area_code, phone.local_number].filter((part) => part !== undefined).join(' ')
}

export function telHref(phone: PhoneNumber): string {
  return `tel:+${phone.country_code}${phone.area_code ?? ''}${phone.local_number}`
}

/** An address as lines, the way an envelope shows it. */
export function addressLines(address: PostalAddress): string[] {
  const unit = address.unit_number === undefined ? '' : `Unit ${address.unit_number}`
  const street = [address.street_number, address.street_name].filter((part) => part !== undefined).join(' ')
  return [
    [address.building_name, unit].filter(Boolean).join(', '),
    street,
    address.locality ?? '',
    [address.city, address.province, address.pincode].filter((part) => part !== undefined && part !== '').join(', '),
    address.country,
  ].filter((line) => line !== '')
}

/** Only these schemes become links: any other URI (javascript:, data:) is shown as text. */
export function safeLink(url: string): string | undefined {
  return /^(https?:|mailto:|tel:)/i.test(url) ? url : undefined
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

/** 1815-12-10 -> 10 December 1815; --12-10 -> 10 December. */
export function birthdayText(birthday: string): string {
  const match = /^(\d{4}|-)-(\d{2})-(\d{2})$/.exec(birthday)
  if (match === null) return birthday
  const [, year, month, day] = match
  const name = MONTHS[Number(month) - 1] ?? month
  return `${Number(day)} ${name}${year === '-' ? '' : ` ${year}`}`
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
const EXACT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

/** How long ago a time was, in the largest unit that fits: "5 minutes ago", "yesterday". */
export function timeAgo(iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000)
  if (Math.abs(seconds) < 45) return 'just now'
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['minute', 60],
    ['hour', 3600],
    ['day', 86_400],
    ['week', 7 * 86_400],
    ['month', 30 * 86_400],
  ]
  let chosen: [Intl.RelativeTimeFormatUnit, number] = ['minute', 60]
  for (const unit of units) if (Math.abs(seconds) >= unit[1]) chosen = unit
  return RELATIVE.format(Math.round(seconds / chosen[1]), chosen[0])
}

/** A time to the second, in the reader's own locale and time zone. */
export function exactTime(iso: string): string {
  return EXACT.format(new Date(iso))
}
