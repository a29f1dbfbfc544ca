import Negotiator from 'negotiator'
import type { VCardVersion } from '../../formats/vcard.js'

/**
 * The representations of entries a client may ask for with Accept: JSON (the default, as the
 * original API always answered), NDJSON for a whole book, and vCard 4.0 or 3.0.
 */
export type Representation = 'json' | 'ndjson' | 'vcard-4.0' | 'vcard-3.0'

export const MEDIA_TYPES = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  vcard: 'text/vcard',
} as const

/** What Negotiator chooses from, in order of preference when the client weighs several alike. */
const OFFERED: Readonly<Record<string, Representation>> = {
  [MEDIA_TYPES.json]: 'json',
  [MEDIA_TYPES.ndjson]: 'ndjson',
  [MEDIA_TYPES.vcard]: 'vcard-4.0',
  [`${MEDIA_TYPES.vcard};version=4.0`]: 'vcard-4.0',
  [`${MEDIA_TYPES.vcard};version=3.0`]: 'vcard-3.0',
}

/**
 * The representation the Accept header prefers among those offered; JSON when it prefers none
 * of them (a client that asks for something else gets what the original API sent). Most
 * requests name no vCard or NDJSON type and skip the parsing altogether.
 */
export function preferredRepresentation(accept: string | undefined, offered: readonly Representation[]): Representation {
  if (accept === undefined || (!accept.includes('vcard') && !accept.includes('ndjson'))) return 'json'
  const types = Object.entries(OFFERED)
    .filter(([, representation]) => offered.includes(representation))
    .map(([type]) => type)
  const [chosen] = new Negotiator({ headers: { accept } }).mediaTypes(types)
  return (chosen === undefined ? undefined : OFFERED[chosen]) ?? 'json'
}

/** The vCard version of a representation; none when it is not a vCard. */
export function vcardVersionOf(representation: Representation): VCardVersion | undefined {
  return representation === 'vcard-4.0' ? '4.0' : representation === 'vcard-3.0' ? '3.0' : undefined
}

/** The Content-Type of a vCard response of a version. */
export function vcardContentType(version: VCardVersion): string {
  return `${MEDIA_TYPES.vcard}; charset=utf-8; version=${version}`
}
