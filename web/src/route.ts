/**
 * Where the app is, in its URL: the search in the query string (/app/?q=smith, so a search can be
 * bookmarked) and the screen in the hash (#/entry/ID). The server serves /app/ and its files only,
 * so no screen may have a path of its own.
 */
export type Screen =
  | { name: 'home' }
  | { name: 'entry'; id: string }
  | { name: 'edit'; id: string }
  | { name: 'new' }
  | { name: 'transfer' }
  | { name: 'devices' }
  | { name: 'labels' }
  | { name: 'trash' }

export function screenOf(hash: string): Screen {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  const [first, id, action] = parts
  if (first === 'new') return { name: 'new' }
  if (first === 'transfer') return { name: 'transfer' }
  if (first === 'devices') return { name: 'devices' }
  if (first === 'labels') return { name: 'labels' }
  if (first === 'trash') return { name: 'trash' }
  if (first === 'entry' && id !== undefined && id !== '') return action === 'edit' ? { name: 'edit', id } : { name: 'entry', id }
  return { name: 'home' }
}

export function hrefOf(screen: Screen): string {
  switch (screen.name) {
    case 'home':
      return '#/'
    case 'new':
      return '#/new'
    case 'transfer':
      return '#/transfer'
    case 'devices':
      return '#/devices'
    case 'labels':
      return '#/labels'
    case 'trash':
      return '#/trash'
    case 'entry':
      return `#/entry/${encodeURIComponent(screen.id)}`
    case 'edit':
      return `#/entry/${encodeURIComponent(screen.id)}/edit`
  }
}

export function navigate(screen: Screen): void {
  location.hash = hrefOf(screen)
}

export const searchOf = (search: string): string => new URLSearchParams(search).get('q') ?? ''
export const labelOf = (search: string): string => new URLSearchParams(search).get('label') ?? ''

/** Keeps the search (q) or the label in the address bar without a new history entry per keystroke. */
export function replaceSearch(q: string, parameter: 'q' | 'label' = 'q'): void {
  const url = new URL(location.href)
  if (q === '') url.searchParams.delete(parameter)
  else url.searchParams.set(parameter, q)
  history.replaceState(history.state, '', url)
}

/** The tab's title: the screen (or the entry) first, so tabs and history tell them apart. */
export function setTitle(screen: string): void {
  document.title = screen === '' ? 'Address book' : `${screen} – Address book`
}
