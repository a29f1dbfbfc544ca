import type { CardData } from './store.js'

/**
 * Card data as the store keeps it: only the members that have a value, and none at all rather
 * than an empty object, so that an entry without card data reads the same from every adapter.
 */
export function keptCard(card: CardData | null | undefined): CardData | undefined {
  if (!card) return undefined
  return cardFromColumns(card.name ?? null, card.uid ?? null, card.kept ?? null)
}

/** Card data from the columns that keep it, null where a member is absent. */
export function cardFromColumns(name: string | null, uid: string | null, kept: string | null): CardData | undefined {
  if (name === null && uid === null && kept === null) return undefined
  return { ...(name === null ? {} : { name }), ...(uid === null ? {} : { uid }), ...(kept === null ? {} : { kept }) }
}
