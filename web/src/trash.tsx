import { useEffect, useRef, useState } from 'preact/hooks'
import { deleteFromTrash, emptyTrash, fetchTrash, restoreFromTrash, trashPagePath, type TrashedEntry } from './api.js'
import { ConfirmDialog } from './dialog.js'
import { Face } from './face.js'
import { exactTime, timeAgo } from './format.js'
import { entriesText, messageOf, notRestoredMessage } from './messages.js'
import type { Changed } from './toast.js'

const SEARCH_DELAY_MS = 250

type Asking = { about: 'one'; trashed: TrashedEntry } | { about: 'all' } | null

/**
 * The deleted entries, the most recently deleted first: each can come back as it was, or go for
 * good; the trash as a whole can be emptied. The server forgets them after 30 days by itself.
 */
export function Trash({ bookVersion, changed }: { bookVersion: number; changed: Changed }) {
  const [text, setText] = useState('')
  const [q, setQ] = useState('')
  const [entries, setEntries] = useState<TrashedEntry[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [failure, setFailure] = useState('')
  const [problem, setProblem] = useState('')
  const [busy, setBusy] = useState(false)
  const [asking, setAsking] = useState<Asking>(null)
  const heading = useRef<HTMLHeadingElement>(null)
  /** Answers to an older search or an older trash are dropped when they arrive late. */
  const generation = useRef(0)

  useEffect(() => {
    heading.current?.focus()
  }, [])

  useEffect(() => {
    if (text.trim() === q) return
    const timer = setTimeout(() => {
      setQ(text.trim())
    }, SEARCH_DELAY_MS)
    return () => {
      clearTimeout(timer)
    }
  }, [text, q])

  useEffect(() => {
    const current = ++generation.current
    setLoading(true)
    setFailure('')
    fetchTrash(trashPagePath(q))
      .then(
        (page) => {
          if (current !== generation.current) return
          setEntries(page.entries)
          setNext(page.next)
          // The row that had focus went with what was done to it: the screen's heading takes it.
          if (document.activeElement === document.body) heading.current?.focus()
        },
        (error: unknown) => {
          if (current === generation.current) setFailure(messageOf(error))
        },
      )
      .finally(() => {
        if (current === generation.current) setLoading(false)
      })
  }, [q, bookVersion])

  const loadMore = () => {
    if (next === null) return
    const current = generation.current
    setLoading(true)
    fetchTrash(next)
      .then(
        (page) => {
          if (current !== generation.current) return
          setEntries((shown) => [...shown, ...page.entries])
          setNext(page.next)
        },
        (error: unknown) => {
          if (current === generation.current) setProblem(messageOf(error))
        },
      )
      .finally(() => {
        if (current === generation.current) setLoading(false)
      })
  }

  const restore = async ({ id, entry }: TrashedEntry) => {
    setBusy(true)
    setProblem('')
    try {
      await restoreFromTrash(id)
      changed(`Restored ${entry.full_name}.`)
    } catch (error) {
      setProblem(notRestoredMessage(error, entry.full_name))
    } finally {
      setBusy(false)
    }
  }

  const deleteForGood = async () => {
    if (asking === null) return
    setBusy(true)
    setProblem('')
    try {
      if (asking.about === 'one') {
        await deleteFromTrash(asking.trashed.id)
        changed(`Deleted ${asking.trashed.entry.full_name} for good.`)
      } else {
        changed(`Deleted ${entriesText(await emptyTrash())} for good.`)
      }
    } catch (error) {
      setProblem(messageOf(error))
    } finally {
      setAsking(null)
      setBusy(false)
    }
  }

  return (
    <section class="trash-screen" aria-labelledby="trash-title">
      <h1 id="trash-title" ref={heading} tabIndex={-1}>
        Trash
      </h1>
      <p>Deleted entries stay here for 30 days, then they are gone for good. Restore one to bring it back as it was, with its history.</p>
      <div class="trash-tools">
        <form
          role="search"
          onSubmit={(event) => {
            event.preventDefault()
            setQ(text.trim())
          }}
        >
          <label for="trash-search" class="visually-hidden">
            Search the trash
          </label>
          <input
            id="trash-search"
            type="search"
            placeholder="Search the trash…"
            autoComplete="off"
            value={text}
            onInput={(event) => {
              setText(event.currentTarget.value)
            }}
          />
        </form>
        {entries.length > 0 && q === '' && (
          <button
            type="button"
            class="button danger"
            disabled={busy}
            onClick={() => {
              setProblem('')
              setAsking({ about: 'all' })
            }}
          >
            Empty trash
          </button>
        )}
      </div>
      {problem !== '' && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {failure !== '' && <p class="error">{failure}</p>}
      <ul class="trash-rows" aria-label={q === '' ? 'Deleted entries, the most recent first' : `Deleted entries matching “${q}”`} aria-busy={loading}>
        {entries.map((trashed) => (
          <li key={trashed.id}>
            <Face entry={trashed.entry} />
            <span class="entry-text">
              <span class="entry-name">{trashed.entry.full_name}</span>
              <span class="entry-sub">
                Deleted <time dateTime={trashed.deleted_at}>{timeAgo(trashed.deleted_at)}</time> ({exactTime(trashed.deleted_at)})
              </span>
            </span>
            <span class="trash-actions">
              <button type="button" class="button" disabled={busy} aria-label={`Restore ${trashed.entry.full_name}`} onClick={() => void restore(trashed)}>
                Restore
              </button>
              <button
                type="button"
                class="link-button danger"
                disabled={busy}
                aria-label={`Delete for good: ${trashed.entry.full_name}`}
                onClick={() => {
                  setProblem('')
                  setAsking({ about: 'one', trashed })
                }}
              >
                Delete for good
              </button>
            </span>
          </li>
        ))}
      </ul>
      {next !== null && (
        <button type="button" class="button" onClick={loadMore} disabled={loading}>
          {loading ? 'Loading…' : 'More'}
        </button>
      )}
      {!loading && failure === '' && entries.length === 0 && (
        <p class="empty">{q === '' ? 'Nothing in the trash. Deleted entries stay here for 30 days.' : `Nothing in the trash matches “${q}”.`}</p>
      )}
      {loading && entries.length === 0 && <p class="empty">Loading…</p>}
      <ConfirmDialog
        open={asking !== null}
        title={asking?.about === 'one' ? `Delete ${asking.trashed.entry.full_name} for good?` : 'Empty the trash?'}
        confirmLabel={asking?.about === 'one' ? 'Delete for good' : 'Empty trash'}
        busy={busy}
        onConfirm={() => void deleteForGood()}
        onCancel={() => {
          setAsking(null)
        }}
      >
        <p>
          {asking?.about === 'one'
            ? 'The entry, its history and its photo are gone, and cannot be restored.'
            : 'Every entry in the trash, with its history and photo, is gone, and cannot be restored.'}
        </p>
      </ConfirmDialog>
    </section>
  )
}
