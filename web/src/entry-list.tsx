import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ApiError, assignLabel, countEntries, currentEtag, deleteEntry, fetchLabels, fetchPage, firstPagePath, restoreFromTrash, type EntryRecord, type LabelSummary } from './api.js'
import { Face } from './face.js'
import { phoneText } from './format.js'
import { entriesText, messageOf, notRestoredMessage } from './messages.js'
import { hrefOf, navigate } from './route.js'
import type { Changed } from './toast.js'
import { UndoChanges } from './undo-changes.js'

const SEARCH_DELAY_MS = 250

interface Props {
  q: string
  onSearch: (q: string) => void
  /** The label the list is filtered by; '' for every entry. */
  label: string
  onLabel: (label: string) => void
  /** Changes after every write: the list is read again. */
  bookVersion: number
  selectedId: string | undefined
  /** Says what a change made (labels given to entries picked here, or their delete): the book is read again. */
  changed: Changed
}

/** The book sorted by name, a page at a time as the person scrolls, filtered as they type. */
export function EntryList({ q, onSearch, label, onLabel, bookVersion, selectedId, changed }: Props) {
  const [picking, setPicking] = useState(false)
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set())
  const [text, setText] = useState(q)
  const [entries, setEntries] = useState<[string, EntryRecord][]>([])
  const [labels, setLabels] = useState<LabelSummary[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState('')
  const [count, setCount] = useState<number | null>(null)
  const [counting, setCounting] = useState(false)
  /** Bumped by "Try again" after the first page failed. */
  const [attempt, setAttempt] = useState(0)
  const [undoing, setUndoing] = useState(false)
  const [deleting, setDeleting] = useState(false)
  const sentinel = useRef<HTMLLIElement>(null)
  /** Answers to an older search or an older book are dropped when they arrive late. */
  const generation = useRef(0)

  useEffect(() => {
    if (text.trim() === q) return
    const timer = setTimeout(() => {
      onSearch(text.trim())
    }, SEARCH_DELAY_MS)
    return () => {
      clearTimeout(timer)
    }
  }, [text, q, onSearch])

  useEffect(() => {
    const current = ++generation.current
    setLoading(true)
    setError('')
    fetchPage(firstPagePath(q, 50, label))
      .then((page) => {
        if (current !== generation.current) return
        setEntries(page.entries)
        setNext(page.next)
      })
      .catch((failure: unknown) => {
        if (current === generation.current) setError(failure instanceof Error ? failure.message : String(failure))
      })
      .finally(() => {
        if (current === generation.current) setLoading(false)
      })
  }, [q, label, bookVersion, attempt])

  useEffect(() => {
    fetchLabels().then(setLabels, () => {
      // Without the labels, the filter offers none: the list itself still works.
    })
  }, [bookVersion])

  useEffect(() => {
    setCount(null)
  }, [q, label, bookVersion])

  useEffect(() => {
    // Effects run once the browser has painted: the first rows are on screen, for whoever measures
    // the app (the browser tests do).
    if (entries.length > 0 && performance.getEntriesByName('first-rows').length === 0) performance.mark('first-rows')
  }, [entries])

  const loadMore = useCallback(() => {
    if (next === null || loading) return
    const current = generation.current
    setLoading(true)
    setError('')
    fetchPage(next)
      .then((page) => {
        if (current !== generation.current) return
        setEntries((shown) => [...shown, ...page.entries])
        setNext(page.next)
      })
      .catch((failure: unknown) => {
        if (current === generation.current) setError(failure instanceof Error ? failure.message : String(failure))
      })
      .finally(() => {
        if (current === generation.current) setLoading(false)
      })
  }, [next, loading])

  useEffect(() => {
    const target = sentinel.current
    if (target === null || next === null || loading || error !== '') return
    const observer = new IntersectionObserver((seen) => {
      if (seen.some((item) => item.isIntersecting)) loadMore()
    }, { rootMargin: '600px 0px' })
    observer.observe(target)
    return () => {
      observer.disconnect()
    }
  }, [next, loading, error, loadMore])

  const names = useMemo(() => new Map(entries.map(([id, entry]) => [id, entry.full_name])), [entries])

  /** Moves the picked entries to the trash at once; the toast offers them back. */
  const deletePicked = async () => {
    const ids = [...picked]
    setDeleting(true)
    setError('')
    const deleted: [string, string][] = []
    try {
      for (const id of ids) {
        await deleteUnconditionally(id)
        deleted.push([id, names.get(id) ?? id])
      }
    } catch (failure) {
      setError(messageOf(failure))
    } finally {
      setDeleting(false)
      setPicked(new Set())
    }
    if (deleted.length === 0) return
    if (deleted.some(([id]) => id === selectedId)) navigate({ name: 'home' })
    const [only] = deleted
    changed(deleted.length === 1 && only !== undefined ? `Deleted ${only[1]}.` : `Deleted ${entriesText(deleted.length)}.`, () => bringBack(deleted))
  }

  const askCount = () => {
    setCounting(true)
    countEntries(q, label)
      .then(setCount, (failure: unknown) => {
        setError(failure instanceof Error ? failure.message : String(failure))
      })
      .finally(() => {
        setCounting(false)
      })
  }

  return (
    <>
      <div class="list-tools">
        <form role="search" onSubmit={(event) => {
          event.preventDefault()
          onSearch(text.trim())
        }}>
          <label for="search" class="visually-hidden">
            Search the address book
          </label>
          <input
            id="search"
            type="search"
            placeholder="Search names, emails, phones…"
            autoComplete="off"
            value={text}
            onInput={(event) => {
              setText(event.currentTarget.value)
            }}
          />
        </form>
        <div class="label-filter">
          <label for="label-filter">Label</label>
          <select
            id="label-filter"
            value={label}
            onChange={(event) => {
              onLabel(event.currentTarget.value)
            }}
          >
            <option value="">All entries</option>
            {label !== '' && !labels.some((each) => each.name.toLowerCase() === label.toLowerCase()) && <option value={label}>{label}</option>}
            {labels.map(({ name, count: held }) => (
              <option key={name} value={name}>
                {name} ({held.toLocaleString()})
              </option>
            ))}
          </select>
          <a href="#/labels" class="link-button">
            Manage labels
          </a>
        </div>
        <div class="count-line">
          <span aria-live="polite">
            {count === null ? '' : q === '' && label === '' ? `${count.toLocaleString()} ${count === 1 ? 'entry' : 'entries'}` : `${count.toLocaleString()} ${count === 1 ? 'entry matches' : 'entries match'}`}
          </span>
          <button type="button" class="link-button" onClick={askCount} disabled={counting}>
            {counting ? 'Counting…' : count === null ? 'Count entries' : 'Count again'}
          </button>
        </div>
      </div>
      {error !== '' && (
        <p class="error" role="alert">
          {error}{' '}
          <button type="button" class="link-button" onClick={entries.length === 0 ? () => {
            setAttempt((n) => n + 1)
          } : loadMore}>
            Try again
          </button>
        </p>
      )}
      <div class="pick-line">
        <button type="button" class="link-button" onClick={() => {
          setUndoing(true)
        }}>
          Undo changes…
        </button>
        {picking && (
          <button type="button" class="link-button danger" disabled={picked.size === 0 || deleting} onClick={() => void deletePicked()}>
            {deleting ? 'Deleting…' : 'Delete selected'}
          </button>
        )}
        <button type="button" class="link-button" aria-pressed={picking} onClick={() => {
          setPicking(!picking)
          setPicked(new Set())
        }}>
          {picking ? 'Done selecting' : 'Select entries'}
        </button>
      </div>
      <UndoChanges
        open={undoing}
        known={names}
        changed={changed}
        onClose={() => {
          setUndoing(false)
        }}
      />
      {picking && (
        <LabelPicked
          picked={[...picked]}
          labels={labels}
          changed={(message) => {
            setPicked(new Set())
            changed(message)
          }}
        />
      )}
      <ul class="entry-list" aria-busy={loading} aria-label={listName(q, label)}>
        {entries.map(([id, entry]) => (
          <li key={id}>
            {picking ? (
              <label class="pick-row">
                <input
                  type="checkbox"
                  checked={picked.has(id)}
                  onChange={(event) => {
                    const next = new Set(picked)
                    if (event.currentTarget.checked) next.add(id)
                    else next.delete(id)
                    setPicked(next)
                  }}
                />
                <Face entry={entry} />
                <span class="entry-text">
                  <span class="entry-name">{entry.full_name}</span>
                  <span class="entry-sub">{summaryOf(entry)}</span>
                </span>
              </label>
            ) : (
              <a href={hrefOf({ name: 'entry', id })} aria-current={id === selectedId ? 'page' : undefined}>
                <Face entry={entry} />
                <span class="entry-text">
                  <span class="entry-name">{entry.full_name}</span>
                  <span class="entry-sub">{summaryOf(entry)}</span>
                </span>
              </a>
            )}
          </li>
        ))}
        {next !== null && (
          <li ref={sentinel} class="more">
            <button type="button" class="link-button" onClick={loadMore} disabled={loading}>
              {loading ? 'Loading…' : 'Load more'}
            </button>
          </li>
        )}
      </ul>
      {!loading && error === '' && entries.length === 0 && (
        <p class="empty">
          {q === '' && label === '' ? (
            <>
              No entries yet. <a href="#/new">Create one</a> or <a href="#/transfer">import a file</a>.
            </>
          ) : (
            <>{label === '' ? `Nothing matches “${q}”.` : q === '' ? `No entry has the label “${label}”.` : `Nothing with the label “${label}” matches “${q}”.`}</>
          )}
        </p>
      )}
      {loading && entries.length === 0 && <p class="empty">Loading…</p>}
    </>
  )
}

/** The entries picked in the list: a label given to them all, or taken off them all. */
function LabelPicked({ picked, labels, changed }: { picked: string[]; labels: LabelSummary[]; changed: (message: string) => void }) {
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState('')
  const entries = `${picked.length.toLocaleString()} ${picked.length === 1 ? 'entry' : 'entries'}`

  const apply = async (adding: boolean) => {
    const label = name.trim()
    if (label === '') {
      setProblem('Name the label first.')
      return
    }
    setBusy(true)
    setProblem('')
    try {
      const now = await assignLabel(label, adding ? { add: picked } : { remove: picked })
      setName('')
      changed(adding ? `Gave ${entries} the label “${now.name}”.` : `Took “${now.name}” off ${entries}.`)
    } catch (error) {
      setProblem(messageOf(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="pick-bar" role="group" aria-label="Label the selected entries">
      <p aria-live="polite">{picked.length === 0 ? 'Select entries to label them.' : `${entries} selected`}</p>
      <label for="picked-label">Label</label>
      <input
        id="picked-label"
        list="picked-labels"
        autoComplete="off"
        maxLength={100}
        value={name}
        onInput={(event) => {
          setName(event.currentTarget.value)
        }}
      />
      <datalist id="picked-labels">
        {labels.map(({ name: known }) => (
          <option key={known} value={known} />
        ))}
      </datalist>
      <button type="button" class="button" disabled={busy || picked.length === 0} onClick={() => void apply(true)}>
        Add label
      </button>
      <button type="button" class="button" disabled={busy || picked.length === 0} onClick={() => void apply(false)}>
        Remove label
      </button>
      {problem !== '' && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </div>
  )
}

/** What the list is, for screen readers: the book, or what filters it. */
function listName(q: string, label: string): string {
  if (q === '' && label === '') return 'All entries, by name'
  if (label === '') return `Entries matching “${q}”`
  return q === '' ? `Entries labelled “${label}”` : `Entries labelled “${label}” matching “${q}”`
}

/** A line under the name: where they work, else how to reach them. */
function summaryOf(entry: EntryRecord): string {
  const work = [entry.job_title, entry.organization].filter(Boolean).join(', ')
  if (work !== '') return work
  const email = entry.emails?.[0]?.email
  if (email !== undefined) return email
  const phone = entry.phone_numbers?.[0]
  if (phone !== undefined) return phoneText(phone)
  return entry.addresses?.[0]?.city ?? entry.addresses?.[0]?.country ?? ''
}

/** Takes a delete of entries back: each comes out of the trash, and any that cannot are named. */
async function bringBack(deleted: [string, string][]): Promise<string> {
  const refusals: string[] = []
  for (const [id, name] of deleted) {
    try {
      await restoreFromTrash(id)
    } catch (error) {
      refusals.push(notRestoredMessage(error, name))
    }
  }
  if (refusals.length > 0) return refusals.join(' ')
  const [only] = deleted
  return deleted.length === 1 && only !== undefined ? `Restored ${only[1]}.` : `Restored ${entriesText(deleted.length)}.`
}

/** The list holds no ETags: a server that requires If-Match (428) is sent the entry's current one. */
async function deleteUnconditionally(id: string): Promise<void> {
  try {
    await deleteEntry(id, '')
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 428)) throw error
    await deleteEntry(id, await currentEtag(id))
  }
}
