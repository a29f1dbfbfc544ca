/** Sync tokens are URIs (RFC 6578 §3.2); ours wrap the card book's opaque token. */
const TOKEN_PREFIX = 'urn:x-addrservice:sync:'

export function syncTokenUri(token: string): string {
  return `${TOKEN_PREFIX}${token}`
}

/** The card book's token inside a sync token URI; undefined when the URI is not one of ours. */
export function tokenOfUri(uri: string): string | undefined {
  return uri.startsWith(TOKEN_PREFIX) ? uri.slice(TOKEN_PREFIX.length) : undefined
}
