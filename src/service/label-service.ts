import { validateLabel, type AddressEntry } from '../domain/address-entry.js'
import { EntryNotFoundError, InvalidLabelError, LabelBusyError, LabelNotFoundError } from '../domain/errors.js'
import { isEntryId } from '../domain/ids.js'
import { labelKey } from '../domain/labels.js'
import { compareCodePoints, DEFAULT_SORT, normalizeFilter, type PagePosition } from '../domain/listing.js'
import type { Principal } from '../domain/principal.js'
import type { AddressBookStore, StoredEntry } from '../storage/store.js'
import { inBatches } from './batches.js'
import { checkedEntry, requireScope } from './gate.js'

/**
 * A book's labels as things of their own: listed with how many entries have each, renamed and
 * deleted across every entry that has one. A label is the same label whatever case an entry
 * writes it in (labels.ts); listed, it is spelled as most of its entries spell it.
 */

export interface LabelSummary {
  readonly name: string
  /** How many entries have it. */
  readonly count: number
}

export interface LabelBook {
  /** The owner's labels, by name (case-insensitively, then by code point). */
  labels(principal: Principal): Promise<LabelSummary[]>
  /**
   * Gives every entry with the label the new name instead (an entry that has both keeps one), in
   * one transaction: each a new version and a change. Resolves the label as it is now. Rejects
   * with LabelNotFoundError, InvalidLabelError for a name no entry can hold, and LabelBusyError.
   */
  rename(principal: Principal, label: string, newName: unknown): Promise<LabelSummary>
  /** Takes the label off every entry that has it, in one transaction. Rejects as rename does. */
  delete(principal: Principal, label: string): Promise<void>
  /**
   * Puts the label (trimmed) on the entries `add` names and takes it off those `remove` names, in
   * one transaction; an entry that already is as asked is left alone. Resolves the label as it is
   * now (its count may be 0). Rejects with InvalidLabelError (the label, or an id in both lists),
   * EntryNotFoundError for an id of no entry of the book, InvalidEntryError when an entry would
   * have too many labels, and LabelBusyError.
   */
  assign(principal: Principal, label: unknown, changes: unknown): Promise<LabelSummary>
}

/** The most entries one assignment names (add and remove together). */
export const MAX_ASSIGNED = 1000

/** Entries read from the store at a time while the entries with a label are gathered. */
const BATCH = 1000
/** Tries before a rename or deletion that keeps meeting concurrent edits gives up. */
const ATTEMPTS = 5

export class LabelService implements LabelBook {
  readonly #store: AddressBookStore

  constructor(store: AddressBookStore) {
    this.#store = store
  }

  async labels(principal: Principal): Promise<LabelSummary[]> {
    requireScope(principal, 'read')
    const byKey = new Map<string, { count: number; spellings: { label: string; count: number }[] }>()
    for (const { label, count } of await this.#store.labelCounts(principal.owner)) {
      const key = labelKey(label)
      const found = byKey.get(key) ?? { count: 0, spellings: [] }
      found.count += count
      found.spellings.push({ label, count })
      byKey.set(key, found)
    }
    const summaries = [...byKey.values()].map(({ count, spellings }) => ({ name: mostUsed(spellings), count }))
    return summaries.sort((a, b) => compareCodePoints(labelKey(a.name), labelKey(b.name)) || compareCodePoints(a.name, b.name))
  }

  async rename(principal: Principal, label: string, newName: unknown): Promise<LabelSummary> {
    requireScope(principal, 'write')
    const renamed = checkedLabel(newName, '/name')
    const count = await this.#relabel(principal, label, (labels) => labels.map((held) => (labelKey(held) === labelKey(label) ? renamed : held)))
    const now = (await this.labels(principal)).find((summary) => labelKey(summary.name) === labelKey(renamed))
    return now ?? { name: renamed, count }
  }

  async delete(principal: Principal, label: string): Promise<void> {
    requireScope(principal, 'write')
    await this.#relabel(principal, label, (labels) => labels.filter((held) => labelKey(held) !== labelKey(label)))
  }

  async assign(principal: Principal, label: unknown, changes: unknown): Promise<LabelSummary> {
    requireScope(principal, 'write')
    const name = checkedLabel(label, '/label')
    const { add, remove } = checkedAssignment(changes)
    const both = remove.findIndex((id) => add.includes(id))
    if (both !== -1) throw new InvalidLabelError([{ path: `/remove/${String(both)}`, message: 'is in add too' }])
    const key = labelKey(name)
    const wanted = new Map<string, boolean>([...add.map((id) => [id, true] as const), ...remove.map((id) => [id, false] as const)])
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const updates = []
      for (const [id, labelled] of wanted) {
        const stored = isEntryId(id) ? await this.#store.get(principal.owner, id) : undefined
        if (!stored) throw new EntryNotFoundError(id)
        const held = stored.entry.labels ?? []
        if (held.some((each) => labelKey(each) === key) === labelled) continue
        const labels = labelled ? [...held, name] : held.filter((each) => labelKey(each) !== key)
        updates.push({ id, entry: withLabels(stored.entry, labels), ifVersion: [stored.version] })
      }
      if (await this.#store.updateMany(principal.owner, updates)) {
        return (await this.labels(principal)).find((summary) => labelKey(summary.name) === key) ?? { name, count: 0 }
      }
    }
    throw new LabelBusyError(name)
  }

  /**
   * Writes every entry with the label with its labels changed, as one: read, changed, judged by
   * the gate, and stored conditional on the versions read; read again when an entry changed
   * meanwhile. Resolves how many entries changed.
   */
  async #relabel(principal: Principal, label: string, change: (labels: readonly string[]) => string[]): Promise<number> {
    const { owner } = principal
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const holders = await this.#holders(owner, label)
      if (holders.length === 0) throw new LabelNotFoundError(label)
      const updates = holders.map(({ id, version, entry }) => ({ id, entry: withLabels(entry, change(entry.labels ?? [])), ifVersion: [version] }))
      if (await this.#store.updateMany(owner, updates)) return updates.length
    }
    throw new LabelBusyError(label)
  }

  async #holders(owner: string, label: string): Promise<StoredEntry[]> {
    const filter = normalizeFilter({ label })
    const read = (after: PagePosition | undefined) => this.#store.list(owner, { filter, sort: DEFAULT_SORT, limit: BATCH, after })
    const holders: StoredEntry[] = []
    for await (const stored of inBatches(read, BATCH, (last) => ({ value: last.createdAt, id: last.id }))) holders.push(stored)
    return holders
  }
}

/** What an assignment names: two lists of ids, together at most MAX_ASSIGNED; InvalidLabelError otherwise. */
function checkedAssignment(value: unknown): { add: string[]; remove: string[] } {
  const body = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  if (!body) throw new InvalidLabelError([{ path: '', message: 'must be an object with add and remove, lists of entry ids' }])
  const lists = { add: body.add ?? [], remove: body.remove ?? [] }
  const errors = Object.keys(body)
    .filter((key) => key !== 'add' && key !== 'remove')
    .map((key) => ({ path: `/${key}`, message: 'is not allowed' }))
  for (const [key, list] of Object.entries(lists)) {
    if (!Array.isArray(list) || !list.every((id) => typeof id === 'string')) errors.push({ path: `/${key}`, message: 'must be a list of entry ids' })
  }
  if (errors.length > 0) throw new InvalidLabelError(errors)
  const { add, remove } = lists as { add: string[]; remove: string[] }
  if (add.length + remove.length > MAX_ASSIGNED) throw new InvalidLabelError([{ path: '', message: `names more than ${String(MAX_ASSIGNED)} entries` }])
  return { add, remove }
}

/** A label as an entry can hold it (trimmed); InvalidLabelError naming `path` when it cannot be one. */
function checkedLabel(value: unknown, path: string): string {
  const name = typeof value === 'string' ? value.trim() : value
  const errors = validateLabel(name)
  if (errors.length > 0) throw new InvalidLabelError(errors.map((error) => ({ ...error, path: `${path}${error.path}` })))
  return name as string
}

/** The entry with these labels, judged again (the gate keeps each label once). */
function withLabels(entry: AddressEntry, labels: string[]): AddressEntry {
  const changed: AddressEntry = { ...entry, labels }
  if (labels.length === 0) delete changed.labels
  return checkedEntry(changed)
}

/** The spelling most entries use; of equals, the first by code point. */
function mostUsed(spellings: readonly { label: string; count: number }[]): string {
  const [first] = [...spellings].sort((a, b) => b.count - a.count || compareCodePoints(a.label, b.label))
  return first?.label ?? ''
}
