/**
 * The SQLite store's substring index, kept per owner. FTS5 holds, for each entry, one token per
 * trigram (three code points) of its search text, and every token starts with its owner's tag, so
 * that each token's postings belong to one owner. A search looks up only its owner's tokens: what
 * it reads does not depend on what other books hold. (FTS5's own trigram tokenizer cannot do
 * this: its tokens are the text alone, and each one's postings span every owner.)
 *
 * The index keeps no positions (detail=none): it only narrows the candidates to entries that
 * have every trigram of the search, and the search text then decides.
 */

/** Code points in a trigram: a search shorter than this cannot use the index. */
export const TRIGRAM_LENGTH = 3

/**
 * A code point as token characters that FTS5's ascii tokenizer keeps as they are: digits and
 * lower-case letters other than x stand for themselves; any other code point is x and four
 * base-36 digits. No code is a prefix of another, so an owner's prefix and three codes read back
 * one way only, and two tokens are equal exactly when their owners and trigrams are.
 */
function codeOf(codePoint: number): string {
  if ((codePoint >= 0x30 && codePoint <= 0x39) || (codePoint >= 0x61 && codePoint <= 0x7a && codePoint !== 0x78)) return String.fromCharCode(codePoint)
  return `x${codePoint.toString(36).padStart(4, '0')}`
}

/** The codes of the first 128 code points, which search texts are mostly made of, computed once. */
const ASCII_CODES = Array.from({ length: 128 }, (_, codePoint) => codeOf(codePoint))

/**
 * Hands each trigram of a text to `visit`, as its token for the owner with this tag. The owner
 * comes first, as the tag's length and the tag (1 is 11, 17 is 217), so that an owner's tokens
 * sort together in the index.
 */
function eachToken(text: string, tag: number, visit: (token: string) => void): void {
  const owner = `${String(String(tag).length)}${String(tag)}`
  let first = ''
  let second = ''
  let seen = 0
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0
    const code = ASCII_CODES[codePoint] ?? codeOf(codePoint)
    if (++seen >= TRIGRAM_LENGTH) visit(`${owner}${first}${second}${code}`)
    first = second
    second = code
  }
}

/**
 * What the index stores for an entry of the owner with this tag: its tokens, space-separated. A
 * trigram that occurs twice is there twice: the index records the entry once per token all the
 * same, and that costs less than sorting out repeats.
 */
export function trigramTokens(searchText: string, tag: number): string {
  const tokens: string[] = []
  eachToken(searchText, tag, (token) => tokens.push(token))
  return tokens.join(' ')
}

/**
 * An FTS5 query for the entries of the owner with this tag that have every trigram of `q` (at
 * least TRIGRAM_LENGTH code points): candidates, which the search text confirms or not.
 */
export function trigramQuery(q: string, tag: number): string {
  const tokens = new Set<string>()
  eachToken(q, tag, (token) => tokens.add(token))
  return [...tokens].map((token) => `"${token}"`).join(' AND ')
}
