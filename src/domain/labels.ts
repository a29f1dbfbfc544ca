import { foldCase } from './listing.js'

/**
 * Labels: the groups an entry belongs to ("Family", "Work"). A label is compared as filters
 * compare text (`foldCase`: "family" is "Family"), so an entry holds each label once, and a book's
 * labels are counted, renamed and deleted whatever the case each entry wrote them in.
 */

/** The key two labels share when they are the same label. */
export function labelKey(label: string): string {
  return foldCase(label)
}

/**
 * An entry's labels as the book keeps them: each trimmed, and each once, the first spelling kept,
 * in the order given. What is not a string is left for the schema to refuse.
 */
export function normalizeLabels(labels: readonly unknown[]): unknown[] {
  const seen = new Set<string>()
  const kept: unknown[] = []
  for (const label of labels) {
    if (typeof label !== 'string') {
      kept.push(label)
      continue
    }
    const trimmed = label.trim()
    const key = labelKey(trimmed)
    if (trimmed !== '' && seen.has(key)) continue
    seen.add(key)
    kept.push(trimmed)
  }
  return kept
}
