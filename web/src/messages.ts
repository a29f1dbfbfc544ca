/** What an error says to a person: its message (the service's problem detail, for its refusals). */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
