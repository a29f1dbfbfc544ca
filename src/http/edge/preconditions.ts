import type { Preconditions } from '../../service/address-book-service.js'
import type { VCardVersion } from '../../formats/vcard.js'

/**
 * Entity tags of address entries are strong and name the stored version: `"3"`. Strong, because
 * the version identifies the entry exactly; its content codings are the same representation
 * (RFC 9110 §8.8.3 lets a server decide that). Its vCard is another representation, with tags
 * of its own (`"3-vcard4"`), which name the same version to If-Match.
 */
export function entityTagOf(version: number, vcard?: VCardVersion): string {
  const suffix = vcard === undefined ? '' : vcard === '4.0' ? '-vcard4' : '-vcard3'
  return `"${String(version)}${suffix}"`
}

/** One entity tag of a list: optional W/ and a quoted opaque part (RFC 9110 §8.8.3). */
const TAG = /^\s*(W\/)?"([^"]*)"\s*$/

/**
 * If-Match as the versions it names, compared strongly (RFC 9110 §13.1.1): weak tags never
 * match, and neither do tags that are not versions. `*` is any version of an existing entry.
 */
export function ifMatchOf(header: string | undefined): Preconditions['ifMatch'] {
  if (header === undefined) return undefined
  if (header.trim() === '*') return 'any'
  const versions: number[] = []
  for (const candidate of header.split(',')) {
    const match = TAG.exec(candidate)
    const version = /^([1-9]\d{0,14})(?:-vcard[34])?$/.exec(match?.[2] ?? '')?.[1]
    if (!match || match[1] !== undefined || version === undefined) continue
    versions.push(Number(version))
  }
  return versions
}

/** The preconditions of a write: If-Match, and If-None-Match: * (other If-None-Match values concern reads). */
export function preconditionsOf(headers: { 'if-match'?: string | undefined; 'if-none-match'?: string | undefined }): Preconditions {
  return {
    ifMatch: ifMatchOf(headers['if-match']),
    ifNoneMatch: headers['if-none-match']?.trim() === '*' ? 'any' : undefined,
  }
}
