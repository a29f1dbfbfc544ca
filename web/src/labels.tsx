import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, deleteLabel, fetchLabels, renameLabel, type LabelSummary } from './api.js'
import { ConfirmDialog } from './dialog.js'
import { messageOf } from './messages.js'

type Loaded = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; labels: LabelSummary[] }

/**
 * The book's labels, each with how many entries have it: a link to those entries, a new name for
 * every one of them, or the label taken off them all (the entries stay).
 */
export function Labels({ changed }: { changed: (message: string) => void }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' })
  const [editing, setEditing] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<LabelSummary | null>(null)
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState('')
  const heading = useRef<HTMLHeadingElement>(null)

  const load = () => {
    fetchLabels().then(
      (labels) => {
        setLoaded({ state: 'ready', labels })
      },
      (error: unknown) => {
        setLoaded({ state: 'failed', message: messageOf(error) })
      },
    )
  }
  useEffect(() => {
    heading.current?.focus()
    load()
  }, [])

  const rename = async (label: LabelSummary, to: string) => {
    setBusy(true)
    setProblem('')
    try {
      const now = await renameLabel(label.name, to)
      setEditing(null)
      changed(`Renamed “${label.name}” to “${now.name}” on ${String(label.count)} ${label.count === 1 ? 'entry' : 'entries'}.`)
      load()
    } catch (error) {
      setProblem(error instanceof ApiError && error.status === 400 ? `“${to}” cannot be a label: ${error.problem.errors?.[0]?.message ?? messageOf(error)}.` : messageOf(error))
    } finally {
      setBusy(false)
    }
  }

  const remove = async () => {
    if (deleting === null) return
    setBusy(true)
    setProblem('')
    try {
      await deleteLabel(deleting.name)
      changed(`Took “${deleting.name}” off ${String(deleting.count)} ${deleting.count === 1 ? 'entry' : 'entries'}.`)
      load()
    } catch (error) {
      setProblem(messageOf(error))
    } finally {
      setDeleting(null)
      setBusy(false)
    }
  }

  return (
    <section class="labels-screen" aria-labelledby="labels-title">
      <h1 id="labels-title" ref={heading} tabIndex={-1}>
        Labels
      </h1>
      <p>Labels group entries: “Family”, “Work”. Give an entry labels when you edit it; rename or delete one here for every entry at once.</p>
      {problem !== '' && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {loaded.state === 'loading' && <p aria-live="polite">Loading the labels…</p>}
      {loaded.state === 'failed' && <p class="error">{loaded.message}</p>}
      {loaded.state === 'ready' && loaded.labels.length === 0 && <p class="empty">No entry has a label yet.</p>}
      {loaded.state === 'ready' && loaded.labels.length > 0 && (
        <ul class="label-rows" aria-label="The book's labels">
          {loaded.labels.map((label) => (
            <li key={label.name}>
              {editing === label.name ? (
                <RenameForm label={label} busy={busy} onRename={(to) => void rename(label, to)} onCancel={() => {
                  setEditing(null)
                }} />
              ) : (
                <>
                  <a class="chip" href={`?label=${encodeURIComponent(label.name)}#/`}>
                    {label.name}
                  </a>
                  <span class="label-count">
                    {label.count.toLocaleString()} {label.count === 1 ? 'entry' : 'entries'}
                  </span>
                  <button type="button" class="link-button" aria-label={`Rename ${label.name}`} onClick={() => {
                    setProblem('')
                    setEditing(label.name)
                  }}>
                    Rename
                  </button>
                  <button type="button" class="link-button danger" aria-label={`Delete ${label.name}`} onClick={() => {
                    setProblem('')
                    setDeleting(label)
                  }}>
                    Delete
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete the label ${deleting?.name ?? ''}?`}
        confirmLabel="Delete label"
        busy={busy}
        onConfirm={() => void remove()}
        onCancel={() => {
          setDeleting(null)
        }}
      >
        <p>
          It is taken off {deleting?.count.toLocaleString()} {deleting?.count === 1 ? 'entry' : 'entries'}. The entries themselves stay.
        </p>
      </ConfirmDialog>
    </section>
  )
}

function RenameForm({ label, busy, onRename, onCancel }: { label: LabelSummary; busy: boolean; onRename: (to: string) => void; onCancel: () => void }) {
  const [to, setTo] = useState(label.name)
  const input = useRef<HTMLInputElement>(null)
  useEffect(() => {
    input.current?.select()
  }, [])
  return (
    <form class="rename-label" onSubmit={(event) => {
      event.preventDefault()
      onRename(to.trim())
    }}>
      <label for="rename-label">New name for {label.name}</label>
      <input id="rename-label" ref={input} value={to} maxLength={100} required onInput={(event) => {
        setTo(event.currentTarget.value)
      }} />
      <button type="submit" class="button primary" disabled={busy}>
        {busy ? 'Renaming…' : 'Rename'}
      </button>
      <button type="button" class="button quiet" onClick={onCancel}>
        Cancel
      </button>
    </form>
  )
}
