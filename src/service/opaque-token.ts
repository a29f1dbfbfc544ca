/**
 * What listing cursors and sync tokens are made of: base64url of a JSON array whose first
 * member is the format's version. Opaque to clients, and no secret: what a token may say is
 * checked by the code that reads it.
 */

export function encodeOpaque(version: number, parts: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([version, ...parts])).toString('base64url')
}

/** The parts after the version, when the token is such an array of that version with `count` parts; otherwise undefined. */
export function decodeOpaque(token: string, version: number, count: number): unknown[] | undefined {
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(decoded) || decoded.length !== count + 1 || decoded[0] !== version) return undefined
  return decoded.slice(1) as unknown[]
}
