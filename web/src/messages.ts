import { ApiError } from './api.js'

/** What an error says to a person: its message (the service's problem detail, for its refusals). */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Why an entry did not come back from the trash, in the words of what can be done about it. */
export function notRestoredMessage(error: unknown, name: string): string {
  if (error instanceof ApiError && error.status === 409) return `${name} was not restored. Its id or card name is taken by another entry now.`
  if (error instanceof ApiError && error.status === 404) {
    return `${name} is not in the trash any more: it was deleted for good, or this server keeps no deleted entries.`
  }
  return `${name} was not restored. ${messageOf(error)}`
}

/** "1 entry", "3 entries". */
export function entriesText(count: number): string {
  return `${count.toLocaleString()} ${count === 1 ? 'entry' : 'entries'}`
}
