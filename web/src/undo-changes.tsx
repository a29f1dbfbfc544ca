import { useEffect, useRef, useState } from 'preact/hooks'
import { fetchEntry, fetchTrash, restoreBook, trashPagePath, type BookRestore, type RestoreTime } from './api.js'
import { ConfirmDialog } from './dialog.js'
import { exactTime } from './format.js'
import { messageOf } from './messages.js'
import type { Changed } from './toast.js'

type Choice = '10m' | '1h' | 'yesterday' | '1w' | 'custom'

const CHOICES: [Choice, string][] = [
  ['10m', '10 minutes ago'],
  ['1h', '1 hour ago'],
  ['yesterday', 'Yesterday, at this time'],
  ['1w', '1 week ago'],
  ['custom', 'Another time'],
]

/** How many entries a preview looks up one by one when the list does not show them: more would slow the question down. */
const MOST_LOOKED_UP = 20
/** How many names each group shows; the rest are counted. */
const MOST_NAMED = 10

type Preview = { state: 'none' } | { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; restore: BookRestore; names: ReadonlyMap<string, string> }

interface Props {
  open: boolean
  onClose: () => void
  /** The names of entries the list shows, by id: most of what a preview names is among them. */
  known: ReadonlyMap<string, string>
  changed: Changed
}

/**
 * Puts the whole book back as it was at a time: the person picks the time, sees what would change
 * (the server's preview, with names), and only then confirms. The server does it in one go, and
 * each entry's change is an ordinary new version, so even this can be undone the same way.
 */
export function UndoChanges({ open, onClose, known, changed }: Props) {
  const [choice, setChoice] = useState<Choice | null>(null)
  const [custom, setCustom] = useState('')
  const [preview, setPreview] = useState<Preview>({ state: 'none' })
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState('')
  const generation = useRef(0)

  useEffect(() => {
    if (!open) return
    setChoice(null)
    setCustom('')
    setPreview({ state: 'none' })
    setProblem('')
  }, [open])

  useEffect(() => {
    const at = timeOf(choice, custom)
    const current = ++generation.current
    if (at === null) {
      setPreview({ state: 'none' })
      return
    }
    setPreview({ state: 'loading' })
    restoreBook(at, true)
      .then(async (restore) => ({ restore, names: await namesOf(restore, known) }))
      .then(
        ({ restore, names }) => {
          if (current === generation.current) setPreview({ state: 'ready', restore, names })
        },
        (error: unknown) => {
          // A 400 names the window of history kept: its detail says it best.
          if (current === generation.current) setPreview({ state: 'failed', message: messageOf(error) })
        },
      )
    // The list's names are read when a preview comes; a preview need not come again when they change.
  }, [choice, custom])

  const confirm = async () => {
    if (preview.state !== 'ready') return
    setBusy(true)
    setProblem('')
    try {
      // The preview's own time, to the millisecond: what was shown is what is done, however long the person looked.
      const done = await restoreBook(preview.restore.at, false)
      onClose()
      changed(doneText(done))
    } catch (error) {
      setProblem(messageOf(error))
    } finally {
      setBusy(false)
    }
  }

  const nothingToDo = preview.state === 'ready' && total(preview.restore) === 0

  return (
    <ConfirmDialog
      open={open}
      title="Undo changes"
      confirmLabel="Undo changes"
      busy={busy || preview.state !== 'ready' || nothingToDo}
      onConfirm={() => void confirm()}
      onCancel={onClose}
    >
      <fieldset class="choice">
        <legend>Put the whole book back as it was</legend>
        {CHOICES.map(([value, label]) => (
          <label key={value}>
            <input
              type="radio"
              name="undo-since"
              value={value}
              checked={choice === value}
              onChange={() => {
                setChoice(value)
              }}
            />
            {label}
          </label>
        ))}
      </fieldset>
      {choice === 'custom' && (
        <div class="field">
          <label for="undo-custom">Date and time</label>
          <input
            id="undo-custom"
            type="datetime-local"
            step="1"
            value={custom}
            onInput={(event) => {
              setCustom(event.currentTarget.value)
            }}
          />
        </div>
      )}
      <div class="restore-preview" aria-live="polite">
        {preview.state === 'loading' && <p>Finding what changed since then…</p>}
        {preview.state === 'failed' && <p class="error">{preview.message}</p>}
        {preview.state === 'ready' && <PreviewText restore={preview.restore} names={preview.names} />}
      </div>
      {problem !== '' && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </ConfirmDialog>
  )
}

function PreviewText({ restore, names }: { restore: BookRestore; names: ReadonlyMap<string, string> }) {
  if (total(restore) === 0) return <p>Nothing changed since {exactTime(restore.at)}.</p>
  const groups: [string, string[]][] = [
    ['Get their content of then back', restore.restored],
    ['Created since, so moved to the trash', restore.trashed],
    ['Deleted since, so brought back', restore.recreated],
  ]
  return (
    <>
      <p>Since {exactTime(restore.at)}:</p>
      <ul>
        {groups
          .filter(([, ids]) => ids.length > 0)
          .map(([what, ids]) => (
            <li key={what}>
              {what} ({ids.length.toLocaleString()}): {namedList(ids, names)}
            </li>
          ))}
      </ul>
    </>
  )
}

/** What the server is asked for: a relative choice as its own word, a custom local time as ISO 8601; null until there is one. */
function timeOf(choice: Choice | null, custom: string): RestoreTime | null {
  if (choice === null) return null
  if (choice !== 'custom') return choice
  // A datetime-local value has no zone: Date reads it as the browser's local time, as the person meant it.
  const time = new Date(custom)
  return custom === '' || Number.isNaN(time.getTime()) ? null : time.toISOString()
}

/**
 * The names of the entries a preview names: from the list where it shows them, else from the
 * entry itself (a few) or the trash (for those deleted since); an id stands in for the rest.
 */
async function namesOf(restore: BookRestore, known: ReadonlyMap<string, string>): Promise<ReadonlyMap<string, string>> {
  const names = new Map(known)
  const unknown = [...restore.restored, ...restore.trashed].filter((id) => !names.has(id)).slice(0, MOST_LOOKED_UP)
  const lookups = unknown.map((id) =>
    fetchEntry(id).then(
      ({ entry }) => {
        names.set(id, entry.full_name)
      },
      () => undefined,
    ),
  )
  if (restore.recreated.some((id) => !names.has(id))) {
    lookups.push(
      fetchTrash(trashPagePath('', 200)).then(
        ({ entries }) => {
          for (const { id, entry } of entries) if (!names.has(id)) names.set(id, entry.full_name)
        },
        () => undefined,
      ),
    )
  }
  await Promise.all(lookups)
  return names
}

function namedList(ids: string[], names: ReadonlyMap<string, string>): string {
  const named = ids.slice(0, MOST_NAMED).map((id) => names.get(id) ?? id)
  return ids.length > MOST_NAMED ? `${named.join(', ')} and ${(ids.length - MOST_NAMED).toLocaleString()} more` : named.join(', ')
}

function total({ restored, trashed, recreated }: BookRestore): number {
  return restored.length + trashed.length + recreated.length
}

function doneText(done: BookRestore): string {
  const parts = [
    done.restored.length > 0 ? `restored ${done.restored.length.toLocaleString()}` : '',
    done.trashed.length > 0 ? `moved ${done.trashed.length.toLocaleString()} to the trash` : '',
    done.recreated.length > 0 ? `brought back ${done.recreated.length.toLocaleString()}` : '',
  ].filter((part) => part !== '')
  return `Undid the changes since ${exactTime(done.at)}: ${parts.length === 0 ? 'nothing had changed' : parts.join(', ')}.`
}
