import { v7 as uuidv7 } from 'uuid'

/** Ids are URL-safe: letters, digits and dashes, at most 64 characters. */
export const ENTRY_ID_PATTERN = '^[a-zA-Z0-9-]{1,64}$'
const entryIdRegExp = new RegExp(ENTRY_ID_PATTERN)

/** Words that name a resource beside the entries (`/addresses/changes`), so that no entry may take them. */
const RESERVED_IDS: ReadonlySet<string> = new Set(['changes'])

export function isEntryId(value: string): boolean {
  return entryIdRegExp.test(value) && !RESERVED_IDS.has(value)
}

/** A UUIDv7 as 32 lowercase hex characters: unique and ordered by creation time. */
export function newEntryId(): string {
  return uuidv7().replaceAll('-', '')
}
