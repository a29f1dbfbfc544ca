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
