import Negotiator from 'negotiator'
import { formatVCard, readCardResource, VCardSyntaxError, type VCardVersion } from '../../formats/vcard.js'
import type { Card } from '../../service/card-book-service.js'
import { entityTagOf } from '../edge/preconditions.js'
import { escapeXml, type XmlElement } from './xml.js'

/**
 * What a card is served as. By default, the card exactly as its client last sent it while the
 * entry has not changed since (so that a PUT can answer with the ETag, RFC 6352 §6.3.2.3, and a
 * client that tells cards by their content sees the same card), or else vCard 3.0 written from the
 * entry, with every property of the card sent that the entry has no place for written back. A
 * client that names a version (Accept, or address-data's version) gets that version.
 */
export interface ServedCard {
  readonly text: string
  readonly etag: string
}

export function servedCard(card: Card, asked?: VCardVersion): ServedCard {
  const { sent, image } = card
  const etag = entityTagOf(card.version, asked)
  if (sent?.version === card.version && (asked === undefined || versionOfText(sent.text) === asked)) return { text: sent.text, etag }
  const read = sent === undefined ? undefined : resourceOf(sent.text)
  // The card's own photo is served only while the entry's does not follow it (one the service
  // could not read, or one from before photos were entries') and the entry has none.
  const ownPhoto = read !== undefined && sent?.photoTaken === false && image === undefined ? read.photoLines : ''
  const kept = read === undefined ? undefined : [read.kept, ownPhoto].filter((lines) => lines !== '').join('\r\n')
  const text = formatVCard({ id: card.id, entry: card.entry, updatedAt: card.updatedAt, uid: card.uid, kept, photo: image }, asked ?? '3.0')
  return { text, etag }
}

function versionOfText(text: string): string | undefined {
  return /^VERSION:[ \t]*(\S+)/im.exec(text)?.[1]
}

/** The card sent, as a resource: what it holds that the entry has no place for, and its own photo; none when it can no longer be read. */
function resourceOf(text: string): { kept: string; photoLines: string } | undefined {
  try {
    return readCardResource(text)
  } catch (error) {
    if (error instanceof VCardSyntaxError) return undefined
    throw error
  }
}

export function contentTypeOf(text: string): string {
  return versionOfText(text) === '4.0' ? 'text/vcard; charset=utf-8; version=4.0' : 'text/vcard; charset=utf-8'
}

/** The version an Accept header names: 4.0 or 3.0 when it asks for one of them with its version, else none. */
export function versionAccepted(accept: string | undefined): VCardVersion | undefined {
  if (!accept?.includes('version')) return undefined
  const [chosen] = new Negotiator({ headers: { accept } }).mediaTypes(['text/vcard;version=3.0', 'text/vcard;version=4.0'])
  return chosen === 'text/vcard;version=4.0' ? '4.0' : chosen === 'text/vcard;version=3.0' ? '3.0' : undefined
}

/** The version an `address-data` element of a REPORT or PROPFIND names, if any. */
export function versionOfAddressData(element: XmlElement | undefined): VCardVersion | undefined {
  const version = element?.attributes.get('version')?.trim()
  return version === '4.0' || version === '3.0' ? version : undefined
}

/** The value of the address-data property: the card, escaped as XML text. */
export function addressDataXml(card: Card, asked: VCardVersion | undefined): string {
  return escapeXml(servedCard(card, asked).text)
}
