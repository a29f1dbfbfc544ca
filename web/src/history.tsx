import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, fetchHistory, restoreVersion, type ChangeSource, type EntryVersion } from './api.js'
import { describeChanges } from './changes.js'
import { exactTime, timeAgo } from './format.js'
import { messageOf } from './messages.js'

const THROUGH: Record<ChangeSource, string> = {
  api: 'through the JSON API',
  import: 'by an import',
  carddav: 'from a phone or app (CardDAV)',
  restore: 'by a restore',
}

interface Props {
  id: string
  /** The entry's current ETag: a restore is sent on condition that the entry is still at it. */
  etag: string
  /** Says what a restore did; the entry is read again. */
  changed: (message: string) => void
  /** Reads the entry again, after it changed elsewhere. */
  reload: () => void
}

type Loaded = { state: 'closed' } | { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; versions: EntryVersion[]; next: string | null }

/**
 * The entry's versions, newest first, behind a disclosure (most visits do not need them, so they
 * are read when opened): when and through what each was made, what it changed, and a way back
 * to each earlier one.
 */
export function History({ id, etag, changed, reload }: Props) {
  const [open, setOpen] = useState(false)
  const [loaded, setLoaded] = useState<Loaded>({ state: 'closed' })
  const [loadingMore, setLoadingMore] = useState(false)
  const [restoring, setRestoring] = useState<number | null>(null)
  const [problem, setProblem] = useState('')
  /** Answers for an older ETag are dropped when they arrive late. */
  const generation = useRef(0)

  useEffect(() => {
    if (!open) return
    const current = ++generation.current
    setLoaded((shown) => (shown.state === 'ready' ? shown : { state: 'loading' }))
    fetchHistory(id).then(
      ({ versions, next }) => {
        if (current === generation.current) setLoaded({ state: 'ready', versions, next })
      },
      (error: unknown) => {
        if (current === generation.current) setLoaded({ state: 'failed', message: messageOf(error) })
      },
    )
  }, [open, id, etag])

  const loadOlder = () => {
    if (loaded.state !== 'ready' || loaded.next === null) return
    const current = generation.current
    setLoadingMore(true)
    fetchHistory(id, loaded.next)
      .then(
        ({ versions, next }) => {
          if (current === generation.current) setLoaded({ state: 'ready', versions: [...loaded.versions, ...versions], next })
        },
        (error: unknown) => {
          setProblem(messageOf(error))
        },
      )
      .finally(() => {
        setLoadingMore(false)
      })
  }

  const restore = (version: number) => {
    setRestoring(version)
    setProblem('')
    restoreVersion(id, version, etag).then(
      () => {
        setRestoring(null)
        changed(`Restored version ${String(version)}.`)
      },
      (error: unknown) => {
        setRestoring(null)
        if (error instanceof ApiError && error.status === 412) {
          setProblem('This entry changed meanwhile, so nothing was restored. It is shown as it is now: restore again if you still mean to.')
          reload()
        } else {
          setProblem(messageOf(error))
        }
      },
    )
  }

  return (
    <section class="history" aria-labelledby="history-title">
      <h2 id="history-title">
        <button
          type="button"
          class="disclosure"
          aria-expanded={open}
          aria-controls="history-versions"
          onClick={() => {
            setOpen(!open)
          }}
        >
          History
        </button>
      </h2>
      <div id="history-versions" hidden={!open}>
        {problem !== '' && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        {loaded.state === 'loading' && <p aria-live="polite">Loading the history…</p>}
        {loaded.state === 'failed' && <p class="error">{loaded.message}</p>}
        {loaded.state === 'ready' && (
          <>
            <ol class="versions" aria-label="Versions, newest first">
              {loaded.versions.map((version, index) => (
                <Version
                  key={version.version}
                  version={version}
                  changes={describeChanges(version, loaded.versions[index + 1])}
                  restoring={restoring}
                  onRestore={restore}
                />
              ))}
            </ol>
            {loaded.next !== null && (
              <button type="button" class="button" onClick={loadOlder} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Older versions'}
              </button>
            )}
          </>
        )}
      </div>
    </section>
  )
}

function Version({ version, changes, restoring, onRestore }: { version: EntryVersion; changes: string[]; restoring: number | null; onRestore: (version: number) => void }) {
  const number = String(version.version)
  return (
    <li class="version">
      <h3 class="version-title">
        Version {number}
        {version.current && <span class="chip">Current</span>}
      </h3>
      <p class="version-when">
        Made <time dateTime={version.changed_at}>{timeAgo(version.changed_at)}</time> ({exactTime(version.changed_at)}) {THROUGH[version.source]}
        {version.deleted && version.replaced_at !== undefined && <>; deleted {timeAgo(version.replaced_at)} ({exactTime(version.replaced_at)})</>}
      </p>
      {changes.length === 0 ? (
        <p class="info">Nothing in the entry changed.</p>
      ) : (
        <ul class="version-changes" aria-label={`What version ${number} changed`}>
          {changes.map((change) => (
            <li key={change}>{capitalized(change)}</li>
          ))}
        </ul>
      )}
      {!version.current && (
        <button
          type="button"
          class="button"
          disabled={restoring !== null}
          onClick={() => {
            onRestore(version.version)
          }}
        >
          {restoring === version.version ? 'Restoring…' : 'Restore this version'}
          <span class="visually-hidden"> (version {number})</span>
        </button>
      )}
    </li>
  )
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
