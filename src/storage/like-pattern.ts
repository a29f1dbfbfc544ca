/**
 * A LIKE pattern that finds `text` anywhere, for SQL stores that search with `ESCAPE '\'`:
 * `%`, `_` and the backslash in the text match only themselves.
 */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`
}
