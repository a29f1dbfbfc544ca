/**
 * The layout of the DAV tree, and the one place that turns request paths into resources and
 * resources into hrefs:
 *
 *   /dav/                                    the root (PROPFIND on `/` answers as it does)
 *   /dav/principals/                         the principals: the caller's alone is listed
 *   /dav/principals/<owner>/                 the owner's principal
 *   /dav/addressbooks/<owner>/               the owner's address book home
 *   /dav/addressbooks/<owner>/contacts/      the owner's one address book
 *   /dav/addressbooks/<owner>/contacts/<name>  a card
 *
 * Owner names and card names are percent-encoded segments. Whether the owner is the caller is
 * the handlers' question: another owner's resources answer as missing ones do.
 */

export const DAV_ROOT = '/dav/'
export const BOOK_NAME = 'contacts'

export type DavResource =
  | { readonly kind: 'root' }
  | { readonly kind: 'principals' }
  | { readonly kind: 'principal'; readonly owner: string }
  | { readonly kind: 'home'; readonly owner: string }
  | { readonly kind: 'book'; readonly owner: string }
  | { readonly kind: 'card'; readonly owner: string; readonly name: string }

/** The longest card name kept: a client's names are UUIDs or alike, far shorter. */
export const MAX_NAME_LENGTH = 255

/** Whether a resource belongs to no owner (and so is everyone's to ask about). */
export function isShared(resource: DavResource): resource is { readonly kind: 'root' } | { readonly kind: 'principals' } {
  return resource.kind === 'root' || resource.kind === 'principals'
}

/** The resource at a request path (without its query); undefined when there is none. */
export function resourceAt(path: string): DavResource | undefined {
  if (path === '/' || path === '/dav' || path === DAV_ROOT) return { kind: 'root' }
  if (!path.startsWith(DAV_ROOT)) return undefined
  const segments = path.slice(DAV_ROOT.length).split('/')
  if (segments.at(-1) === '') segments.pop()
  const decoded: string[] = []
  for (const segment of segments) {
    const value = decodeSegment(segment)
    if (value === undefined || value === '' || value === '.' || value === '..') return undefined
    decoded.push(value)
  }
  const [area, owner, book, name, ...rest] = decoded
  if (area === 'principals' && owner === undefined) return { kind: 'principals' }
  if (owner === undefined || rest.length > 0) return undefined
  if (area === 'principals') return book === undefined ? { kind: 'principal', owner } : undefined
  if (area !== 'addressbooks') return undefined
  if (book === undefined) return { kind: 'home', owner }
  if (book !== BOOK_NAME) return undefined
  if (name === undefined) return { kind: 'book', owner }
  return name.length <= MAX_NAME_LENGTH ? { kind: 'card', owner, name } : undefined
}

/** The href of a resource, each segment percent-encoded; collections end with a slash. */
export function hrefOf(resource: DavResource): string {
  switch (resource.kind) {
    case 'root':
      return DAV_ROOT
    case 'principals':
      return `${DAV_ROOT}principals/`
    case 'principal':
      return `${DAV_ROOT}principals/${encodeURIComponent(resource.owner)}/`
    case 'home':
      return `${DAV_ROOT}addressbooks/${encodeURIComponent(resource.owner)}/`
    case 'book':
      return `${DAV_ROOT}addressbooks/${encodeURIComponent(resource.owner)}/${BOOK_NAME}/`
    case 'card':
      return `${DAV_ROOT}addressbooks/${encodeURIComponent(resource.owner)}/${BOOK_NAME}/${encodeURIComponent(resource.name)}`
  }
}

/**
 * The resource an href of a request body names: a path, or an absolute URL whose path is taken
 * (clients send either). Undefined when it names nothing of this tree.
 */
export function resourceOfHref(href: string): DavResource | undefined {
  const trimmed = href.trim()
  let path = trimmed
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) {
    try {
      path = new URL(trimmed).pathname
    } catch {
      return undefined
    }
  }
  return resourceAt(path)
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}
