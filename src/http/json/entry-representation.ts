import type { AddressEntry } from '../../domain/address-entry.js'
import type { PhotoStamp } from '../../service/address-book-service.js'

/**
 * An entry as the JSON API answers it: its content, and, when it has a photo, where the photo is
 * (`photo: {etag, url}`). The link is read-only: an entry sent back with it, as a client read it,
 * is taken without it.
 */

export interface PhotoLink {
  readonly etag: string
  readonly url: string
}

export type EntryRepresentation = AddressEntry & { readonly photo?: PhotoLink }

/** The entity tag of a photo's image, or of its thumbnail. */
export function photoEntityTag(etag: string, thumbnail: boolean): string {
  return thumbnail ? `"${etag}-96"` : `"${etag}"`
}

/** The photo's URL, naming the photo it is (v), so that what it answers never changes. */
export function photoUrl(id: string, etag: string): string {
  return `/addresses/${id}/photo?v=${etag}`
}

/**
 * The entry as answered. The entry is the request's own (every read makes a fresh one), so the
 * link is put on it rather than on a copy: a page of a hundred entries with photos copies none.
 */
export function representationOf(id: string, entry: AddressEntry, photo: PhotoStamp | undefined): EntryRepresentation {
  if (!photo) return entry
  const represented: EntryRepresentation & { photo?: PhotoLink } = entry
  represented.photo = { etag: photoEntityTag(photo.etag, false), url: photoUrl(id, photo.etag) }
  return represented
}

/** What a client sent as an entry (or a patch of one), without the read-only photo link. */
export function withoutPhotoLink(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('photo' in value)) return value
  const rest: Record<string, unknown> = { ...value }
  delete rest.photo
  return rest
}
